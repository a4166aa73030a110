"""Fixtures for the end-to-end tests.

One Airlock server (with one registry) serves the whole session; each test pushes to its own
repositories. Tests that kill or restart a server, or need a special storage root, start
their own with ``own_airlock``. Podman, buildah and skopeo run with Airlock's engine
configuration (``engine_env``) in a private store. Every client authenticates as the registry's
admin user: httpx clients with ``admin_auth`` (``client`` has it), the tools with ``--creds``
and friends (``creds``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import REGISTRY_NAME, admin_auth, admin_creds, repo_name
from tests.support.images import (
    OciImage,
    OciIndexImage,
    build_busybox_image,
    build_multiplatform_image,
    podman_env,
)
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import Airlock, free_port, start_airlock

__all__ = ["REGISTRY_NAME", "StartServer"]

HTTP_TIMEOUT = 60.0


def start_with_registry(home: Path, extra_env: dict[str, str] | None = None) -> tuple[Airlock, str]:
    """An Airlock server on ``home`` and the base URL of a fresh registry on it."""
    try:
        server = start_airlock(home, extra_env=extra_env)
    except Exception as exc:  # reported, never skipped
        pytest.fail(f"Airlock server could not start: {exc}", pytrace=False)
    try:
        url = server.create_registry(REGISTRY_NAME, port=free_port())
    except Exception as exc:  # reported, never skipped
        log = server.log()
        server.stop()
        pytest.fail(f"could not create registry: {exc}\n{log}", pytrace=False)
    return server, url


@pytest.fixture(scope="session")
def airlock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Airlock, str]]:
    server, url = start_with_registry(tmp_path_factory.mktemp("airlock-home"))
    try:
        yield server, url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def airlock(airlock_server: tuple[Airlock, str]) -> Airlock:
    return airlock_server[0]


@pytest.fixture(scope="session")
def registry_url(airlock_server: tuple[Airlock, str]) -> str:
    return airlock_server[1]


@pytest.fixture(scope="session")
def host(registry_url: str) -> str:
    """``127.0.0.1:PORT`` of the session's registry."""
    return registry_url.removeprefix("http://")


@pytest.fixture(scope="session")
def storage_root(airlock: Airlock) -> Path:
    return airlock.home / "storage"


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test."""
    return repo_name(request.node.name)


@pytest.fixture(scope="session")
def creds(airlock: Airlock) -> str:
    """``user:password`` of the session registry's admin user, for the tools' ``--creds``."""
    return admin_creds(airlock)


@pytest.fixture
def registry_auth(airlock: Airlock) -> RegistryTokenAuth:
    """The token flow as the session registry's admin user; ``client`` uses it."""
    return admin_auth(airlock)


@pytest.fixture
def client(registry_url: str, registry_auth: RegistryTokenAuth) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_url, timeout=HTTP_TIMEOUT, auth=registry_auth) as c:
        yield c


StartServer = Callable[..., tuple[Airlock, str]]


@pytest.fixture
def own_airlock(tmp_path: Path) -> Iterator[StartServer]:
    """Start a private server (for kills, restarts, odd storage); stopped after the test."""
    servers: list[Airlock] = []

    def start(
        home: Path | None = None, extra_env: dict[str, str] | None = None
    ) -> tuple[Airlock, str]:
        server, url = start_with_registry(home or tmp_path / "own-home", extra_env)
        servers.append(server)
        return server, url

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for podman/buildah/skopeo: Airlock's engine config, a private store.

    Afterwards the store is reset, which also unmounts the overlay mounts podman leaves under
    it (they would make pytest's clean-up of old temporary folders fail).
    """
    folder = tmp_path_factory.mktemp("engine")
    env = podman_env(folder)
    try:
        yield env
    finally:
        subprocess.run(
            ["podman", "system", "reset", "--force"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        for mountpoint in mounts_under(folder):
            subprocess.run(
                ["umount", "-l", mountpoint], capture_output=True, timeout=30, check=False
            )


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below ``folder``, deepest first."""
    prefix = str(folder.resolve())
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        for line in table:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory: pytest.TempPathFactory) -> OciImage:
    return build_busybox_image(tmp_path_factory.mktemp("layout-single"), tag="v1")


@pytest.fixture(scope="session")
def multi_image(tmp_path_factory: pytest.TempPathFactory) -> OciIndexImage:
    return build_multiplatform_image(tmp_path_factory.mktemp("layout-multi"), tag="multi")
