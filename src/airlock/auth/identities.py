"""Who a token's ``sub`` names, and what that identity may do now.

Subjects: ``admin`` (the registry's admin user), ``token:<name>``, ``principal:<id>`` (a task
or user-assigned identity) and ``anonymous``. The registry asks here once per new JWT (then
caches), with plain SQL on the shared connection, so that a token disabled or deleted, an
admin user switched off or a narrowed scope map take effect at once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from airlock.auth.scopes import ANONYMOUS_PULL, EVERYTHING, Permissions, ScopeError

ADMIN = "admin"
ANONYMOUS = "anonymous"
TOKEN = "token:"
PRINCIPAL = "principal:"


def token_subject(name: str) -> str:
    return TOKEN + name


def principal_subject(principal_id: str) -> str:
    return PRINCIPAL + principal_id


def describe(subject: str) -> str:
    """A subject as error messages name it (never with a secret)."""
    if subject == ADMIN:
        return "the admin user"
    if subject == ANONYMOUS:
        return "anonymous access"
    kind, _, name = subject.partition(":")
    return f"{'token' if kind == 'token' else 'identity'} {name!r}"


@dataclass(frozen=True, slots=True)
class Current:
    """An identity that is still valid. ``permissions`` None: not narrowed here (a
    principal's tokens carry what its issuer decided it may do)."""

    permissions: Permissions | None


_ANONYMOUS_PULL = "SELECT anonymous_pull_enabled FROM registries WHERE id = ?"
_ADMIN = "SELECT admin_user_enabled FROM registries WHERE id = ?"
_TOKEN = (
    "SELECT t.status, m.actions FROM tokens t JOIN scope_maps m ON m.id = t.scope_map_id"
    " WHERE t.registry_id = ? AND t.name = ?"
)
_PRINCIPAL = "SELECT 1 FROM principals WHERE principal_id = ?"


class IdentityDirectory:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def anonymous_pull(self, registry_id: int) -> bool:
        row = self.db.execute(_ANONYMOUS_PULL, (registry_id,)).fetchone()
        return row is not None and bool(row[0])

    def current(self, registry_id: int, subject: str) -> Current | None:
        """The identity's permissions now, or None when it is gone or disabled."""
        if subject == ADMIN:
            row = self.db.execute(_ADMIN, (registry_id,)).fetchone()
            return Current(EVERYTHING) if row is not None and row[0] else None
        if subject == ANONYMOUS:
            return Current(ANONYMOUS_PULL) if self.anonymous_pull(registry_id) else None
        if subject.startswith(TOKEN):
            row = self.db.execute(_TOKEN, (registry_id, subject[len(TOKEN) :])).fetchone()
            if row is None or row[0] != "enabled":
                return None
            try:
                return Current(Permissions.from_map_actions(json.loads(row[1])))
            except (ScopeError, ValueError):
                return None
        if subject.startswith(PRINCIPAL):
            row = self.db.execute(_PRINCIPAL, (subject[len(PRINCIPAL) :],)).fetchone()
            return None if row is None else Current(None)
        return None
