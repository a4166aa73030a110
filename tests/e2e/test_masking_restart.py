"""Secret values stay masked after a restart: the server loads them all before it serves.

A value set before the restart has never passed through the new process; it must still come
back as ``***`` in an error message that would quote it, and so must an admin password.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import api_ok
from tests.support.servers import Airlock, running_airlock

VAULT = "restart-kv"
GROUP = "restart-rg"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Airlock]:
    with running_airlock(tmp_path / "home") as airlock:
        yield airlock


def quoting_error(server: Airlock, name: str) -> str:
    """The message of the error a show of secret ``name`` gets: it quotes the name."""
    status, payload = server.api("GET", f"/api/vaults/{VAULT}/secrets/{name}")
    assert status == 404, (status, payload)
    return json.dumps(payload)


def test_values_set_before_a_restart_are_masked_after_it(server: Airlock) -> None:
    current, older = "Masked-after-restart-7f3a", "Older-version-0c41e9"
    api_ok(server, "POST", "/api/groups", {"name": GROUP, "location": "local"})
    api_ok(server, "POST", "/api/vaults", {"name": VAULT, "resourceGroup": GROUP})
    api_ok(server, "PUT", f"/api/vaults/{VAULT}/secrets/s1", {"value": older})
    api_ok(server, "PUT", f"/api/vaults/{VAULT}/secrets/s1", {"value": current})
    server.create_registry("restartreg")
    _, password = server.admin_credentials("restartreg")

    server.restart()

    for value in (current, older, password):
        message = quoting_error(server, value)
        assert value not in message
        assert "secret '***' not found" in message
    # A text containing the value (not equal to it) is masked around it.
    message = quoting_error(server, f"x-{current}-y")
    assert "secret 'x-***-y' not found" in message
    assert current not in server.log() and password not in server.log()


def test_a_value_unknown_before_is_not_masked(server: Airlock) -> None:
    # The counterpart: a name that is no secret value is quoted as it is, so the test
    # above would fail if masking did nothing after the restart.
    api_ok(server, "POST", "/api/groups", {"name": GROUP, "location": "local"})
    api_ok(server, "POST", "/api/vaults", {"name": VAULT, "resourceGroup": GROUP})
    server.restart()
    assert "secret 'Not-a-secret-value-1' not found" in quoting_error(
        server, "Not-a-secret-value-1"
    )
