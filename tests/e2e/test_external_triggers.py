"""Base-image triggers for a registry outside this server, end to end: a real server polling
every second, Debian's docker-registry playing the public registry, real podman.

A Dockerfile task builds on ``<registry>/library/...:1``; its first run records the base;
pushing another image to that tag gives one ``Image Update`` run, and nothing more. Behind the
rate-limited proxy, a 429 with ``Retry-After`` holds the next check back that long, and the
change is still seen after it.

Runs pull their base over plain HTTP: the runner treats the loopback ``host:port`` entries of
``AIRLOCK_IMPORT_ALLOWED_REGISTRIES`` as this machine's registries, as the importer does.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airlock.engine import EnginePaths, engine_env
from tests.support.cli import cli_json
from tests.support.external import RateLimitedProxy, start_rate_limited_proxy
from tests.support.images import build_busybox_image, push_layout
from tests.support.servers import (
    Airlock,
    Distribution,
    free_port,
    start_airlock,
    start_distribution,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.podman

APP = "extapp"
APP_FILE = (
    "ARG REGISTRY_NAME\nFROM ${{REGISTRY_NAME}}/{repository}:{tag}\n"
    'CMD ["/bin/busybox", "echo", "app"]\n'
)
RETRY_AFTER = 3


@dataclass
class World:
    server: Airlock
    public: Distribution  # the "public" registry
    proxy: RateLimitedProxy  # in front of it, answering 429 when told to
    tmp: Path

    @property
    def public_host(self) -> str:
        return f"127.0.0.1:{self.public.port}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("external-triggers")
    home = root / "home"
    public = start_distribution(root / "public")
    proxy = server = None
    try:
        proxy = start_rate_limited_proxy(public.url, fail_first=0, retry_after=str(RETRY_AFTER),
                                         path_pattern=r"/manifests/")  # fmt: skip
        server = start_airlock(
            home,
            extra_env={
                "AIRLOCK_EXTERNAL_POLL_SECONDS": "1",
                "AIRLOCK_IMPORT_ALLOWED_REGISTRIES": f"127.0.0.1:{public.port},{proxy.host}",
            },
        )
        server.create_registry(APP, port=free_port())
        yield World(server, public, proxy, root)
    finally:
        if server is not None:
            server.stop()
        if proxy is not None:
            proxy.stop()
        public.stop()
        env = {**os.environ, **engine_env(home)}
        left = subprocess.run(["podman", "ps", "--all", "--quiet"], env=env, capture_output=True,
                              text=True, check=False).stdout.split()  # fmt: skip
        if left:
            subprocess.run(["podman", "rm", "-f", "-t", "0", *left], env=env, check=False)
        shutil.rmtree(EnginePaths.of(home).run_dir, ignore_errors=True)


def push_base(world: World, registry: str, reference: str, colour: str) -> str:
    """A busybox image with ``etc/colour`` pushed to ``registry/reference``; its digest."""
    layout = world.tmp / f"layout-{colour}"
    image = build_busybox_image(layout, tag=colour, extra_files={"etc/colour": colour.encode()})
    push_layout(image, f"{registry}/{reference}")
    return image.manifest_digest


def app_task(world: World, name: str, registry: str, base: str) -> None:
    repository, tag = base.rsplit(":", 1)
    folder = world.tmp / name
    folder.mkdir()
    (folder / "Dockerfile").write_text(APP_FILE.format(repository=repository, tag=tag))
    cli_json(world.server, "acr", "task", "create", "-r", APP, "-n", name, "-f", "Dockerfile",
        "-c", str(folder), "--image", f"{name}:{{{{.Run.ID}}}}",
        "--arg", f"REGISTRY_NAME={registry}")  # fmt: skip


def runs(world: World, task: str) -> list[dict[str, Any]]:
    return list(cli_json(world.server, "acr", "task", "list-runs", "-r", APP, "-n", task))


def settled(world: World, task: str, count: int) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        found = runs(world, task)
        done = all(r["status"] not in ("Queued", "Running") for r in found)
        return found if len(found) >= count and done else None

    return list(wait_for(check, what=f"{count} finished run(s) of {task}"))


def first_run(world: World, task: str) -> None:
    done = world.server.cli("acr", "task", "run", "-r", APP, "-n", task, "--no-logs", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = settled(world, task, 1)
    assert run["status"] == "Succeeded", run


def polled(world: World, registry: str, repository: str) -> Any:
    """The server's row for the reference, once it has been checked."""
    db = sqlite3.connect(f"file:{world.server.home / 'airlock.db'}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT digest, checked_at, failures FROM external_images"
            " WHERE registry = ? AND repository = ? AND checked_at IS NOT NULL",
            (registry, repository),
        ).fetchone()
    finally:
        db.close()


