"""Podman, buildah and skopeo run with Airlock's own configuration from ``engine_env``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.engine import EnginePaths, engine_env, probe

pytestmark = pytest.mark.podman

BUSYBOX = Path("/bin/busybox")
CONTAINERFILE = """\
FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "sh", "-c", "echo hello from airlock; ulimit -n"]
"""


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "airlock-home"
    yield home
    shutil.rmtree(EnginePaths.of(home).run_dir, ignore_errors=True)


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {**os.environ, **engine_env(home)}


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "context"
    folder.mkdir()
    shutil.copy2(BUSYBOX, folder / "busybox")
    (folder / "Containerfile").write_text(CONTAINERFILE)
    return folder


def test_podman_builds_and_runs_a_busybox_image(env: dict[str, str], context: Path) -> None:
    run(env, "podman", "build", "--quiet", "--tag", "localhost/hello:v1", str(context))
    done = run(env, "podman", "run", "--rm", "--network", "none", "localhost/hello:v1")
    lines = done.stdout.splitlines()
    assert lines[0] == "hello from airlock"
    assert int(lines[1]) <= 20000  # default_ulimits applied, within the hard limit


def test_buildah_builds_into_the_same_store(env: dict[str, str], context: Path) -> None:
    run(env, "buildah", "bud", "--quiet", "--tag", "localhost/hello:bud", str(context))
    images = run(env, "podman", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "localhost/hello:bud" in images.split()


def test_podman_uses_the_store_under_the_airlock_home(env: dict[str, str], home: Path) -> None:
    info = json.loads(run(env, "podman", "info", "--format", "json").stdout)
    paths = EnginePaths.of(home)
    assert info["store"]["graphRoot"] == str(paths.graphroot)
    assert info["store"]["runRoot"] == str(paths.runroot)
    assert info["store"]["graphDriverName"] == probe(home).storage_driver
    assert info["host"]["ociRuntime"]["name"] == "runc"
    assert info["registries"].get("search", []) in ([], None)


def test_engine_env_points_at_airlock_files_only(home: Path) -> None:
    found = engine_env(home)
    assert set(found) == {
        "CONTAINERS_CONF",
        "CONTAINERS_STORAGE_CONF",
        "CONTAINERS_REGISTRIES_CONF",
        "REGISTRY_AUTH_FILE",
    }
    for value in found.values():
        assert Path(value).is_relative_to(home)
        assert Path(value).is_file()
    assert "[[registry]]" not in Path(found["CONTAINERS_REGISTRIES_CONF"]).read_text()
    assert Path(found["REGISTRY_AUTH_FILE"]).stat().st_mode & 0o077 == 0


def test_insecure_registries_get_their_own_registries_conf(home: Path) -> None:
    plain = engine_env(home)["CONTAINERS_REGISTRIES_CONF"]
    marked = engine_env(home, insecure_registries=["127.0.0.1:5001"])["CONTAINERS_REGISTRIES_CONF"]
    assert plain != marked
    assert 'location = "127.0.0.1:5001"' in Path(marked).read_text()


def test_auth_file_can_be_chosen_per_use(home: Path, tmp_path: Path) -> None:
    auth = tmp_path / "run-1" / "auth.json"
    assert engine_env(home, auth_file=auth)["REGISTRY_AUTH_FILE"] == str(auth)
    assert json.loads(auth.read_text()) == {"auths": {}}


def test_probe_is_cached(home: Path) -> None:
    first = probe(home)
    cache = EnginePaths.of(home).probe_cache
    stamp = cache.stat().st_mtime_ns
    assert probe(home) == first
    assert cache.stat().st_mtime_ns == stamp
    assert first.storage_driver in {"overlay", "vfs"}
    assert first.versions["podman"]
    assert Path(first.runc).exists()


def test_a_stale_cache_is_probed_again(home: Path) -> None:
    first = probe(home)
    cache = EnginePaths.of(home).probe_cache
    data = json.loads(cache.read_text())
    data["runc"] = "/nonexistent/runc"
    cache.write_text(json.dumps(data))
    assert probe(home) == first


def test_run_folder_is_emptied_after_a_reboot(home: Path) -> None:
    engine_env(home)
    paths = EnginePaths.of(home)
    leftover = paths.run_dir / "storage" / "stale"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_text("from an earlier boot")
    (paths.run_dir / "boot_id").write_text("an-earlier-boot\n")
    engine_env(home)
    assert not leftover.exists()
    engine_env(home)  # same boot: nothing more happens
    assert (paths.run_dir / "boot_id").read_text().strip() != "an-earlier-boot"
