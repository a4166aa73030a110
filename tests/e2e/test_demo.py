"""``airlock demo``, the README's main job, as a user runs it (a real server it starts, real
git, podman and HTTP): the seed walkthrough to its end, then nothing left behind; and
``--keep`` leaving everything running until ``--clean``.

What the demo itself checks (and exits non-zero without): each run's trigger and status,
the gate's log, the run tables being the seed's sequence and nothing else, the page colour
over HTTP at every stage. The tests check its exit status, what it printed, and what is
left on the machine afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from airlock.demo.console import strip_ansi
from airlock.engine import engine_env
from tests.support.engine import reset_engine
from tests.support.servers import airlock_executable, free_port, running_airlock

pytestmark = pytest.mark.podman

COLORS = "the page went Blue -> Orange -> Orange -> Green -> Green -> Orange"
RUN_ROWS = [
    # (registry's table, run id, task, status, trigger) as list-runs -o table prints them
    ("publicregistry", "ca1", "node-public", "Succeeded", "Manual"),
    ("publicregistry", "ca2", "node-public", "Succeeded", "Commit"),
    ("publicregistry", "ca4", "node-public", "Succeeded", "Commit"),
    ("contosobaseartifacts", "ca2", "base-import-node", "Succeeded", "Image Update"),
    ("contosobaseartifacts", "ca3", "base-import-node", "Failed", "Image Update"),
    ("contoso", "ca3", "hello-world", "Succeeded", "Manual"),
    ("contoso", "ca5", "hello-world", "Succeeded", "Image Update"),
]


def demo(tmp_path: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIRLOCK_HOME": str(tmp_path / "home"),
        "AIRLOCK_CONFIG_DIR": str(tmp_path / "config"),
        "AIRLOCK_URL": f"http://127.0.0.1:{port}",
        "TMPDIR": str(tmp_path),
    }
    return subprocess.run([*airlock_executable(), "demo", *args], env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def containers(home: Path) -> list[str]:
    env = {**os.environ, **engine_env(home)}
    listed = subprocess.run(["podman", "ps", "--all", "--quiet"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    return listed.stdout.split()


def demo_folders(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("airlock-demo-*"))


def test_the_demo_runs_the_walkthrough_and_leaves_nothing(tmp_path: Path) -> None:
    port = free_port()
    try:
        done = demo(tmp_path, port)
        out = strip_ansi(done.stdout)
        assert done.returncode == 0, out[-4000:] + done.stderr
        assert COLORS in out
        assert "ERROR: Invalid Color: Red" in out
        assert "failed to run step ID: validate-base-image: exit status 1" in out
        assert "each registry's runs are the seed's sequence, and nothing else" in out
        for registry, run_id, task, status, trigger in RUN_ROWS:
            row = rf"^{run_id}\s+{task}\s+linux\s+{status}\s+{trigger}\s"
            assert re.search(row, out, re.MULTILINE), f"{registry}: no row {row}"
        # Every phase is timed, and the commit-to-page figures are printed.
        assert re.search(r"^\s+13\. Run tables\s+\d+\.\d s$", out, re.MULTILINE), out[-2000:]
        assert re.search(r"commit Green to the page showing it: \d+\.\d s", out)
        # Secrets print as the seed's variables or ***, never as values.
        assert "--value $REGISTRY_DOCKERHUB_PASSWORD" in out
        assert "# REGISTRY_PUBLIC_PASSWORD=***" in out
        assert not re.search(r"--registry-password \S*[A-Za-z0-9+/]{20}", out)

        # Nothing left: the server stopped, its containers and the demo's files gone.
        assert not answers(f"http://127.0.0.1:{port}/api/health")
        assert containers(tmp_path / "home") == []
        assert demo_folders(tmp_path) == []
    finally:
        reset_engine(tmp_path / "home")


def test_keep_leaves_it_running_until_clean(tmp_path: Path) -> None:
    port = free_port()
    try:
        kept = demo(tmp_path, port, "--keep")
        out = strip_ansi(kept.stdout)
        assert kept.returncode == 0, out[-4000:] + kept.stderr
        assert "airlock demo --clean" in out
        url = re.findall(r"the app was at (http://\S+)", out)[-1]
        with urllib.request.urlopen(url, timeout=5) as response:
            assert 'id="background-color">Orange<' in response.read().decode()
        assert answers(f"http://127.0.0.1:{port}/api/health")
        assert len(demo_folders(tmp_path)) == 1

        again = demo(tmp_path, port)
        assert again.returncode == 1
        assert "airlock demo --clean" in again.stderr, again.stderr

        cleaned = demo(tmp_path, port, "--clean")
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert not answers(f"http://127.0.0.1:{port}/api/health")
        assert not answers(url)
        assert demo_folders(tmp_path) == []
        assert not (tmp_path / "config" / "demo.json").exists()
        assert containers(tmp_path / "home") == []
    finally:
        demo(tmp_path, port, "--clean")
        reset_engine(tmp_path / "home")


def test_a_server_with_the_walkthroughs_names_is_refused_untouched(tmp_path: Path) -> None:
    """Against a running server that already has a registry of the walkthrough, the demo
    stops before making anything, and says how to clear the name."""
    with running_airlock(tmp_path / "home") as server:
        env = {**server.env(), "TMPDIR": str(tmp_path)}

        def refused(what: str, group: str) -> None:
            before = server.cli("group", "list", "-o", "json").stdout
            done = subprocess.run([*airlock_executable(), "demo"], env=env, capture_output=True,
                                  text=True, timeout=120, check=False)  # fmt: skip
            assert done.returncode == 1, done.stdout + done.stderr
            assert f"already has {what}" in done.stderr, done.stderr
            assert f"airlock group delete -n {group} --yes" in done.stderr
            assert "Using the Airlock server at" in done.stdout
            # Nothing made, and nothing that was there removed.
            assert server.cli("group", "list", "-o", "json").stdout == before
            assert demo_folders(tmp_path) == []

        server.cli("group", "create", "-n", "contoso-rg")
        server.cli("acr", "create", "-g", "contoso-rg", "-n", "contoso")
        refused("a registry named contoso", "contoso-rg")
        assert server.cli("acr", "show", "-n", "contoso", check=False).returncode == 0
        server.cli("group", "delete", "-n", "contoso-rg", "--yes")
        server.cli("group", "create", "-n", "hello-world-aci-rg")
        refused("a resource group named hello-world-aci-rg", "hello-world-aci-rg")
