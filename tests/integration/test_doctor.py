"""``airlock doctor`` on this machine, through the real CLI: CI installs podman and friends
(scripts/bootstrap), so every check passes; without podman on PATH it fails and says why."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import airlock_executable

pytestmark = pytest.mark.podman


def doctor(home: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [*airlock_executable(), "doctor", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_this_machine_is_ready(tmp_path: Path) -> None:
    done = doctor(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = {c["check"]: c for c in json.loads(done.stdout)}
    assert {"podman", "runc", "network", "ulimits", "storage"} <= set(checks)
    assert checks["podman"]["status"] == "ok"
    assert checks["storage"]["status"] in ("ok", "warning")
    assert "runc" in checks["storage"]["detail"]


def test_without_podman_it_fails_and_says_what_to_run(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = doctor(tmp_path / "home", path=str(empty))
    assert done.returncode == 1
    checks = {c["check"]: c for c in json.loads(done.stdout)}
    assert checks["podman"]["status"] == "failed"
    assert "scripts/bootstrap" in checks["podman"]["fix"]
