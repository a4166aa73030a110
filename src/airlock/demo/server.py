"""The server the demo talks to: one already running at ``$AIRLOCK_URL``, or one it starts
(``airlock server`` in a process of its own, its log in the demo's folder)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from airlock.demo.errors import DemoError

DEFAULT_PORT = 5080
_START_TIMEOUT = 60.0


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def port_of(url: str) -> int | None:
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    return parts.port or 80


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise DemoError("no free loopback port for the server")


def start(env: dict[str, str], port: int, log: Path, detach: bool) -> int:
    """Start ``airlock server`` on 127.0.0.1:port; returns its pid once it answers.

    ``detach`` puts it in a session of its own, so that it outlives the demo (``--keep``).
    """
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airlock", "server", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if answers(url):
            return process.pid
        if process.poll() is not None:
            raise DemoError(f"airlock server exited with status {process.returncode}; see {log}")
        time.sleep(0.1)
    process.terminate()
    raise DemoError(f"airlock server did not answer at {url} within {_START_TIMEOUT:g} s")


def stop(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (a kept server from an earlier demo)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return done == 0
