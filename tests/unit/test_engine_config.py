"""The pure parts of Airlock's engine configuration: rendering, ulimit clamping, probe model."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from airlock.common.paths import default_home
from airlock.engine.config import (
    DESIGNED_ULIMITS,
    EnginePaths,
    clamp_ulimits,
    render_containers_conf,
    render_registries_conf,
    render_storage_conf,
    short_run_dir,
    subnet_block,
    toml_str,
)
from airlock.engine.probe import EngineProbe, parse_version, storage_candidates

PATHS = EnginePaths(root=Path("/srv/airlock home/engine"), run_dir=Path("/run/airlock/0123456789"))


def test_designed_ulimits_pass_when_the_host_allows_them() -> None:
    assert clamp_ulimits(DESIGNED_ULIMITS, {"nofile": 1048576, "nproc": None}) == [
        "nofile=20000:20000",
        "nproc=4096:4096",
    ]


def test_ulimits_are_lowered_to_the_hard_limits() -> None:
    assert clamp_ulimits(DESIGNED_ULIMITS, {"nofile": 1024, "nproc": 512}) == [
        "nofile=1024:1024",
        "nproc=512:512",
    ]


def test_soft_limit_never_exceeds_the_clamped_hard_limit() -> None:
    assert clamp_ulimits({"nofile": (8000, 20000)}, {"nofile": 4096}) == ["nofile=4096:4096"]
    assert clamp_ulimits({"nofile": (8000, 20000)}, {}) == ["nofile=8000:20000"]


def test_containers_conf_selects_runc_and_keeps_state_in_the_engine_folder() -> None:
    text = render_containers_conf(
        runc="/usr/sbin/runc", ulimits=["nofile=20000:20000", "nproc=4096:4096"], paths=PATHS
    )
    conf = tomllib.loads(text)
    assert conf["containers"]["default_ulimits"] == ["nofile=20000:20000", "nproc=4096:4096"]
    engine = conf["engine"]
    assert engine["runtime"] == "runc"
    assert engine["runtimes"]["runc"] == ["/usr/sbin/runc"]
    for key in ("image_copy_tmp_dir", "events_logfile_path"):
        assert engine[key].startswith("/srv/airlock home/engine/"), key
    # podman 4.3 reads it in [network] only: anywhere else, networks go to /etc/containers.
    assert conf["network"]["network_config_dir"] == "/srv/airlock home/engine/networks"
    [pool] = conf["network"]["default_subnet_pools"]
    assert pool["size"] == 24 and pool["base"].startswith("10.") and pool["base"].endswith("/18")
    other = EnginePaths(root=PATHS.root / "other", run_dir=PATHS.run_dir)
    assert subnet_block(other) != subnet_block(PATHS)  # another home, another block
    assert "network_config_dir" not in engine
    assert engine["tmp_dir"] == "/run/airlock/0123456789/libpod"


def test_storage_conf_for_each_driver() -> None:
    conf = tomllib.loads(
        render_storage_conf(driver="vfs", graphroot=PATHS.graphroot, runroot=PATHS.runroot)
    )
    assert conf == {
        "storage": {
            "driver": "vfs",
            "graphroot": "/srv/airlock home/engine/storage",
            "runroot": "/run/airlock/0123456789/storage",
        }
    }
    fuse = tomllib.loads(
        render_storage_conf(
            driver="overlay",
            graphroot=PATHS.graphroot,
            runroot=PATHS.runroot,
            mount_program="/usr/bin/fuse-overlayfs",
        )
    )
    assert fuse["storage"]["driver"] == "overlay"
    assert fuse["storage"]["options"]["overlay"]["mount_program"] == "/usr/bin/fuse-overlayfs"


def test_mount_program_only_applies_to_overlay() -> None:
    conf = tomllib.loads(
        render_storage_conf(
            driver="vfs", graphroot=PATHS.graphroot, runroot=PATHS.runroot, mount_program="/x"
        )
    )
    assert "options" not in conf["storage"]


def test_registries_conf_has_no_search_registries() -> None:
    conf = tomllib.loads(render_registries_conf())
    assert conf == {"unqualified-search-registries": [], "short-name-mode": "permissive"}


def test_registries_conf_marks_listed_registries_insecure() -> None:
    conf = tomllib.loads(render_registries_conf(["127.0.0.1:5002", "127.0.0.1:5001"]))
    assert conf["registry"] == [
        {"location": "127.0.0.1:5001", "insecure": True},
        {"location": "127.0.0.1:5002", "insecure": True},
    ]


@pytest.mark.parametrize("value", ['a "quoted" path', "back\\slash", "tab\there", "ünïcode"])
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"x = {toml_str(value)}")["x"] == value


def test_engine_paths_live_under_home_engine() -> None:
    paths = EnginePaths.of(Path("/h"))
    assert paths.root == Path("/h/engine")
    assert paths.containers_conf == Path("/h/engine/containers.conf")
    assert paths.probe_cache == Path("/h/engine/probe.json")
    assert paths.graphroot == Path("/h/engine/storage")
    assert paths.runroot.is_relative_to(paths.run_dir)


LONG_ROOT = Path("/tmp/pytest-of-someone/pytest-123/test_a_rather_long_name0/home/engine")


@pytest.mark.parametrize(
    ("uid", "xdg", "base"),
    [
        (0, "/run/user/0", "/run/airlock"),
        (1000, "/run/user/1000", "/run/user/1000/airlock"),
        (1000, None, "/tmp/airlock-1000"),
        (1000, "/a/very/long/runtime/folder", "/tmp/airlock-1000"),
    ],
)
def test_run_dir_is_short_whatever_the_home(uid: int, xdg: str | None, base: str) -> None:
    run_dir = short_run_dir(LONG_ROOT, uid=uid, xdg_runtime_dir=xdg)
    assert run_dir.parent == Path(base)
    # podman stalls when runroot (run_dir / "storage") is longer than about 50 characters
    assert len(str(run_dir / "storage")) <= 45


def test_run_dir_differs_per_engine_folder() -> None:
    one = short_run_dir(Path("/a/engine"), uid=0, xdg_runtime_dir=None)
    two = short_run_dir(Path("/b/engine"), uid=0, xdg_runtime_dir=None)
    assert one != two
    assert one == short_run_dir(Path("/a/engine"), uid=0, xdg_runtime_dir=None)


def test_default_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_HOME", "/var/lib/airlock")
    assert default_home() == Path("/var/lib/airlock")
    monkeypatch.delenv("AIRLOCK_HOME")
    monkeypatch.setenv("HOME", "/home/ops")
    assert default_home() == Path("/home/ops/.local/share/airlock")


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("podman version 4.3.1\n", "4.3.1"),
        ("buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)\n", "1.28.2"),
        ("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1\nspec: 1.0.2-dev\n", "1.1.5+ds1"),
        ("skopeo version 1.9.3\n", "1.9.3"),
        ("nothing useful", None),
    ],
)
def test_parse_version(output: str, version: str | None) -> None:
    assert parse_version(output) == version


def test_storage_candidates_fastest_first() -> None:
    assert storage_candidates(False, "/usr/bin/fuse-overlayfs") == [
        ("overlay", None),
        ("vfs", None),
    ]
    assert storage_candidates(True, "/usr/bin/fuse-overlayfs") == [
        ("overlay", None),
        ("overlay", "/usr/bin/fuse-overlayfs"),
        ("vfs", None),
    ]
    assert storage_candidates(True, None) == [("overlay", None), ("vfs", None)]


def test_probe_result_round_trips_through_json() -> None:
    found = EngineProbe(
        runc="/usr/sbin/runc",
        storage_driver="overlay",
        mount_program=None,
        rootless=False,
        ulimits=("nofile=20000:20000",),
        versions={"podman": "4.3.1", "skopeo": None},
        uid=0,
        podman="/usr/bin/podman",
        podman_mtime=1.5,
    )
    assert EngineProbe.from_json(found.to_json()) == found
