"""Repository-scoped tokens (``acr token``): a name, a scope map, a status, two passwords.

Passwords are shown once, in the answer to ``create`` and ``credential generate``, and kept
only as argon2id hashes.

Each token has a ``uid`` (new when a token is created, so a token deleted and created again
under the same name never honours its predecessor's JWTs) and a ``stamp`` (new on
``credential generate``, which revokes the refresh tokens issued under the old passwords).
Every change here moves the identity epoch in its transaction, so that every server process
drops the grants it cached.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.engine import Row

from airlock.auth.names import check_name, expiry_after, is_past, iso, now
from airlock.auth.passwords import generate_password, hash_password
from airlock.auth.scope_maps import ScopeMaps
from airlock.db import epochs
from airlock.db.schema import scope_maps, token_passwords, tokens
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

PASSWORD_NAMES = ("password1", "password2")
STATUSES = ("enabled", "disabled")
# Usernames of this shape are refresh tokens (00000000-0000-0000-0000-000000000000) and
# service principals' appIds at the token endpoint, so no token may be named like one.
UUID_SHAPED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True, slots=True)
class PasswordInfo:
    name: str
    created_at: str
    expiry: str | None
    hash: str

    @property
    def expired(self) -> bool:
        return is_past(self.expiry)


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    name: str
    scope_map: str
    scope_map_actions: tuple[str, ...]
    status: str
    created_at: str
    passwords: tuple[PasswordInfo, ...]
    uid: str = ""
    stamp: str = ""

    def to_json(
        self, registry_id_path: str, values: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """az's token shape; password values only when ``values`` holds new ones."""
        shown = []
        for password in self.passwords:
            entry: dict[str, Any] = {
                "name": password.name,
                "creationTime": password.created_at,
                "expiry": password.expiry,
            }
            if values and password.name in values:
                entry["value"] = values[password.name]
            shown.append(entry)
        return {
            "name": self.name,
            "id": f"{registry_id_path}/tokens/{self.name}",
            "scopeMapId": f"{registry_id_path}/scopeMaps/{self.scope_map}",
            "status": self.status,
            "creationDate": self.created_at,
            "provisioningState": "Succeeded",
            "type": "Airlock/registries/tokens",
            "credentials": {"username": self.name, "passwords": shown, "certificates": []},
        }


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidArgumentError(f"invalid status {status[:20]!r}; use enabled or disabled")
    return status


def check_password_names(names: Any) -> list[str]:
    if not isinstance(names, list) or not names:
        return list(PASSWORD_NAMES)
    for name in names:
        if name not in PASSWORD_NAMES:
            raise InvalidArgumentError(
                f"unknown password name {str(name)[:20]!r}; use password1 or password2"
            )
    return list(dict.fromkeys(names))


