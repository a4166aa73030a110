"""The podman/buildah/skopeo configuration Airlock owns.

Airlock never edits the user's global ``containers.conf``, ``storage.conf`` or
``registries.conf``. It writes its own copies under ``$AIRLOCK_HOME/engine/`` and points the
tools at them with environment variables (``engine_env``). The render functions are pure so
they can be unit-tested; ``engine_env`` does the I/O.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from airlock.common.files import write_private
from airlock.common.paths import default_home
from airlock.engine.errors import EngineError

# Values that worked on the machines we run on; podman's own defaults ask for more open files
# than the hard limit allows and runc refuses to start the container.
DESIGNED_ULIMITS: dict[str, tuple[int, int]] = {
    "nofile": (20000, 20000),
    "nproc": (4096, 4096),
}

_RLIMITS = {"nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC}
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
SHARED_MEMORY = Path("/dev/shm")


def short_run_dir(root: Path, *, uid: int, xdg_runtime_dir: str | None) -> Path:
    """A short folder for podman's run state, unique per engine folder.

    Podman 4.3 stalls for 20 s at the end of every ``podman run`` when its runroot path is
    longer than about 50 characters, and a home such as a pytest ``tmp_path`` is far longer,
    so the run state lives in ``/run`` (root), ``$XDG_RUNTIME_DIR`` or ``/tmp``, named by a
    hash of the engine folder.
    """
    key = hashlib.sha256(str(root).encode()).hexdigest()[:10]
    if uid == 0:
        base = Path("/run/airlock")
    elif xdg_runtime_dir and len(xdg_runtime_dir) <= 16:
        base = Path(xdg_runtime_dir) / "airlock"
    else:
        base = Path(f"/tmp/airlock-{uid}")
    return base / key


@dataclass(frozen=True)
class EnginePaths:
    """Where the engine configuration and image store of one Airlock home live."""

    root: Path
    run_dir: Path

    @classmethod
    def of(cls, home: Path) -> EnginePaths:
        return cls.at(home.expanduser().absolute() / "engine")

    @classmethod
    def at(cls, root: Path) -> EnginePaths:
        run_dir = short_run_dir(
            root, uid=os.geteuid(), xdg_runtime_dir=os.environ.get("XDG_RUNTIME_DIR")
        )
        return cls(root=root, run_dir=run_dir)

    @property
    def containers_conf(self) -> Path:
        return self.root / "containers.conf"

    @property
    def storage_conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def registries_conf(self) -> Path:
        return self.root / "registries.conf"

    @property
    def auth_file(self) -> Path:
        return self.root / "auth.json"

    @property
    def probe_cache(self) -> Path:
        return self.root / "probe.json"

    @property
    def graphroot(self) -> Path:
        return self.root / "storage"

    @property
    def runroot(self) -> Path:
        return self.run_dir / "storage"

    @property
    def libpod_tmp(self) -> Path:
        return self.run_dir / "libpod"

    @property
    def libpod_state(self) -> Path:
        """Where podman keeps its container database (``<graphroot>/libpod``): a link to a
        folder in memory (see ``keep_container_state_in_memory``)."""
        return self.graphroot / "libpod"

    @property
    def memory_state(self) -> Path:
        key = self.run_dir.name
        owner = "airlock" if os.geteuid() == 0 else f"airlock-{os.geteuid()}"
        return SHARED_MEMORY / owner / key / "libpod"

    @property
    def copy_tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def events_log(self) -> Path:
        return self.root / "events.log"

    @property
    def networks(self) -> Path:
        return self.root / "networks"


# --- pure parts -------------------------------------------------------------------------------


def toml_str(value: str) -> str:
    """A TOML basic string; JSON's escapes are a subset TOML accepts."""
    return json.dumps(value, ensure_ascii=False)


def toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(toml_str(v) for v in values) + "]"


