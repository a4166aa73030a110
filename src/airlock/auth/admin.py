"""The registry admin user: username = the registry's name, two passwords.

The passwords are sealed with the master key rather than hashed, because
``acr credential show`` prints them again (as ACR does). The seal's context names the
registry and the password, so a sealed value copied to another row does not open.

``registries.admin_stamp`` changes whenever a password is renewed: the admin user's JWTs
carry the stamp they were issued under, so renewing revokes every refresh token issued
before (with either password: the stamp does not say which one was used).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update

from airlock.auth.names import iso, now
from airlock.auth.passwords import generate_password
from airlock.crypto import MasterKey, SealError
from airlock.db import epochs
from airlock.db.schema import registries, registry_admin_passwords
from airlock.errors import AirlockError, InvalidArgumentError

PASSWORD_NAMES = ("password", "password2")


class AdminUserDisabledError(AirlockError):
    status = 400
    default_code = "AdminUserDisabled"


@dataclass(frozen=True, slots=True)
class AdminState:
    """What a sign-in as the admin user checks, read together: the stamp is the one of the
    passwords compared."""

    enabled: bool
    stamp: str
    passwords: tuple[str, ...]

    def check(self, password: str) -> bool:
        """Whether ``password`` is one of the passwords (compared in constant time)."""
        given = password.encode()
        matched = False
        for value in self.passwords:
            matched |= hmac.compare_digest(value.encode(), given)
        return matched


def _context(registry_id: int, name: str) -> str:
    return f"registry/{registry_id}/admin/{name}"


class AdminUsers:
    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self.engine = engine
        self.master_key = master_key
        self._revealed: Callable[[str], None] = lambda value: None

    def on_new_password(self, callback: Callable[[str], None]) -> None:
        """Call ``callback`` with every password made from now on (the server's masker)."""
        self._revealed = callback

    def all_passwords(self) -> Iterator[str]:
        """Every admin password of every registry (for the masker, at server start)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    registry_admin_passwords.c.registry_id,
                    registry_admin_passwords.c.name,
                    registry_admin_passwords.c.sealed,
                )
            ).all()
        for row in rows:
            try:
                yield self.master_key.open(row.sealed, _context(row.registry_id, row.name)).decode()
            except SealError:
                continue  # cannot be shown either

    def ensure(self, registry_id: int) -> None:
        """Make the passwords a registry lacks (new registries, and those made before)."""
        with self.engine.begin() as conn:
            have = set(
                conn.execute(
                    select(registry_admin_passwords.c.name).where(
                        registry_admin_passwords.c.registry_id == registry_id
                    )
                ).scalars()
            )
            for name in PASSWORD_NAMES:
                if name not in have:
                    conn.execute(
                        registry_admin_passwords.insert().values(
                            registry_id=registry_id,
                            name=name,
                            sealed=self._seal(registry_id, name, generate_password()),
                            created_at=iso(now()),
                        )
                    )

    def credentials(self, registry_id: int, registry_name: str) -> dict[str, object]:
        """``{username, passwords: [{name, value}]}``, as ``az acr credential show``."""
        if not self.enabled(registry_id):
            raise AdminUserDisabledError(
                f"the admin user of registry {registry_name!r} is disabled; enable it with "
                f"'airlock acr update --name {registry_name} --admin-enabled true'"
            )
        self.ensure(registry_id)
        return {
            "username": registry_name,
            "passwords": [
                {"name": name, "value": value} for name, value in self._passwords(registry_id)
            ],
        }

    def renew(self, registry_id: int, registry_name: str, name: str) -> dict[str, object]:
        if name not in PASSWORD_NAMES:
            raise InvalidArgumentError(
                f"unknown password name {name[:20]!r}; use {' or '.join(PASSWORD_NAMES)}"
            )
        if not self.enabled(registry_id):
            return self.credentials(registry_id, registry_name)  # raises the disabled error
        self.ensure(registry_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(registry_admin_passwords)
                .where(registry_admin_passwords.c.registry_id == registry_id)
                .where(registry_admin_passwords.c.name == name)
                .values(
                    sealed=self._seal(registry_id, name, generate_password()),
                    created_at=iso(now()),
                )
            )
            conn.execute(
                update(registries)
                .where(registries.c.id == registry_id)
                .values(admin_stamp=str(uuid.uuid4()))
            )
            epochs.bump(conn)
        return self.credentials(registry_id, registry_name)

    def enabled(self, registry_id: int) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(registries.c.admin_user_enabled).where(registries.c.id == registry_id)
            ).scalar()
        return bool(value)

    def check(self, registry_id: int, password: str) -> bool:
        """Whether ``password`` is one of the admin passwords (compared in constant time)."""
        return self.state(registry_id).check(password)

    def state(self, registry_id: int) -> AdminState:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(registries.c.admin_user_enabled, registries.c.admin_stamp).where(
                    registries.c.id == registry_id
                )
            ).first()
            if row is None:
                return AdminState(False, "", ())
            values = tuple(value for _, value in self._read_passwords(conn, registry_id))
        return AdminState(bool(row.admin_user_enabled), str(row.admin_stamp), values)

    def _passwords(self, registry_id: int) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return self._read_passwords(conn, registry_id)

    def _read_passwords(self, conn: Connection, registry_id: int) -> list[tuple[str, str]]:
        rows = conn.execute(
            select(registry_admin_passwords.c.name, registry_admin_passwords.c.sealed).where(
                registry_admin_passwords.c.registry_id == registry_id
            )
        ).all()
        opened = {
            row.name: self.master_key.open(row.sealed, _context(registry_id, row.name)).decode()
            for row in rows
        }
        return [(name, opened[name]) for name in PASSWORD_NAMES if name in opened]

    def _seal(self, registry_id: int, name: str, value: str) -> bytes:
        self._revealed(value)
        return self.master_key.seal(value.encode(), _context(registry_id, name))
