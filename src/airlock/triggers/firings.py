"""Exactly once: a cause (a base reference's new digest, a commit, a timer tick) fires a task
at most once, however many times it is seen (a webhook and polling, two server processes, a
restart in between).

``claim`` is one ``INSERT ... ON CONFLICT DO NOTHING`` of (task, kind, key): the one caller whose
insert lands queues the run and records it with ``attach``; every other caller gets False.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from airlock.common.clock import now_iso

IMAGE, COMMIT, TIMER = "image", "commit", "timer"
MAX_KEY = 512


class FiringStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, task: str, kind: str, key: str) -> bool:
        """True when this caller is the first to fire ``task`` for (``kind``, ``key``)."""
        with self.engine.begin() as conn:
            inserted = conn.execute(
                text(
                    "INSERT INTO trigger_firings (task, kind, key, fired_at)"
                    " VALUES (:task, :kind, :key, :now) ON CONFLICT DO NOTHING"
                ),
                {"task": task, "kind": kind, "key": key[:MAX_KEY], "now": now_iso()},
            ).rowcount
        return bool(inserted)

    def attach(self, task: str, kind: str, key: str, run: str) -> None:
        """Record the run a claimed firing queued."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE trigger_firings SET run = :run"
                    " WHERE task = :task AND kind = :kind AND key = :key"
                ),
                {"task": task, "kind": kind, "key": key[:MAX_KEY], "run": run},
            )

    def release(self, task: str, kind: str, key: str) -> None:
        """Forget a claim whose run could not be queued, so that it can fire again."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM trigger_firings"
                    " WHERE task = :task AND kind = :kind AND key = :key AND run IS NULL"
                ),
                {"task": task, "kind": kind, "key": key[:MAX_KEY]},
            )
