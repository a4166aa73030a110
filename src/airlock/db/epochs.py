"""Change counters that let every server process sharing a database drop stale caches.

Every change to who may do what (a token, scope map, admin password, principal, credential,
session or role assignment created, changed or deleted) calls ``bump`` in the same
transaction; a cache of grants reads ``read`` and starts again when the value moved. Both
statements are plain SQL that every database Airlock targets runs as is.

``bump`` also moves a counter of this process (``local``), which costs nothing to read: a
cache checks it on every use, so a change made by this process takes effect at the next
request, and reads the database's counter (a statement) only every ``RECHECK_SECONDS`` for
the changes other processes make.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection, text

IDENTITIES = "identities"
# How stale a cache may be about changes made by another server process sharing the
# database; changes made by this process are seen at once.
RECHECK_SECONDS = 0.05

_local: dict[str, int] = {}

_BUMP = "UPDATE auth_epochs SET value = value + 1 WHERE name = :name"
_READ = "SELECT value FROM auth_epochs WHERE name = ?"


def bump(conn: Connection, name: str = IDENTITIES) -> None:
    """Move the counter on, inside the caller's transaction (and this process's at once: a
    rolled-back change only makes caches start again for nothing)."""
    conn.execute(text(_BUMP), {"name": name})
    _local[name] = _local.get(name, 0) + 1


def local(name: str = IDENTITIES) -> int:
    """How often this process has moved the counter (no database access)."""
    return _local.get(name, 0)


def read(db: sqlite3.Connection | Any, name: str = IDENTITIES) -> int:
    """The counter's value, on a DBAPI connection (the registry's fast path)."""
    row = db.execute(_READ, (name,)).fetchone()
    return int(row[0]) if row is not None else 0
