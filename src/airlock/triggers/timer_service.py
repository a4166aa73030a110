"""The timer service: every second, the timers whose tick has come run their task.

For each due timer, ``advance`` moves it to its next tick after now (one guarded UPDATE: of
two callers, one moves it); the caller that moved it claims the firing
``(task, timer, "<name>@<tick>")`` (exactly once, even across processes and restarts),
queues the run with TRIGGER ``Timer`` and records the run against the firing. A Disabled
task's timer moves on without a run. A timer missed while the server was down is due once
at start and moved past now: it fires once, not once per missed tick.

It runs on the event loop's thread, as every part of the server that touches the database:
short synchronous calls between sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, select

from airlock.db.schema import tasks as tasks_table
from airlock.errors import AirlockError
from airlock.registry.registries import RegistryCatalog
from airlock.runner.service import RunService
from airlock.runs.tasks import ENABLED, TaskStore
from airlock.triggers.firings import TIMER, FiringStore
from airlock.triggers.timers import Timer, TimerStore

log = logging.getLogger(__name__)

TRIGGER = "Timer"


class TimerServices(Protocol):
    """What the service uses of ``airlock.server.services.Services``."""

    engine: Engine
    registries: RegistryCatalog
    tasks: TaskStore
    runner: RunService
    timers: TimerStore


async def run_timers(services: TimerServices, every: float = 1.0) -> None:
    firings = FiringStore(services.engine)
    while True:
        try:
            fire_due(services, firings, datetime.now(UTC))
        except Exception:  # one bad tick must not stop the timers for good
            log.exception("timer service: a tick failed; trying again in %g s", every)
        await asyncio.sleep(every)


def fire_due(services: TimerServices, firings: FiringStore, now: datetime) -> list[str]:
    """Fire every timer due at ``now``; returns the ids of the runs queued."""
    queued = []
    for timer in services.timers.due(now):
        if not services.timers.advance(timer, now):
            continue  # another caller moved it: that one fires it
        run = _fire(services, firings, timer)
        if run is not None:
            queued.append(run)
    return queued


def _fire(services: TimerServices, firings: FiringStore, timer: Timer) -> str | None:
    key = f"{timer.name}@{timer.next_at}"
    ref = _task_ref(services.engine, timer.task)
    if ref is None:
        return None
    registry_id, task_name = ref
    try:
        record = services.registries.get_by_id(registry_id)
        task = services.tasks.get(registry_id, task_name)
    except AirlockError:
        return None  # removed meanwhile: its timers go with it
    if task.status != ENABLED:
        log.info("timer %s of task %s: the task is disabled; no run", timer.name, task.name)
        return None
    if not firings.claim(task.id, TIMER, key):
        return None
    try:
        cause = {"kind": "timer", "timer": timer.name, "tick": timer.next_at}
        run = services.runner.queue_task(record, task, trigger=TRIGGER, cause=cause)
    except Exception:
        firings.release(task.id, TIMER, key)
        raise
    firings.attach(task.id, TIMER, key, run.id)
    log.info(
        "timer %s (%s) of task %s in %s fired for %s: run %s queued",
        timer.name,
        timer.schedule,
        task.name,
        record.name,
        timer.next_at,
        run.run_id,
    )
    return run.id


def _task_ref(engine: Engine, task_id: str) -> tuple[int, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(tasks_table.c.registry_id, tasks_table.c.name).where(tasks_table.c.id == task_id)
        ).first()
    return None if row is None else (int(row.registry_id), str(row.name))
