"""Running ``airlock`` and ``git`` as a user would, printing each command first.

Secret values never appear on a printed line: an argument that holds one is a ``Hidden``
that prints as its shell variable (``$REGISTRY_DOCKERHUB_PASSWORD``), as the seed writes it,
and the console masks the value in any output.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock.demo.console import Console
from airlock.demo.errors import DemoError

_TIMEOUT = 900.0


@dataclass(frozen=True)
class Hidden:
    """A secret argument: ``value`` is passed, ``shown`` is printed."""

    value: str
    shown: str


Arg = str | Hidden


def _shown(args: tuple[Arg, ...]) -> str:
    return " ".join(a.shown if isinstance(a, Hidden) else shlex.quote(a) for a in args)


def _values(args: tuple[Arg, ...]) -> list[str]:
    return [a.value if isinstance(a, Hidden) else a for a in args]


class AirlockCLI:
    """The ``airlock`` command of this installation, talking to one server."""

    def __init__(self, console: Console, env: dict[str, str]) -> None:
        self.console = console
        self.env = env

    def run(self, *args: Arg, show_output: bool = True, check: bool = True) -> str:
        """Print the command, run it, print its output; the output is returned."""
        self.console.command("airlock " + _shown(args))
        done = self._call(args, merged=True)  # progress on stderr stays in its place
        if show_output:
            self.console.output(done.stdout)
        if check and done.returncode != 0:
            raise DemoError(f"'airlock {_shown(args)}' failed with exit status {done.returncode}")
        return done.stdout

    def capture(self, variable: str, *args: Arg, secret: bool = False) -> str:
        """``VARIABLE=$(airlock ...)``: the value of a command, printed (or masked) as the
        shell would set it."""
        self.console.command(f"{variable}=$(airlock {_shown(args)})")
        done = self._call(args)
        self.console.output(done.stderr)
        if done.returncode != 0:
            raise DemoError(f"'airlock {_shown(args)}' failed with exit status {done.returncode}")
        value = done.stdout.strip()
        if secret:
            self.console.hide(value)
        self.console.note(f"{variable}={value}")
        return value

    def json(self, *args: Arg) -> Any:
        """A quiet query (not printed): the demo looking, not the user typing."""
        done = self._call((*args, "-o", "json"))
        if done.returncode != 0:
            raise DemoError(
                f"'airlock {_shown(args)}' failed with exit status {done.returncode}: "
                f"{self.console.mask(done.stderr.strip())}"
            )
        return json.loads(done.stdout) if done.stdout.strip() else None

    def succeeds(self, *args: Arg) -> bool:
        return self._call(args).returncode == 0

    def _call(
        self, args: tuple[Arg, ...], merged: bool = False
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [sys.executable, "-m", "airlock", *_values(args)],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"'airlock {_shown(args)}' did not end within {_TIMEOUT:g} s") from None


class Git:
    """git with a fixed identity and none of the user's configuration."""

    def __init__(self, console: Console, scratch: Path) -> None:
        self.console = console
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(scratch),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Airlock Demo",
            "GIT_AUTHOR_EMAIL": "demo@airlock.invalid",
            "GIT_COMMITTER_NAME": "Airlock Demo",
            "GIT_COMMITTER_EMAIL": "demo@airlock.invalid",
        }

    def run(self, cwd: Path, *args: str, show: bool = False) -> str:
        if show:
            self.console.command("git " + " ".join(shlex.quote(a) for a in args))
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if show:
            self.console.output(done.stdout + done.stderr)
        if done.returncode != 0:
            raise DemoError(
                f"git {' '.join(args)} in {cwd} failed: {(done.stdout + done.stderr).strip()}"
            )
        return done.stdout
