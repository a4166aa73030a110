"""Fixtures: each server is started once per session; every test gets its own repository.

``registry`` is parametrized over Airlock and CNCF Distribution (the reference). When Airlock
cannot start, every airlock test errors with the server's log: it is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.helpers import AIRLOCK, DISTRIBUTION, Registry, repo_name
from tests.support.servers import start_airlock, start_distribution

AIRLOCK_REGISTRY_NAME = "conformance"


@pytest.fixture(scope="session")
def airlock_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("airlock-home")
    try:
        server = start_airlock(home)
    except Exception as exc:
        pytest.fail(f"Airlock server could not start: {exc}", pytrace=False)
    try:
        try:
            url = server.create_registry(AIRLOCK_REGISTRY_NAME)
        except Exception as exc:
            pytest.fail(
                f"Airlock could not create registry {AIRLOCK_REGISTRY_NAME!r}: {exc}\n"
                f"{server.log()}",
                pytrace=False,
            )
        yield url
    finally:
        server.stop()


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
    with httpx.Client(base_url=base_url, timeout=10.0, follow_redirects=False) as client:
        yield Registry(
            kind=kind,
            base_url=base_url,
            client=client,
            repo=repo_name(test_id),
            test_id=test_id,
        )