def clamp_ulimits(
    desired: Mapping[str, tuple[int, int]], hard_limits: Mapping[str, int | None]
) -> list[str]:
    """``name=soft:hard`` strings, each value lowered to the host's hard limit if it is lower.

    ``None`` (or a missing entry) in ``hard_limits`` means unlimited.
    """
    result = []
    for name, (soft, hard) in desired.items():
        cap = hard_limits.get(name)
        if cap is not None:
            soft, hard = min(soft, cap), min(hard, cap)
        result.append(f"{name}={min(soft, hard)}:{hard}")
    return result


def host_hard_limits() -> dict[str, int | None]:
    limits: dict[str, int | None] = {}
    for name, rlimit in _RLIMITS.items():
        hard = resource.getrlimit(rlimit)[1]
        limits[name] = None if hard == resource.RLIM_INFINITY else hard
    return limits


def render_containers_conf(*, runc: str, ulimits: Sequence[str], paths: EnginePaths) -> str:
    return "\n".join(
        [
            "# Written by Airlock; regenerated on use. Edit Airlock, not this file.",
            "[containers]",
            f"default_ulimits = {toml_list(ulimits)}",
            "",
            "[engine]",
            'runtime = "runc"',
            'events_logger = "file"',
            f"events_logfile_path = {toml_str(str(paths.events_log))}",
            f"tmp_dir = {toml_str(str(paths.libpod_tmp))}",
            f"image_copy_tmp_dir = {toml_str(str(paths.copy_tmp))}",
            "",
            "[engine.runtimes]",
            f"runc = {toml_list([runc])}",
            "",
            "[network]",
            # Networks Airlock creates stay out of /etc/containers/networks (podman reads this
            # key only in [network]), so one home's networks are its own.
            f"network_config_dir = {toml_str(str(paths.networks))}",
            # Homes do not see each other's networks, so each takes its subnets from a block
            # of its own: two servers or workers on one machine never pick the same one.
            f'default_subnet_pools = [{{"base" = "{subnet_block(paths)}", "size" = 24}}]',
            "",
        ]
    )


def subnet_block(paths: EnginePaths) -> str:
    """A /18 of 10.128.0.0/9 (64 networks of /24) chosen by the engine folder: one of 512."""
    number = int(hashlib.sha256(str(paths.root).encode()).hexdigest()[:8], 16) % 512
    return f"10.{128 + number // 4}.{(number % 4) * 64}.0/18"


def render_storage_conf(
    *, driver: str, graphroot: Path, runroot: Path, mount_program: str | None = None
) -> str:
    lines = [
        "# Written by Airlock; regenerated on use. Edit Airlock, not this file.",
        "[storage]",
        f"driver = {toml_str(driver)}",
        f"graphroot = {toml_str(str(graphroot))}",
        f"runroot = {toml_str(str(runroot))}",
        "",
    ]
    if driver == "overlay" and mount_program:
        lines += [
            "[storage.options.overlay]",
            f"mount_program = {toml_str(mount_program)}",
            "",
        ]
    return "\n".join(lines)


def render_registries_conf(insecure_registries: Iterable[str] = ()) -> str:
    """No search registries: an image name must say where it comes from."""
    lines = [
        "# Written by Airlock; regenerated on use. Edit Airlock, not this file.",
        "unqualified-search-registries = []",
        'short-name-mode = "permissive"',
        "",
    ]
    for location in sorted(set(insecure_registries)):
        lines += ["[[registry]]", f"location = {toml_str(location)}", "insecure = true", ""]
    return "\n".join(lines)


