"""Change counters that let every server process sharing a database drop stale caches.

Every change to who may do what (a token, scope map, admin password, principal, credential,
session or role assignment created, changed or deleted) calls ``bump`` in the same
transaction; a cache of grants reads ``read`` and starts again when the value moved. Both
statements are plain SQL that every database Airlock targets runs as is.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection, text

IDENTITIES = "identities"

_BUMP = "UPDATE auth_epochs SET value = value + 1 WHERE name = :name"
_READ = "SELECT value FROM auth_epochs WHERE name = ?"


def bump(conn: Connection, name: str = IDENTITIES) -> None:
    """Move the counter on, inside the caller's transaction."""
    conn.execute(text(_BUMP), {"name": name})


def read(db: sqlite3.Connection | Any, name: str = IDENTITIES) -> int:
    """The counter's value, on a DBAPI connection (the registry's fast path)."""
    row = db.execute(_READ, (name,)).fetchone()
    return int(row[0]) if row is not None else 0
