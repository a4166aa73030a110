"""Calls to a test server that fail the test unless they succeed: the ``airlock`` CLI as a
subprocess (``ok``, ``cli_json``) and the REST API (``api_ok``)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support.servers import Airlock


def ok(server: Airlock, *args: str) -> subprocess.CompletedProcess[str]:
    """``airlock ARGS`` against ``server``; fails the test with its output unless it exits 0."""
    done = server.cli(*args, check=False)
    assert done.returncode == 0, f"airlock {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def cli_json(server: Airlock, *args: str) -> Any:
    """``airlock ARGS -o json``, checked as ``ok`` does; the decoded output (None if empty)."""
    done = ok(server, *args, "-o", "json")
    return json.loads(done.stdout) if done.stdout.strip() else None


def api_ok(
    server: Airlock, method: str, path: str, body: object = None, *, token: str | None = None
) -> Any:
    """One REST API call (as the owner unless ``token`` names another session); fails the test
    unless the status is 2xx. The decoded answer."""
    status, answer = server.api(method, path, body, token=token)
    assert 200 <= status < 300, f"{method} {path}: {status} {answer}"
    return answer
