"""Find out, once per Airlock home, how podman can run on this machine.

The answer (runc path, storage driver, tool versions, ulimits within the hard limits) is
cached in ``$AIRLOCK_HOME/engine/probe.json`` and probed again only when the cache no longer
fits: another user, a podman upgrade, or a runc that has gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airlock.engine.config import (
    DESIGNED_ULIMITS,
    EnginePaths,
    clamp_ulimits,
    host_hard_limits,
    prepare_run_dir,
    render_containers_conf,
    render_registries_conf,
    render_storage_conf,
    write_if_changed,
)
from airlock.engine.errors import EngineNotFoundError, EngineProbeError

SCHEMA = 1
TOOLS = ("podman", "buildah", "skopeo", "runc")
_VERSION = re.compile(r"version\s+v?([0-9][^\s,]*)")


@dataclass(frozen=True)
class EngineProbe:
    runc: str
    storage_driver: str
    mount_program: str | None
    rootless: bool
    ulimits: tuple[str, ...]
    versions: dict[str, str | None] = field(default_factory=dict)
    uid: int = 0
    podman: str = ""
    podman_mtime: float = 0.0
    schema: int = SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> EngineProbe:
        data: dict[str, Any] = json.loads(text)
        data["ulimits"] = tuple(data["ulimits"])
        return cls(**data)


def parse_version(output: str) -> str | None:
    """``podman version 4.3.1`` / ``runc version 1.1.5+ds1`` -> the version string."""
    match = _VERSION.search(output)
    return match.group(1) if match else None


def tool_version(binary: str) -> str | None:
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return parse_version(done.stdout) if done.returncode == 0 else None


def probe(home: Path, *, refresh: bool = False) -> EngineProbe:
    """What podman needs on this machine, from the cache when it still fits."""
    paths = EnginePaths.of(home)
    podman, runc = shutil.which("podman"), shutil.which("runc")
    if podman is None or runc is None:
        missing = "podman" if podman is None else "runc"
        raise EngineNotFoundError(missing)
    if not refresh:
        cached = _read_cache(paths.probe_cache)
        if cached is not None and _still_fits(cached, podman):
            return cached
    found = _probe_now(paths, podman, runc)
    paths.root.mkdir(parents=True, exist_ok=True)
    write_if_changed(paths.probe_cache, found.to_json())
    return found


def _read_cache(path: Path) -> EngineProbe | None:
    try:
        return EngineProbe.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _still_fits(cached: EngineProbe, podman: str) -> bool:
    return (
        cached.schema == SCHEMA
        and cached.uid == os.geteuid()
        and cached.podman == podman
        and cached.podman_mtime == Path(podman).stat().st_mtime
        and Path(cached.runc).exists()
    )


def _probe_now(paths: EnginePaths, podman: str, runc: str) -> EngineProbe:
    rootless = os.geteuid() != 0
    ulimits = tuple(clamp_ulimits(DESIGNED_ULIMITS, host_hard_limits()))
    driver, mount_program = _pick_storage_driver(paths, podman, runc, ulimits, rootless)
    versions = {tool: _version_of(tool) for tool in TOOLS}
    return EngineProbe(
        runc=runc,
        storage_driver=driver,
        mount_program=mount_program,
        rootless=rootless,
        ulimits=ulimits,
        versions=versions,
        uid=os.geteuid(),
        podman=podman,
        podman_mtime=Path(podman).stat().st_mtime,
    )


def _version_of(tool: str) -> str | None:
    binary = shutil.which(tool)
    return tool_version(binary) if binary else None


def storage_candidates(rootless: bool, fuse_overlayfs: str | None) -> list[tuple[str, str | None]]:
    """Drivers to try, fastest first: native overlay, overlay through FUSE (rootless), vfs."""
    candidates: list[tuple[str, str | None]] = [("overlay", None)]
    if rootless and fuse_overlayfs:
        candidates.append(("overlay", fuse_overlayfs))
    candidates.append(("vfs", None))
    return candidates


def _pick_storage_driver(
    paths: EnginePaths, podman: str, runc: str, ulimits: tuple[str, ...], rootless: bool
) -> tuple[str, str | None]:
    errors = []
    for driver, mount_program in storage_candidates(rootless, shutil.which("fuse-overlayfs")):
        error = _try_driver(paths, podman, runc, ulimits, driver, mount_program)
        if error is None:
            return driver, mount_program
        errors.append(f"{driver}{' via ' + mount_program if mount_program else ''}: {error}")
    raise EngineProbeError("no storage driver works for podman here:\n" + "\n".join(errors))


def _try_driver(
    paths: EnginePaths,
    podman: str,
    runc: str,
    ulimits: tuple[str, ...],
    driver: str,
    mount_program: str | None,
) -> str | None:
    """None if podman starts with this driver, else its complaint.

    The scratch store sits inside the engine folder so the test runs on the filesystem the
    real store will use (overlay on overlay, for one, fails where overlay on ext4 works).
    """
    paths.root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=paths.root, prefix=".probe-"))
    trial = EnginePaths.at(scratch)
    try:
        prepare_run_dir(trial)
        conf = {
            "CONTAINERS_CONF": (
                trial.containers_conf,
                render_containers_conf(runc=runc, ulimits=ulimits, paths=trial),
            ),
            "CONTAINERS_STORAGE_CONF": (
                trial.storage_conf,
                render_storage_conf(
                    driver=driver,
                    graphroot=trial.graphroot,
                    runroot=trial.runroot,
                    mount_program=mount_program,
                ),
            ),
            "CONTAINERS_REGISTRIES_CONF": (trial.registries_conf, render_registries_conf()),
        }
        env = dict(os.environ)
        for name, (path, text) in conf.items():
            write_if_changed(path, text)
            env[name] = str(path)
        done = subprocess.run(
            [podman, "info", "--format", "{{.Store.GraphDriverName}}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip() == driver:
            return None
        return (done.stderr.strip() or done.stdout.strip())[-500:] or f"exit {done.returncode}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(trial.run_dir, ignore_errors=True)
