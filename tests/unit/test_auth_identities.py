"""The token service and the access check over a real (migrated) SQLite database: stamps and
uids that revoke, refresh tokens that never outlive their first expiry, service principals
and role assignments, and sign-in errors that echo nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from airlock.auth import roles
from airlock.auth.access import AccessDeniedError, Need, Realm
from airlock.auth.issuer import REFRESH_USERNAME, AuthenticationError, Identity
from airlock.auth.passwords import hash_password
from airlock.auth.scopes import AccessEntry
from airlock.auth.service import AuthService
from airlock.crypto import load_master_key
from airlock.db import epochs
from airlock.db.engine import open_database
from airlock.errors import InvalidArgumentError
from airlock.registry.registries import RegistryCatalog

PULL = [AccessEntry("repository", "node", frozenset({"pull"}))]
PUSH = [AccessEntry("repository", "node", frozenset({"pull", "push"}))]


@dataclass
class World:
    engine: Engine
    auth: AuthService
    catalog: RegistryCatalog

    def realm(self, name: str) -> Realm:
        record = self.catalog.get(name)
        return self.auth.realm(record.id, record.name, record.login_server)

    def add_registry(self, name: str, port: int) -> Realm:
        record = self.catalog.add(
            name=name, port=port, resource_group="rg1", location="local", sku="Basic"
        )
        self.auth.prepare_registry(record.id)
        return self.realm(name)

    def sign_in(self, realm: Realm, username: str, password: str) -> Identity:
        return asyncio.run(self.auth.token_service.sign_in(realm, username, password, "10.0.0.1"))

    def pulls(self, realm: Realm, token: str) -> bool:
        try:
            self.auth.access.authorize(realm, f"Bearer {token}", Need.repository("node", "pull"))
        except AccessDeniedError:
            return False
        return True

    def sql(self, statement: str, **params: Any) -> None:
        """A change made as another store (or another server process) would make it: in one
        transaction that moves the identity epoch."""
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)
            epochs.bump(conn)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    engine = open_database(tmp_path / "airlock.db")
    auth = AuthService.open(tmp_path, engine, load_master_key(tmp_path))
    w = World(engine, auth, RegistryCatalog(engine))
    w.add_registry("regone", 5101)
    try:
        yield w
    finally:
        engine.dispose()


def admin_password(world: World, realm: Realm, index: int = 0) -> str:
    creds = world.auth.admin.credentials(realm.registry_id, realm.registry_name)
    return str(creds["passwords"][index]["value"])  # type: ignore[index]


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


def test_tokens_carry_the_registry_uid_and_the_identity_stamp(world: World) -> None:
    realm = world.realm("regone")
    identity = world.sign_in(realm, "regone", admin_password(world, realm))
    got = claims(world.auth.token_service.issue(realm, identity, PULL).token)
    assert got["rid"] == realm.registry_uid and len(realm.registry_uid) == 36
    assert got["stamp"] == identity.stamp and got["stamp"]


def test_a_refreshed_refresh_token_keeps_the_first_expiry(world: World) -> None:
    realm = world.realm("regone")
    service = world.auth.token_service
    first = service.issue_refresh(
        realm, world.sign_in(realm, "regone", admin_password(world, realm))
    )
    again = service.issue_refresh(realm, world.sign_in(realm, REFRESH_USERNAME, first.token))
    assert claims(again.token)["exp"] == claims(first.token)["exp"]
    assert again.token != first.token


def test_renewing_the_admin_passwords_revokes_refresh_and_access_tokens(world: World) -> None:
    realm = world.realm("regone")
    service = world.auth.token_service
    identity = world.sign_in(realm, "regone", admin_password(world, realm))
    refresh = service.issue_refresh(realm, identity).token
    access = service.issue(realm, identity, PULL).token
    assert world.pulls(realm, access)
    world.auth.admin.renew(realm.registry_id, "regone", "password")
    world.auth.admin.renew(realm.registry_id, "regone", "password2")
    with pytest.raises(AuthenticationError, match="credentials changed"):
        world.sign_in(realm, REFRESH_USERNAME, refresh)
    assert not world.pulls(realm, access)  # the cached grant went with the epoch
    fresh = world.sign_in(realm, "regone", admin_password(world, realm))
    assert world.pulls(realm, service.issue(realm, fresh, PULL).token)


def test_generating_credentials_revokes_the_tokens_jwts(world: World) -> None:
    realm = world.realm("regone")
    service = world.auth.token_service
    _, values = world.auth.tokens.create(
        realm.registry_id, "regone", "ci-pull", scope_map="_repositories_pull"
    )
    identity = world.sign_in(realm, "ci-pull", values["password1"])
    refresh = service.issue_refresh(realm, identity).token
    access = service.issue(realm, identity, PULL).token
    assert world.pulls(realm, access)
    world.auth.tokens.generate(realm.registry_id, "ci-pull", ["password2"])
    assert not world.pulls(realm, access)
    with pytest.raises(AuthenticationError):
        world.sign_in(realm, REFRESH_USERNAME, refresh)
    # password1 was not regenerated: it signs in again, under the new stamp.
    again = world.sign_in(realm, "ci-pull", values["password1"])
    assert world.pulls(realm, service.issue(realm, again, PULL).token)


def test_a_token_re_created_under_the_same_name_does_not_honour_old_jwts(world: World) -> None:
    realm = world.realm("regone")
    _, values = world.auth.tokens.create(
        realm.registry_id, "regone", "ci-token", scope_map="_repositories_pull"
    )
    old = world.auth.token_service.issue(
        realm, world.sign_in(realm, "ci-token", values["password1"]), PUSH
    ).token
    world.auth.tokens.delete(realm.registry_id, "ci-token")
    world.auth.tokens.create(
        realm.registry_id, "regone", "ci-token", scope_map="_repositories_push"
    )
    with pytest.raises(AccessDeniedError) as caught:
        world.auth.access.authorize(realm, f"Bearer {old}", Need.repository("node", "push"))
    assert caught.value.status == 401


def test_a_registry_re_created_under_the_same_name_and_port_refuses_old_tokens(
    world: World,
) -> None:
    realm = world.realm("regone")
    service = world.auth.token_service
    identity = world.sign_in(realm, "regone", admin_password(world, realm))
    access, refresh = (
        service.issue(realm, identity, PULL).token,
        service.issue_refresh(realm, identity).token,
    )
    world.catalog.remove("regone")
    again = world.add_registry("regone", 5101)
    assert again.registry_uid != realm.registry_uid
    assert (again.registry_name, again.login_server) == (realm.registry_name, realm.login_server)
    assert not world.pulls(again, access)
    with pytest.raises(AuthenticationError, match="not for registry"):
        world.sign_in(again, REFRESH_USERNAME, refresh)


def add_service_principal(world: World, role: str | None, scope: str) -> tuple[str, str, str]:
    """A service principal with one client secret and (``role``) one role assignment, written
    as rows (the management plane's own endpoints are tested with it)."""
    principal_id, app_id, secret = str(uuid.uuid4()), str(uuid.uuid4()), "s3cret-" + "x" * 30
    world.sql(
        "INSERT INTO principals (principal_id, client_id, name, resource_group, kind,"
        " created_at, stamp)"
        " VALUES (:p, :c, 'ci-sp', '', 'service-principal', '2026-01-01T00:00:00', :s)",
        p=principal_id,
        c=app_id,
        s=str(uuid.uuid4()),
    )
    world.sql(
        "INSERT INTO principal_credentials (key_id, principal_id, hash, created_at)"
        " VALUES (:k, :p, :h, '2026-01-01T00:00:00')",
        k=str(uuid.uuid4()),
        p=principal_id,
        h=hash_password(secret),
    )
    if role is not None:
        world.sql(
            "INSERT INTO role_assignments (id, assignee, role, scope, created_at)"
            " VALUES (:i, :p, :r, :s, '2026-01-01T00:00:00')",
            i=str(uuid.uuid4()),
            p=principal_id,
            r=role,
            s=scope,
        )
    return principal_id, app_id, secret


def test_service_principal_with_acr_pull_pulls_and_is_refused_at_once_when_deleted(
    world: World,
) -> None:
    realm = world.realm("regone")
    other = world.add_registry("regtwo", 5102)
    principal_id, app_id, secret = add_service_principal(
        world, "AcrPull", roles.registry_scope("rg1", "regone")
    )
    identity = world.sign_in(realm, app_id, secret)
    assert identity.subject == f"principal:{principal_id}"
    token = world.auth.token_service.issue(realm, identity, PUSH).token
    assert claims(token)["access"] == [{"type": "repository", "name": "node", "actions": ["pull"]}]
    assert world.pulls(realm, token)
    with pytest.raises(AuthenticationError, match="no role on registry 'regtwo'"):
        world.sign_in(other, app_id, secret)
    world.sql("DELETE FROM principals WHERE principal_id = :p", p=principal_id)
    assert not world.pulls(realm, token)
    with pytest.raises(AuthenticationError, match="invalid username or password"):
        world.sign_in(realm, app_id, secret)


def test_removing_the_role_assignment_refuses_the_principal_at_once(world: World) -> None:
    realm = world.realm("regone")
    principal_id, app_id, secret = add_service_principal(world, "AcrPush", "/subscriptions/local")
    service = world.auth.token_service
    token = service.issue(realm, world.sign_in(realm, app_id, secret), PUSH).token
    assert claims(token)["access"][0]["actions"] == ["pull", "push"]
    assert world.pulls(realm, token)
    world.sql("DELETE FROM role_assignments WHERE assignee = :p", p=principal_id)
    assert not world.pulls(realm, token)
    with pytest.raises(AuthenticationError):
        service.issue_refresh_for_principal(realm, principal_id)


def test_refresh_token_for_a_signed_in_principal(world: World) -> None:
    realm = world.realm("regone")
    principal_id, _, _ = add_service_principal(world, "Owner", roles.group_scope("rg1"))
    issued = world.auth.token_service.issue_refresh_for_principal(realm, principal_id)
    assert claims(issued.token)["refresh"] is True
    identity = world.sign_in(realm, REFRESH_USERNAME, issued.token)
    assert identity.subject == f"principal:{principal_id}"
    world.sql("UPDATE principals SET stamp = 'reset' WHERE principal_id = :p", p=principal_id)
    with pytest.raises(AuthenticationError):
        world.sign_in(realm, REFRESH_USERNAME, issued.token)
    nobody, _, _ = add_service_principal(world, None, "")
    with pytest.raises(AuthenticationError, match="no role on registry"):
        world.auth.token_service.issue_refresh_for_principal(realm, nobody)


def test_expired_client_secret_is_refused(world: World) -> None:
    realm = world.realm("regone")
    principal_id, app_id, secret = add_service_principal(world, "AcrPull", "/subscriptions/local")
    world.sql(
        "UPDATE principal_credentials SET expires_at = '2020-01-01T00:00:00+00:00'"
        " WHERE principal_id = :p",
        p=principal_id,
    )
    with pytest.raises(AuthenticationError, match="expired"):
        world.sign_in(realm, app_id, secret)


@pytest.mark.parametrize("username", ["nosuchtoken", "ci-pull2", "regone", str(uuid.uuid4())])
def test_refusals_quote_neither_the_username_nor_the_password(world: World, username: str) -> None:
    realm = world.realm("regone")
    world.auth.tokens.create(
        realm.registry_id, "regone", "ci-pull2", scope_map="_repositories_pull"
    )
    with pytest.raises(AuthenticationError) as caught:
        world.sign_in(realm, username, "Typed-Pa55word")
    assert str(caught.value) == "invalid username or password"


def test_uuid_shaped_token_names_are_refused(world: World) -> None:
    realm = world.realm("regone")
    for name in (REFRESH_USERNAME, str(uuid.uuid4()), str(uuid.uuid4()).upper()):
        with pytest.raises(InvalidArgumentError, match="like a UUID") as caught:
            world.auth.tokens.create(
                realm.registry_id, "regone", name, scope_map="_repositories_pull"
            )
        assert caught.value.status == 400


def test_every_change_to_tokens_and_maps_moves_the_epoch(world: World) -> None:
    realm = world.realm("regone")
    rid, auth = realm.registry_id, world.auth
    seen = [auth.directory.epoch()]

    def moved() -> bool:
        seen.append(auth.directory.epoch())
        return seen[-1] > seen[-2]

    auth.scope_maps.create(rid, "map-one", ["repositories/a/content/read"])
    auth.tokens.create(rid, "regone", "tok-one", scope_map="map-one")
    assert moved()
    auth.tokens.update(rid, "tok-one", status="disabled")
    assert moved()
    auth.tokens.generate(rid, "tok-one")
    assert moved()
    auth.scope_maps.update(rid, "map-one", add=["repositories/b/content/read"])
    assert moved()
    auth.tokens.delete(rid, "tok-one")
    assert moved()
    auth.scope_maps.delete(rid, "map-one")
    assert moved()
    auth.admin.renew(rid, "regone", "password")
    assert moved()
