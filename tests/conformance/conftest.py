"""Fixtures: each server is started once per session; every test gets its own repository.

``registry`` is parametrized over Airlock and CNCF Distribution (the reference). When Airlock
cannot start, every airlock test errors with the server's log: it is never skipped. Airlock's
clients authenticate as the registry's admin user through the token flow; Distribution runs
without authentication.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.helpers import AIRLOCK, DISTRIBUTION, Registry, repo_name
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import start_airlock, start_distribution

AIRLOCK_REGISTRY_NAME = "conformance"


@pytest.fixture(scope="session")
def airlock_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, tuple[str, str]]]:
    """The conformance registry's base URL and its admin user's (username, password)."""
    home = tmp_path_factory.mktemp("airlock-home")
    try:
        server = start_airlock(home)
    except Exception as exc:
        pytest.fail(f"Airlock server could not start: {exc}", pytrace=False)
    try:
        try:
            url = server.create_registry(AIRLOCK_REGISTRY_NAME)
            credentials = server.admin_credentials(AIRLOCK_REGISTRY_NAME)
        except Exception as exc:
            pytest.fail(
                f"Airlock could not create registry {AIRLOCK_REGISTRY_NAME!r}: {exc}\n"
                f"{server.log()}",
                pytrace=False,
            )
        yield url, credentials
    finally:
        server.stop()


@pytest.fixture(scope="session")
def airlock_url(airlock_registry: tuple[str, tuple[str, str]]) -> str:
    return airlock_registry[0]


@pytest.fixture(scope="session")
def distribution_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("distribution")
    try:
        server = start_distribution(root)
    except Exception as exc:
        pytest.fail(f"CNCF Distribution could not start: {exc}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(
    params=[AIRLOCK, pytest.param(DISTRIBUTION, marks=pytest.mark.reference)],
)
def registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    kind: str = request.param
    base_url: str = request.getfixturevalue(f"{kind}_url")
    test_id: str = request.node.originalname
    auth = None
    if kind == AIRLOCK:
        auth = RegistryTokenAuth(*request.getfixturevalue("airlock_registry")[1])
    with httpx.Client(base_url=base_url, timeout=10.0, follow_redirects=False, auth=auth) as client:
        yield Registry(
            kind=kind,
            base_url=base_url,
            client=client,
            repo=repo_name(test_id),
            test_id=test_id,
            auth=auth,
        )
