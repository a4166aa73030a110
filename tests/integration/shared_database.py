"""A test server whose database the test also writes to, as another server process sharing
it would: each change in its own transaction, moving the identity epoch as every store that
changes who may do what does."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import Airlock, start_airlock


@dataclass
class SharedAirlock(Airlock):
    def sql(self, statement: str, params: tuple[object, ...] = ()) -> None:
        db = sqlite3.connect(self.home / "airlock.db", timeout=30)
        try:
            with db:
                db.execute(statement, params)
                db.execute("UPDATE auth_epochs SET value = value + 1 WHERE name = 'identities'")
        finally:
            db.close()

    def query(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.home / "airlock.db", timeout=30)
        try:
            return db.execute(statement, params).fetchall()
        finally:
            db.close()


def start_shared(home: Path, extra_env: dict[str, str] | None = None) -> SharedAirlock:
    plain = start_airlock(home, extra_env=extra_env)
    return SharedAirlock(
        proc=plain.proc, log_path=plain.log_path, home=plain.home, api_port=plain.api_port
    )
