"""The key vault and identities on a real SQLite database, in process."""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.server.services import Services
from airlock.vault.errors import AccessDeniedError
from airlock.vault.masking import MASKER, install

VALUE = "resolver-check-9f1c2e"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = Services.open(tmp_path / "home")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def vault(services: Services) -> str:
    services.vault.vaults.create("kv-int", "rg", "local")
    return "kv-int"


def test_versions_latest_and_given(services: Services, vault: str) -> None:
    secrets = services.vault.secrets
    first = secrets.set(vault, "tok", "value-one")
    second = secrets.set(vault, "TOK", "value-two")
    assert len(first.version) == 32 and first.version != second.version
    assert second.name == "tok"  # the first spelling stays
    assert secrets.show(vault, "tok")[1] == "value-two"
    assert secrets.show(vault, "tok", first.version)[1] == "value-one"
    assert [v.version for v in secrets.versions(vault, "tok")] == [first.version, second.version]
    assert [s.name for s in secrets.all(vault)] == ["tok"]
    secrets.delete(vault, "tok")
    assert secrets.all(vault) == []
    with pytest.raises(NotFoundError):
        secrets.show(vault, "tok", first.version)


def test_sealed_rows_do_not_open_elsewhere(services: Services, vault: str) -> None:
    # The context binds a sealed value to its row: copied onto another secret it won't open.
    secrets = services.vault.secrets
    secrets.set(vault, "one", "value-of-one")
    secrets.set(vault, "two", "value-of-two")
    db = sqlite3.connect(services.home / "airlock.db")
    with db:
        db.execute(
            "UPDATE vault_secrets SET sealed = (SELECT sealed FROM vault_secrets "
            "WHERE name = 'one') WHERE name = 'two'"
        )
    db.close()
    with pytest.raises(Exception, match="cannot decrypt"):
        secrets.show(vault, "two")


def test_resolver_needs_get_and_masks_what_it_resolves(services: Services, vault: str) -> None:
    MASKER.clear()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("airlock.test-resolver")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    install(log)
    try:
        kv = services.vault
        kv.secrets.set(vault, "registry-password", VALUE)
        MASKER.clear()  # as after a restart: set happened in another process
        task = services.identities.principals.ensure_system_identity("task", "reg/hello-world")
        uri = f"https://{vault}.vault.azure.net/secrets/registry-password"
        log.info("before resolving: %s", VALUE)
        with pytest.raises(AccessDeniedError) as denied:
            kv.resolver.resolve(uri, task.principal_id)
        assert "set-policy" in denied.value.message
        kv.policies.set_policy(vault, task.principal_id, ["list"])
        with pytest.raises(AccessDeniedError):
            kv.resolver.resolve(uri, task.principal_id)
        kv.policies.set_policy(vault, task.principal_id, ["get"])
        assert kv.resolver.resolve(uri, task.principal_id) == VALUE
        log.info("after resolving: %s", VALUE)
        lines = stream.getvalue().splitlines()
        assert lines == [f"before resolving: {VALUE}", "after resolving: ***"]
    finally:
        log.removeHandler(handler)
        MASKER.clear()


def test_system_identity_is_stable_and_removed_with_its_grants(
    services: Services, vault: str
) -> None:
    principals = services.identities.principals
    first = principals.ensure_system_identity("task", "reg/node-public")
    assert principals.ensure_system_identity("task", "reg/node-public") == first
    assert principals.all() == []  # system identities are not user-assigned ones
    services.identities.groups.create("rg", "local")
    services.vault.policies.set_policy(vault, first.principal_id, ["get"])
    services.identities.roles.create(
        first.principal_id, "owner", "/subscriptions/local/resourceGroups/rg"
    )
    principals.remove_system_identity("task", "reg/node-public")
    assert services.vault.policies.policies(services.vault.vaults.get(vault)) == []
    assert services.identities.roles.all() == []
    with pytest.raises(NotFoundError):
        principals.find(first.principal_id)


def test_policy_needs_a_known_principal_and_changes_nothing(services: Services, vault: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        services.vault.policies.set_policy(vault, "00000000-0000-0000-0000-000000000000", ["get"])
    assert caught.value.code == "PrincipalNotFound"
    assert services.vault.policies.policies(services.vault.vaults.get(vault)) == []


def test_group_create_again_is_idempotent_unless_location_differs(services: Services) -> None:
    groups = services.identities.groups
    assert groups.create("rg1", "eastus")[1] is True
    assert groups.create("RG1", "eastus")[1] is False
    with pytest.raises(ConflictError):
        groups.create("rg1", "westus")
    assert [g.name for g in groups.all()] == ["rg1"]


def test_oversized_value_is_refused(services: Services, vault: str) -> None:
    with pytest.raises(InvalidArgumentError, match="25600"):
        services.vault.secrets.set(vault, "big", "x" * 25_601)
    assert services.vault.secrets.all(vault) == []
