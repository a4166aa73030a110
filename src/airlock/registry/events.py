"""Registry events: every manifest push, tag change and delete is stored and published.

Stored rows let a trigger that was down catch up (``since``); the in-process publication
lets triggers react at once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from airlock.db.schema import events

log = logging.getLogger("airlock.events")

PUSH = "push"
TAG = "tag"
DELETE = "delete"
UNTAG = "untag"


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    id: int
    registry: str
    repository: str
    action: str
    digest: str | None
    tag: str | None
    media_type: str | None
    timestamp: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "registry": self.registry,
            "repository": self.repository,
            "action": self.action,
            "digest": self.digest,
            "tag": self.tag,
            "mediaType": self.media_type,
            "timestamp": self.timestamp,
        }


Subscriber = Callable[[RegistryEvent], None]


class EventBus:
    """Records events inside the caller's transaction, publishes them after commit."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def record(
        self,
        conn: sqlite3.Connection,
        *,
        registry: str,
        repository: str,
        action: str,
        timestamp: str,
        digest: str | None = None,
        tag: str | None = None,
        media_type: str | None = None,
    ) -> RegistryEvent:
        """Store an event inside the caller's open transaction."""
        cursor = conn.execute(
            "INSERT INTO events (registry, repository, action, digest, tag, media_type,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (registry, repository, action, digest, tag, media_type, timestamp),
        )
        return RegistryEvent(
            int(cursor.lastrowid or 0),
            registry,
            repository,
            action,
            digest,
            tag,
            media_type,
            timestamp,
        )

    def publish(self, recorded: list[RegistryEvent]) -> None:
        for event in recorded:
            for subscriber in list(self._subscribers):
                try:
                    subscriber(event)
                except Exception:
                    # A failing subscriber must not undo a push that already committed.
                    log.exception("event subscriber failed on event %s", event.id)


def list_events(
    conn: Connection, *, registry: str | None = None, since: int = 0, limit: int = 100
) -> list[RegistryEvent]:
    query = select(events).where(events.c.id > since).order_by(events.c.id).limit(limit)
    if registry is not None:
        query = query.where(events.c.registry == registry)
    return [
        RegistryEvent(
            row.id,
            row.registry,
            row.repository,
            row.action,
            row.digest,
            row.tag,
            row.media_type,
            row.created_at,
        )
        for row in conn.execute(query)
    ]