def test_a_push_to_an_external_base_runs_its_dependent_once(world: World) -> None:
    public = world.public_host
    v1 = push_base(world, public, "library/base:1", "green")
    app_task(world, "extpoll", public, "library/base:1")
    first_run(world, "extpoll")
    [dependency] = cli_json(world.server, "acr", "task", "show", "-r", APP, "-n", "extpoll")[
        "baseImageDependencies"
    ]
    assert (dependency["registry"], dependency["repository"], dependency["digest"]) == (
        public,
        "library/base",
        v1,
    )
    # Polled, and the digest it was built with starts nothing.
    found = wait_for(lambda: polled(world, public, "library/base"), what="the first check")
    assert found[0] == v1 and found[2] == 0, found
    time.sleep(2)
    assert len(runs(world, "extpoll")) == 1

    v2 = push_base(world, public, "library/base:1", "orange")
    found = settled(world, "extpoll", 2)
    assert found[0]["trigger"] == "Image Update" and found[0]["status"] == "Succeeded", found
    cause = found[0]["imageUpdateTrigger"]
    assert cause["image"] == f"{public}/library/base:1", cause
    assert (cause["oldDigest"], cause["newDigest"]) == (v1, v2), cause

    time.sleep(3)  # three more checks of an unchanged tag: nothing more
    assert len(runs(world, "extpoll")) == 2


def test_a_429_with_retry_after_delays_the_check_and_the_change_is_seen_after(
    world: World,
) -> None:
    proxy = world.proxy
    push_base(world, world.public_host, "library/proxied:1", "blue")
    app_task(world, "extproxy", proxy.host, "library/proxied:1")
    first_run(world, "extproxy")

    def manifest_requests() -> list[tuple[str, str, int]]:
        with proxy._lock:
            return [r for r in proxy.requests if "/manifests/" in r[1]]

    seen = len(manifest_requests())
    wait_for(lambda: len(manifest_requests()) > seen, what="a check through the proxy")
    with proxy._lock:
        proxy.fail_first = proxy.throttled + 2  # the next two manifest requests get 429
        throttled = proxy.throttled
    push_base(world, world.public_host, "library/proxied:1", "red")

    wait_for(lambda: proxy.throttled > throttled, what="a 429")
    after_first = len(manifest_requests())
    time.sleep(RETRY_AFTER - 0.5)  # the interval is 1 s, but the registry said 3
    assert len(manifest_requests()) == after_first, manifest_requests()[after_first - 1 :]

    found = settled(world, "extproxy", 2)
    assert proxy.throttled == throttled + 2
    assert found[0]["trigger"] == "Image Update", found
    assert found[0]["imageUpdateTrigger"]["image"] == f"{proxy.host}/library/proxied:1"
    # The checks were HEAD requests (Docker Hub counts GETs against the pull limit).
    polls = manifest_requests()[seen:after_first]
    assert polls and all(method == "HEAD" for method, _, _ in polls), polls
    time.sleep(2)
    assert len(runs(world, "extproxy")) == 2
