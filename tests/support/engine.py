"""A test server's container engine: its podman environment, and the clean-up of what runs
left in its store."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from airlock.engine import EnginePaths, engine_env
from tests.support.servers import Airlock


def podman_env_of(server: Airlock) -> dict[str, str]:
    """The environment for podman commands on ``server``'s own store (not
    ``tests.support.images.podman_env``, which makes a private store in a folder)."""
    # With PATH: netavark runs iptables to remove a container's port forwarding, and
    # without it leaves the rule behind (the next container on the address is unreachable).
    return {**os.environ, **engine_env(server.home)}


def reset_engine(home: Path) -> None:
    """Remove the containers runs left in the server's store and unmount what podman keeps
    mounted under it (pytest could not delete it). Not ``podman system reset``: with a
    podman configuration that keeps networks in /etc/containers/networks (Airlock's did until
    ca0c303), a reset removes the networks of runs going on in other homes."""
    env = {**os.environ, **engine_env(home)}
    left = subprocess.run(["podman", "ps", "--all", "--quiet"], env=env, capture_output=True,
                          text=True, timeout=60, check=False).stdout.split()  # fmt: skip
    if left:
        subprocess.run(["podman", "rm", "--force", "--time", "0", *left], env=env,
                       capture_output=True, timeout=120, check=False)  # fmt: skip
    unmount_store(home)


def unmount_store(home: Path) -> None:
    """Unmount what podman keeps mounted under ``home`` and its run state (pytest could not
    delete them), and remove the run state (which is outside the home). Not ``podman system
    reset``, for the reason ``reset_engine`` gives."""
    run_dir = EnginePaths.of(home).run_dir
    prefixes = [str(home.resolve()), str(run_dir)]
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        points = [line.split()[4].replace("\\040", " ") for line in table]
    for point in sorted(points, key=len, reverse=True):
        if any(point == prefix or point.startswith(prefix + "/") for prefix in prefixes):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)
    shutil.rmtree(run_dir, ignore_errors=True)
