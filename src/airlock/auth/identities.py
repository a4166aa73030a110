"""Who a token's ``sub`` names, and what that identity may do now.

Subjects: ``admin`` (the registry's admin user), ``token:<name>``, ``principal:<id>`` (a
user, service principal, owner, or task or user-assigned identity), ``run:<id>`` (a task run,
which may push and pull on its own registry while it is Running, as an ACR run may) and
``anonymous``. The
registry asks here once per new JWT (then caches until the identity epoch moves), with plain
SQL on the shared connection, so that a token disabled, deleted or re-created, a password
renewed, an admin user switched off, a narrowed scope map or a removed role assignment take
effect at once.

Each identity has a *stamp* that tokens carry and that must still match: the admin user's is
``registries.admin_stamp`` (changed by ``credential renew``), a token's is its uid and stamp
(``uid:stamp``; a new uid when re-created, a new stamp on ``credential generate``), a
principal's is ``principals.stamp`` (changed when its credentials are reset).

A principal may do on a registry what the built-in roles of its role assignments whose scope
covers the registry allow there (``roles.registry_permissions``); with none it may do
nothing, and its tokens are refused.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from airlock.auth import roles
from airlock.auth.scopes import ANONYMOUS_PULL, EVERYTHING, Permissions, ScopeError
from airlock.db import epochs

ADMIN = "admin"
ANONYMOUS = "anonymous"
TOKEN = "token:"
PRINCIPAL = "principal:"
RUN = "run:"
# Principals of this kind sign in to registries with their appId and a client secret.
# principals.kind of service principals (airlock.identity.accounts creates them).
SERVICE_PRINCIPAL_KIND = "service-principal"


def token_subject(name: str) -> str:
    return TOKEN + name


def principal_subject(principal_id: str) -> str:
    return PRINCIPAL + principal_id


def run_subject(run: str) -> str:
    return RUN + run


def describe(subject: str) -> str:
    """A subject as error messages name it (never with a secret)."""
    if subject == ADMIN:
        return "the admin user"
    if subject == ANONYMOUS:
        return "anonymous access"
    kind, _, name = subject.partition(":")
    if kind == "run":
        return f"run {name!r}"
    return f"{'token' if kind == 'token' else 'identity'} {name!r}"


@dataclass(frozen=True, slots=True)
class Current:
    """An identity that is still valid: what it may do on the registry now, and the stamp
    its tokens must carry."""

    permissions: Permissions
    stamp: str = ""


@dataclass(frozen=True, slots=True)
class SecretHash:
    hash: str
    expires_at: str | None

    def expired(self, now: datetime) -> bool:
        if self.expires_at is None:
            return False
        try:
            return _moment(self.expires_at) <= now
        except ValueError:
            return True  # an expiry nobody can read is no licence to sign in


@dataclass(frozen=True, slots=True)
class ServicePrincipal:
    principal_id: str
    stamp: str
    secrets: tuple[SecretHash, ...]


_ANONYMOUS_PULL = "SELECT anonymous_pull_enabled FROM registries WHERE id = ?"
_ADMIN = "SELECT admin_user_enabled, admin_stamp FROM registries WHERE id = ?"
_UID = "SELECT uid FROM registries WHERE id = ?"
_REGISTRY_SCOPE = "SELECT resource_group, name FROM registries WHERE id = ?"
_TOKEN = (
    "SELECT t.status, m.actions, t.uid, t.stamp FROM tokens t"
    " JOIN scope_maps m ON m.id = t.scope_map_id WHERE t.registry_id = ? AND t.name = ?"
)
_PRINCIPAL = "SELECT stamp FROM principals WHERE principal_id = ?"
_RUN = "SELECT 1 FROM runs WHERE id = ? AND registry_id = ? AND status = 'Running'"
_ASSIGNMENTS = "SELECT role, scope FROM role_assignments WHERE assignee = ?"
_SERVICE_PRINCIPAL = "SELECT principal_id, stamp FROM principals WHERE client_id = ? AND kind = ?"
_SECRETS = (
    "SELECT hash, expires_at FROM principal_credentials WHERE principal_id = ? ORDER BY key_id"
)


def token_stamp(uid: str, stamp: str) -> str:
    """What a token's JWTs carry: its uid (new when re-created) and its credential stamp."""
    return f"{uid}:{stamp}"