# --- I/O --------------------------------------------------------------------------------------


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically replace ``path`` with ``text`` (mode 0600) unless it already holds exactly
    that. Only podman, run as the same user, reads these files."""
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    write_private(path, text.encode())
    return True


def prepare_run_dir(paths: EnginePaths) -> None:
    """Create the run folder, private to this user, emptied when the machine has rebooted."""
    base = paths.run_dir.parent
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    if base.stat().st_uid != os.geteuid():
        raise EngineError(f"{base} belongs to another user; remove it or set XDG_RUNTIME_DIR")
    # /run and $XDG_RUNTIME_DIR are emptied at boot; /tmp may not be, and podman decides
    # whether containers from an earlier boot need their state reset by whether its "alive"
    # file is still there.
    try:
        boot_id = _BOOT_ID.read_text().strip()
    except OSError:
        return
    marker = paths.run_dir / "boot_id"
    try:
        seen: str | None = marker.read_text().strip()
    except FileNotFoundError:
        seen = None
    if seen is not None and seen != boot_id:
        shutil.rmtree(paths.run_dir, ignore_errors=True)
    if seen != boot_id:
        write_if_changed(marker, boot_id + "\n")


def keep_container_state_in_memory(paths: EnginePaths) -> None:
    """Podman's container database (``bolt_state.db``) keeps every container's command line
    and environment, and a step's may hold a secret; a removed container's pages stay in the
    file. So the database lives in shared memory (``/dev/shm``, a tmpfs), reached by a link
    from where podman looks for it: it is never written to disk, and a reboot, which ends
    every container anyway, empties it. Images and their layers stay in the store on disk.
    Without a usable ``/dev/shm`` podman keeps its database where it always does."""
    if not SHARED_MEMORY.is_dir() or not os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
        return
    target = paths.memory_state
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (target.parent.parent, target.parent):
        os.chmod(folder, 0o700)
    link = paths.libpod_state
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.is_dir():
        # A database from before: its live state moves; the file that held it goes.
        for entry in link.iterdir():
            if not (target / entry.name).exists():
                shutil.move(str(entry), target / entry.name)
        shutil.rmtree(link, ignore_errors=True)
    with contextlib.suppress(FileExistsError):  # another process linked it first
        link.symlink_to(target, target_is_directory=True)


def _ensure_auth_file(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write('{"auths": {}}\n')


def engine_env(
    home: Path | None = None,
    *,
    auth_file: Path | None = None,
    insecure_registries: Iterable[str] = (),
) -> dict[str, str]:
    """Write Airlock's engine configuration under ``home/engine`` and return the environment
    variables that make podman, buildah and skopeo use it.

    ``auth_file`` is where registry logins go (a per-run file for task runs); by default the
    engine folder's own ``auth.json``, never the user's. ``insecure_registries`` (``host:port``)
    are reached over plain HTTP without ``--tls-verify=false``.
    """
    from airlock.engine.probe import probe

    paths = EnginePaths.of(home if home is not None else default_home())
    found = probe(paths.root.parent)
    for folder in (paths.graphroot, paths.copy_tmp, paths.networks):
        folder.mkdir(parents=True, exist_ok=True)
    prepare_run_dir(paths)
    paths.libpod_tmp.mkdir(parents=True, exist_ok=True)
    keep_container_state_in_memory(paths)
    write_if_changed(
        paths.containers_conf,
        render_containers_conf(runc=found.runc, ulimits=found.ulimits, paths=paths),
    )
    write_if_changed(
        paths.storage_conf,
        render_storage_conf(
            driver=found.storage_driver,
            graphroot=paths.graphroot,
            runroot=paths.runroot,
            mount_program=found.mount_program,
        ),
    )
    registries_conf = _registries_conf_path(paths, insecure_registries)
    write_if_changed(registries_conf, render_registries_conf(insecure_registries))
    auth = auth_file if auth_file is not None else paths.auth_file
    _ensure_auth_file(auth)
    return {
        "CONTAINERS_CONF": str(paths.containers_conf),
        "CONTAINERS_STORAGE_CONF": str(paths.storage_conf),
        "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
        "REGISTRY_AUTH_FILE": str(auth),
    }


def _registries_conf_path(paths: EnginePaths, insecure_registries: Iterable[str]) -> Path:
    # One file per distinct list, so concurrent users with different lists never race.
    wanted = sorted(set(insecure_registries))
    if not wanted:
        return paths.registries_conf
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
    return paths.root / f"registries-{digest}.conf"
