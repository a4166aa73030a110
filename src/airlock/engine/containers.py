"""Running the engine's command line (podman, or docker) with its output as lines.

A step's container can run for minutes and print a great deal: its output is read line by
line as it comes (``stream``), so that a run's log can be followed while it goes on. A
command stopped for a timeout or a cancellation has its whole process group killed, after
``on_stop`` (which the caller uses to remove the container: killing the attached client does
not stop a container).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from airlock.engine.errors import EngineError, EngineNotFoundError

# Printed by aardvark-dns (podman's DNS on a bridge network) when there is no syslog socket;
# it says nothing about the step.
NOISE = frozenset({"failed to connect to syslog: Initialization"})
_KILL_GRACE = 5.0
_POLL = 0.05


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a streamed command ended. ``exit_code`` is None when it was stopped."""

    exit_code: int | None
    timed_out: bool = False
    canceled: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True, slots=True)
class Captured:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def reason(self) -> str:
        """The last lines of stderr (or stdout), for an error message."""
        text = (self.stderr or self.stdout).strip()
        lines = [line for line in text.splitlines() if line.strip() and line not in NOISE]
        return " / ".join(lines[-3:])[:600] or f"exit status {self.exit_code}"


# What the engine inherits from this process: nothing else (a bare `--build-arg NAME` reads
# the engine's environment, and this process may hold the server's settings).
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "XDG_RUNTIME_DIR", "USER")


class ContainerEngine:
    """The engine's command line with Airlock's configuration (``engine_env``) and no other
    variable of this process."""

    def __init__(self, env: Mapping[str, str], binary: str = "podman") -> None:
        inherited = {k: os.environ[k] for k in _INHERITED if k in os.environ}
        self.env = {**inherited, **env}
        self.binary = binary

    def with_env(self, extra: Mapping[str, str]) -> ContainerEngine:
        return ContainerEngine({**self.env, **extra}, self.binary)

    def capture(
        self, args: Sequence[str], *, timeout: float = 120.0, stdin: bytes | None = None
    ) -> Captured:
        """Run to the end and keep its output (for short commands: tag, inspect, rm)."""
        try:
            done = subprocess.run(
                [self.binary, *args],
                env=self.env,
                input=stdin,
                capture_output=True,
                timeout=timeout,
                check=False,
                stdin=None if stdin is not None else subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise EngineNotFoundError(
                f"{self.binary} is not installed; run scripts/bootstrap or 'airlock doctor'"
            ) from None
        except subprocess.TimeoutExpired:
            raise EngineError(
                f"'{self.binary} {args[0] if args else ''}' did not finish within {timeout:g} s"
            ) from None
        return Captured(
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )

    def stream(
        self,
        args: Sequence[str],
        on_line: Callable[[str], None],
        *,
        timeout: float,
        cancel: threading.Event | None = None,
        on_stop: Callable[[], None] | None = None,
        cwd: Path | None = None,
    ) -> Outcome:
        """Run ``args``, giving each line of stdout and stderr (merged) to ``on_line``.

        Stopped after ``timeout`` seconds or when ``cancel`` is set: ``on_stop`` first, then
        SIGTERM to the process group, SIGKILL after a grace period.
        """
        try:
            process = subprocess.Popen(
                [self.binary, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=cwd,
            )
        except FileNotFoundError:
            raise EngineNotFoundError(
                f"{self.binary} is not installed; run scripts/bootstrap or 'airlock doctor'"
            ) from None
        reader = threading.Thread(target=_pump, args=(process, on_line), daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout
        timed_out = canceled = False
        while process.poll() is None:
            if cancel is not None and cancel.is_set():
                canceled = True
            elif time.monotonic() >= deadline:
                timed_out = True
            if timed_out or canceled:
                _stop(process, on_stop)
                break
            try:
                process.wait(_POLL)
            except subprocess.TimeoutExpired:
                continue
        reader.join(_KILL_GRACE)
        if timed_out or canceled:
            return Outcome(None, timed_out=timed_out, canceled=canceled)
        return Outcome(process.returncode)


def _pump(process: subprocess.Popen[bytes], on_line: Callable[[str], None]) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        # A progress bar rewrites its line with \r: keep what it shows last.
        text = text.rsplit("\r", 1)[-1]
        if text not in NOISE:
            on_line(text)
    process.stdout.close()


def _stop(process: subprocess.Popen[bytes], on_stop: Callable[[], None] | None) -> None:
    if on_stop is not None:
        # Stopping goes on whatever the clean-up did.
        with contextlib.suppress(Exception):
            on_stop()
    for sig, grace in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, _KILL_GRACE)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