class IdentityDirectory:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def epoch(self) -> int:
        """The identity epoch: moves on every committed change to who may do what."""
        return epochs.read(self.db)

    def registry_uid(self, registry_id: int) -> str | None:
        row = self.db.execute(_UID, (registry_id,)).fetchone()
        return None if row is None else str(row[0])

    def anonymous_pull(self, registry_id: int) -> bool:
        row = self.db.execute(_ANONYMOUS_PULL, (registry_id,)).fetchone()
        return row is not None and bool(row[0])

    def current(self, registry_id: int, subject: str, stamp: str | None = None) -> Current | None:
        """The identity's permissions and stamp now; None when it is gone, disabled, has no
        role on the registry, or (``stamp`` given) its credentials changed since."""
        found = self._current(registry_id, subject)
        if found is None or (stamp is not None and stamp != found.stamp):
            return None
        return found

    def principal_permissions(self, registry_id: int, principal_id: str) -> Permissions | None:
        """What the principal's role assignments covering the registry allow on it."""
        registry = self.db.execute(_REGISTRY_SCOPE, (registry_id,)).fetchone()
        if registry is None:
            return None
        target = roles.registry_scope(registry[0], registry[1])
        held = [
            role
            for role, scope in self.db.execute(_ASSIGNMENTS, (principal_id,)).fetchall()
            if roles.covers(scope, target)
        ]
        return roles.registry_permissions(held)

    def service_principal(self, client_id: str) -> ServicePrincipal | None:
        """The service principal whose appId is ``client_id``, with its secrets' hashes."""
        row = self.db.execute(
            _SERVICE_PRINCIPAL, (client_id.lower(), SERVICE_PRINCIPAL_KIND)
        ).fetchone()
        if row is None:
            return None
        secrets = self.db.execute(_SECRETS, (row[0],)).fetchall()
        return ServicePrincipal(
            str(row[0]), str(row[1] or ""), tuple(SecretHash(h, e) for h, e in secrets)
        )

    def _current(self, registry_id: int, subject: str) -> Current | None:
        if subject == ADMIN:
            row = self.db.execute(_ADMIN, (registry_id,)).fetchone()
            return Current(EVERYTHING, str(row[1])) if row is not None and row[0] else None
        if subject == ANONYMOUS:
            return Current(ANONYMOUS_PULL) if self.anonymous_pull(registry_id) else None
        if subject.startswith(TOKEN):
            row = self.db.execute(_TOKEN, (registry_id, subject[len(TOKEN) :])).fetchone()
            if row is None or row[0] != "enabled":
                return None
            try:
                permissions = Permissions.from_map_actions(json.loads(row[1]))
            except (ScopeError, ValueError):
                return None
            return Current(permissions, token_stamp(row[2], row[3]))
        if subject.startswith(PRINCIPAL):
            principal_id = subject[len(PRINCIPAL) :]
            row = self.db.execute(_PRINCIPAL, (principal_id,)).fetchone()
            if row is None:
                return None
            allowed = self.principal_permissions(registry_id, principal_id)
            return None if allowed is None else Current(allowed, str(row[0] or ""))
        if subject.startswith(RUN):
            found = self.db.execute(_RUN, (subject[len(RUN) :], registry_id)).fetchone()
            return Current(EVERYTHING, subject) if found is not None else None
        return None


def now_utc() -> datetime:
    return datetime.now(UTC)


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    # Stored times are UTC; an offset-less one is read as UTC rather than refused.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
