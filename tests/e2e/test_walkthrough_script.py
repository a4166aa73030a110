"""``examples/walkthrough.sh``, the seed walkthrough as a shell script of ``airlock`` commands,
run whole as a user runs it: against a fresh server, with ``airlock`` on PATH (real git,
podman, and the instance's page over HTTP).

The script checks what the seed says (each watched run's trigger and status, the gate's log,
the page colour at every look) and exits non-zero otherwise; the test checks its exit status,
what it printed, and that its clean-up left no resource group and no work folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.demo.console import strip_ansi
from tests.support.engine import reset_engine
from tests.support.servers import REPO_ROOT, Airlock, running_airlock

pytestmark = pytest.mark.podman

SCRIPT = REPO_ROOT / "examples" / "walkthrough.sh"
PAGE = re.compile(r"^The page at (\S+) has a (\w+) background$", re.MULTILINE)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Airlock]:
    home = tmp_path / "home"
    try:
        with running_airlock(home) as running:
            yield running
    finally:
        reset_engine(home)


def script_env(server: Airlock, tmp_path: Path) -> dict[str, str]:
    env = server.env()
    # The venv's bin folder, where 'airlock' is installed, first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp_path)  # the script's work folder goes here
    env.pop("WORK", None)
    env.pop("AIRLOCK", None)
    return env


def test_the_script_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_walkthrough_script_runs_the_seed_to_its_end(server: Airlock, tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(SCRIPT)], env=script_env(server, tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    out = strip_ansi(done.stdout)
    err = strip_ansi(done.stderr)
    assert done.returncode == 0, f"exit {done.returncode}\n{out[-6000:]}\n{err[-3000:]}"

    # The page at each look: the first deploy, the questionable change, the switch to the
    # gated registry (still the Orange it imported), the valid change, and after the Red one.
    looks = PAGE.findall(out)
    assert [color for _, color in looks] == ["Blue", "Orange", "Orange", "Green", "Green"], out
    assert len({url for url, _ in looks}) == 1, looks  # replaced in place, at one address
    assert "the page went Blue -> Orange -> Orange -> Green -> Green" in out

    # The watched runs, as the seed shows them.
    for line in (
        "OK: node-public (Commit): Succeeded",
        "OK: hello-world (Image Update): Succeeded",
        "OK: base-import-node (Image Update): Succeeded",
        "OK: base-import-node (Image Update): Failed",
        "OK: hello-world did not run: it keeps the last validated base image",
    ):
        assert line in out, line

    # The gate's log, as the seed quotes it.
    assert "BACKGROUND_COLOR: Red" in out
    assert "ERROR: Invalid Color: Red" in out
    assert "failed to run step ID: validate-base-image: exit status 1" in out

    # The clean-up: no group left on the server, no work folder left behind.
    groups = server.cli("group", "list", "-o", "json")
    assert json.loads(groups.stdout) == []
    assert list(tmp_path.glob("airlock-walkthrough.*")) == []
