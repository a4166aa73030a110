"""``airlock doctor``: is this machine ready to run task steps in containers?

Each check says what it found and, when something is wrong, what to run to fix it. The
checks are the things that have gone wrong on real machines: a missing tool, a runtime podman
cannot use (crun on hybrid cgroups: Airlock pins runc), no storage driver that works, hard
limits below what builds need, no network backend, and for a user other than root, no
subordinate uid/gid ranges.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from airlock.engine.config import DESIGNED_ULIMITS, host_hard_limits
from airlock.engine.errors import EngineError
from airlock.engine.probe import probe, tool_version

OK = "ok"
WARNING = "warning"
FAILED = "failed"
BOOTSTRAP = "scripts/bootstrap (or: apt-get install podman buildah skopeo runc)"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def run_checks(
    home: Path,
    *,
    which: Callable[[str], str | None] = shutil.which,
    uid: int | None = None,
    hard_limits: Mapping[str, int | None] | None = None,
    subuid: Path = Path("/etc/subuid"),
    subgid: Path = Path("/etc/subgid"),
) -> list[Check]:
    """Every check, in the order a person would fix them."""
    checks = [_tool(name, which) for name in ("podman", "buildah", "skopeo", "runc", "git")]
    checks.append(_network_backend(which))
    checks.append(_ulimits(hard_limits if hard_limits is not None else host_hard_limits()))
    user_id = os.geteuid() if uid is None else uid
    checks.append(_subordinate_ids(user_id, subuid, subgid))
    if which("podman") is not None and which("runc") is not None:
        checks.append(_storage(home))
    return checks


def _tool(name: str, which: Callable[[str], str | None]) -> Check:
    path = which(name)
    if path is None:
        return Check(name, FAILED, f"{name} is not on PATH", BOOTSTRAP)
    version = tool_version(path)
    return Check(name, OK, f"{path} {version or '(version unknown)'}")


def _network_backend(which: Callable[[str], str | None]) -> Check:
    # Podman 4 uses netavark (with aardvark-dns for names between containers, which detached
    # steps need); CNI plugins are the older backend.
    if which("netavark") is not None or Path("/usr/lib/podman/netavark").exists():
        dns = which("aardvark-dns") or Path("/usr/lib/podman/aardvark-dns").exists()
        if not dns:
            return Check(
                "network",
                WARNING,
                "netavark without aardvark-dns: steps cannot reach detached steps by name",
                "apt-get install aardvark-dns",
            )
        return Check("network", OK, "netavark with aardvark-dns")
    if Path("/usr/lib/cni").exists():
        return Check("network", OK, "CNI plugins")
    return Check(
        "network",
        FAILED,
        "no container network backend (netavark or CNI plugins)",
        "apt-get install netavark aardvark-dns",
    )


def _ulimits(hard: Mapping[str, int | None]) -> Check:
    low = []
    for name, (_, wanted) in DESIGNED_ULIMITS.items():
        cap = hard.get(name)
        if cap is not None and cap < wanted:
            low.append(f"{name} hard limit {cap} < {wanted}")
    if low:
        return Check(
            "ulimits",
            WARNING,
            "; ".join(low) + " (containers get the lower value; large builds may fail)",
            "raise the hard limits for this user (/etc/security/limits.conf) and log in again",
        )
    wanted_text = ", ".join(f"{n} {h}" for n, (_, h) in DESIGNED_ULIMITS.items())
    return Check("ulimits", OK, f"hard limits allow {wanted_text}")


def _subordinate_ids(uid: int, subuid: Path, subgid: Path) -> Check:
    if uid == 0:
        return Check("subuid/subgid", OK, "running as root: not needed")
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    missing = [str(path) for path in (subuid, subgid) if not has_range(_read(path), name, uid)]
    if missing:
        return Check(
            "subuid/subgid",
            FAILED,
            f"no subordinate id range for {name} in {' and '.join(missing)}: rootless podman "
            "cannot unpack images",
            f"usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}",
        )
    return Check("subuid/subgid", OK, f"ranges for {name} in {subuid} and {subgid}")


def has_range(text: str, name: str, uid: int) -> bool:
    """Whether an /etc/subuid-style text gives ``name`` (or ``uid``) a non-empty range."""
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (name, str(uid)):
            try:
                if int(parts[2]) > 0:
                    return True
            except ValueError:
                continue
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _storage(home: Path) -> Check:
    try:
        found = probe(home, refresh=True)
    except EngineError as exc:
        return Check(
            "storage",
            FAILED,
            str(exc),
            "install fuse-overlayfs (rootless) or check the kernel's overlay support",
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("storage", FAILED, f"podman could not be started: {exc}", BOOTSTRAP)
    driver = found.storage_driver + (f" via {found.mount_program}" if found.mount_program else "")
    detail = f"podman runs with runc and the {driver} storage driver"
    if found.storage_driver == "vfs":
        return Check(
            "storage",
            WARNING,
            detail + " (vfs copies every layer: slow and large)",
            "install fuse-overlayfs, or run on a kernel with overlay support",
        )
    return Check("storage", OK, detail)
