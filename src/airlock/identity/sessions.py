"""Management-plane sessions: what ``airlock login`` gets and every REST call presents.

A session token is ``als_`` followed by 43 characters of a random 256-bit value. It is shown
once; the database keeps only its SHA-256 (a fast hash is enough for a value nobody chose and
nobody can guess), so a copy of the database signs nobody in. Sessions expire
(``$AIRLOCK_SESSION_HOURS``, default 12) and can be revoked (``airlock logout``). The owner's
local session, written to a 0600 file at first start, has no expiry and is replaced when the
file is lost.

Every call looks its session up (one indexed SELECT): revoking or deleting takes effect on
the next request, in every server process sharing the database.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from airlock.common.clock import now_iso
from airlock.db.schema import principals, sessions

PREFIX = "als_"
OWNER_SESSION = "owner"
LOGIN_SESSION = "login"
DEFAULT_LIFETIME_HOURS = 12.0


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    principal_id: str
    principal_name: str
    principal_kind: str
    kind: str
    created_at: str
    expires_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "sessionId": self.id,
            "createdOn": self.created_at,
            "expiresOn": self.expires_at,
            "kind": self.kind,
        }


def session_lifetime() -> timedelta:
    hours = float(os.environ.get("AIRLOCK_SESSION_HOURS") or DEFAULT_LIFETIME_HOURS)
    return timedelta(hours=min(max(hours, 0.01), 24 * 30))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open(
        self, principal_id: str, kind: str = LOGIN_SESSION, source: str = ""
    ) -> tuple[Session, str]:
        """A new session and its token (the only time the token exists in clear)."""
        token = PREFIX + secrets.token_urlsafe(32)
        session_id = str(uuid.uuid4())
        created = datetime.now(UTC)
        expires = None if kind == OWNER_SESSION else created + session_lifetime()
        with self.engine.begin() as conn:
            conn.execute(
                insert(sessions).values(
                    id=session_id,
                    principal_id=principal_id,
                    token_hash=_digest(token),
                    kind=kind,
                    created_at=created.isoformat(timespec="microseconds"),
                    expires_at=None
                    if expires is None
                    else expires.isoformat(timespec="microseconds"),
                    source=source[:64],
                )
            )
        found = self.resolve(token)
        assert found is not None
        return found, token

    def resolve(self, token: str) -> Session | None:
        """The live session a token opens, or None (unknown, expired, revoked)."""
        if not token.startswith(PREFIX) or len(token) > 128:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    sessions.c.id,
                    sessions.c.principal_id,
                    sessions.c.kind,
                    sessions.c.created_at,
                    sessions.c.expires_at,
                    sessions.c.revoked_at,
                    principals.c.name,
                    principals.c.kind.label("principal_kind"),
                )
                .join(principals, principals.c.principal_id == sessions.c.principal_id)
                .where(sessions.c.token_hash == _digest(token))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now_iso():
            return None
        return Session(
            row.id,
            row.principal_id,
            row.name,
            row.principal_kind,
            row.kind,
            row.created_at,
            row.expires_at,
        )

    def revoke(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .where(sessions.c.revoked_at.is_(None))
                .values(revoked_at=now_iso())
            )

    def revoke_source(self, source: str) -> None:
        """Revoke every live session opened with ``source`` (a task run's, when it ends)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.source == source)
                .where(sessions.c.revoked_at.is_(None))
                .values(revoked_at=now_iso())
            )

    def revoke_kind(self, principal_id: str, kind: str) -> None:
        """Revoke every live session of one kind of a principal (the owner's lost file)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.principal_id == principal_id)
                .where(sessions.c.kind == kind)
                .where(sessions.c.revoked_at.is_(None))
                .values(revoked_at=now_iso())
            )