class Tokens:
    def __init__(self, engine: Engine, maps: ScopeMaps) -> None:
        self.engine = engine
        self.maps = maps

    def create(
        self,
        registry_id: int,
        registry_name: str,
        name: str,
        *,
        scope_map: str | None,
        actions: Any = None,
        status: str = "enabled",
        expiry_days: int | None = None,
    ) -> tuple[Token, dict[str, str]]:
        """A new token and its two passwords (the only time they are shown)."""
        check_name("token", name)
        check_status(status)
        expiry = expiry_after(expiry_days)
        if name.lower() == registry_name.lower():
            raise InvalidArgumentError(
                f"a token cannot be named {name!r}: that is the registry's admin user"
            )
        if UUID_SHAPED.match(name):
            raise InvalidArgumentError(
                f"a token cannot be named like a UUID ({name!r}): such usernames are refresh "
                "tokens and service principals' appIds",
                "InvalidName",
            )
        if (scope_map is None) == (actions is None):
            raise InvalidArgumentError("give either a scope map or repositories and actions")
        with self.engine.begin() as conn:
            if self._find(conn, registry_id, name) is not None:
                raise ConflictError(f"a token named {name!r} already exists in this registry")
            if scope_map is None:
                # As az does: the token's own map, named after it.
                made = self.maps.create_in(
                    conn, registry_id, f"{name}-scope-map", actions, f"Scope map of token {name}"
                )
                map_id = made.id
            else:
                map_id = self._map_id(conn, registry_id, scope_map)
            conn.execute(
                insert(tokens).values(
                    registry_id=registry_id,
                    name=name,
                    scope_map_id=map_id,
                    status=status,
                    created_at=iso(now()),
                    uid=str(uuid.uuid4()),
                    stamp=str(uuid.uuid4()),
                )
            )
            token = self._get(conn, registry_id, name)
            values = self._set_passwords(conn, token.id, list(PASSWORD_NAMES), expiry)
            epochs.bump(conn)
            return self._get(conn, registry_id, name), values

    def get(self, registry_id: int, name: str) -> Token:
        with self.engine.connect() as conn:
            return self._get(conn, registry_id, name)

    def find(self, registry_id: int, name: str) -> Token | None:
        with self.engine.connect() as conn:
            return self._find(conn, registry_id, name)

    def all(self, registry_id: int) -> list[Token]:
        with self.engine.connect() as conn:
            names = conn.execute(
                select(tokens.c.name)
                .where(tokens.c.registry_id == registry_id)
                .order_by(tokens.c.name)
            ).scalars()
            return [self._get(conn, registry_id, name) for name in list(names)]

    def update(
        self,
        registry_id: int,
        name: str,
        *,
        scope_map: str | None = None,
        status: str | None = None,
    ) -> Token:
        with self.engine.begin() as conn:
            token = self._get(conn, registry_id, name)
            values: dict[str, Any] = {}
            if status is not None:
                values["status"] = check_status(status)
            if scope_map is not None:
                values["scope_map_id"] = self._map_id(conn, registry_id, scope_map)
            if values:
                conn.execute(update(tokens).where(tokens.c.id == token.id).values(values))
                epochs.bump(conn)
            return self._get(conn, registry_id, name)

    def delete(self, registry_id: int, name: str) -> Token:
        with self.engine.begin() as conn:
            token = self._get(conn, registry_id, name)
            conn.execute(delete(tokens).where(tokens.c.id == token.id))
            epochs.bump(conn)
            return token

    def generate(
        self, registry_id: int, name: str, which: Any = None, expiry_days: int | None = None
    ) -> tuple[Token, dict[str, str]]:
        """New values for ``which`` passwords (both when not given)."""
        names = check_password_names(which)
        expiry = expiry_after(expiry_days)
        with self.engine.begin() as conn:
            token = self._get(conn, registry_id, name)
            values = self._set_passwords(conn, token.id, names, expiry)
            conn.execute(
                update(tokens).where(tokens.c.id == token.id).values(stamp=str(uuid.uuid4()))
            )
            epochs.bump(conn)
            return self._get(conn, registry_id, name), values

    def _set_passwords(
        self, conn: Connection, token_id: int, names: list[str], expiry: str | None
    ) -> dict[str, str]:
        values = {}
        for password_name in names:
            value = generate_password()
            conn.execute(
                delete(token_passwords)
                .where(token_passwords.c.token_id == token_id)
                .where(token_passwords.c.name == password_name)
            )
            conn.execute(
                insert(token_passwords).values(
                    token_id=token_id,
                    name=password_name,
                    hash=hash_password(value),
                    expiry=expiry,
                    created_at=iso(now()),
                )
            )
            values[password_name] = value
        return values

    def _map_id(self, conn: Connection, registry_id: int, scope_map: str) -> int:
        found = conn.execute(
            select(scope_maps.c.id)
            .where(scope_maps.c.registry_id == registry_id)
            .where(scope_maps.c.name == scope_map)
        ).scalar()
        if found is None:
            raise NotFoundError(
                f"scope map {scope_map[:60]!r} not found; list them with "
                "'airlock acr scope-map list --registry <registry>'",
                "ScopeMapNotFound",
            )
        return int(found)

    def _find(self, conn: Connection, registry_id: int, name: str) -> Token | None:
        row = conn.execute(
            select(
                tokens.c.id,
                tokens.c.name,
                tokens.c.status,
                tokens.c.created_at,
                tokens.c.uid,
                tokens.c.stamp,
                scope_maps.c.name.label("map_name"),
                scope_maps.c.actions,
            )
            .join(scope_maps, scope_maps.c.id == tokens.c.scope_map_id)
            .where(tokens.c.registry_id == registry_id)
            .where(tokens.c.name == name)
        ).first()
        if row is None:
            return None
        passwords = conn.execute(
            select(token_passwords)
            .where(token_passwords.c.token_id == row.id)
            .order_by(token_passwords.c.name)
        ).all()
        return _record(cast("Row[Any]", row), passwords)

    def _get(self, conn: Connection, registry_id: int, name: str) -> Token:
        found = self._find(conn, registry_id, name)
        if found is None:
            raise NotFoundError(
                f"token {name[:60]!r} not found; list them with "
                "'airlock acr token list --registry <registry>'",
                "TokenNotFound",
            )
        return found


def _record(row: Row[Any], passwords: Sequence[Row[Any]]) -> Token:
    return Token(
        id=row.id,
        name=row.name,
        scope_map=row.map_name,
        scope_map_actions=tuple(json.loads(row.actions)),
        status=row.status,
        created_at=row.created_at,
        passwords=tuple(PasswordInfo(p.name, p.created_at, p.expiry, p.hash) for p in passwords),
        uid=row.uid,
        stamp=row.stamp,
    )
