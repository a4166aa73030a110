"""Timer triggers in a real SQLite database: the store's rules, exactly-once advancing between
two callers (two server processes on one database), and the timer service queueing runs
through the server's own composition (``Services``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from airlock.db.engine import open_database
from airlock.db.schema import task_timers
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.runs.tasks import DISABLED, TaskSpec
from airlock.server.services import Services
from airlock.triggers.firings import FiringStore
from airlock.triggers.timer_service import TRIGGER, fire_due
from airlock.triggers.timers import TimerStore, iso, next_after

TASK = "timer-task"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = Services.open(tmp_path / "home")
    registry = opened.registries.add(
        name="timerreg", port=5601, resource_group="g", location="l", sku="Basic"
    )
    opened.tasks.create(
        registry.id, TASK, TaskSpec(kind="cmd", definition="bash echo tick", context="/dev/null")
    )
    try:
        yield opened
    finally:
        opened.close()


def task_id(services: Services) -> str:
    registry = services.registries.get("timerreg")
    return services.tasks.get(registry.id, TASK).id


def set_next_at(services: Services, task: str, name: str, moment: datetime) -> None:
    with services.engine.begin() as conn:
        conn.execute(
            update(task_timers)
            .where((task_timers.c.task == task) & (task_timers.c.name == name))
            .values(next_at=iso(moment))
        )


def timer_runs(services: Services) -> list[str]:
    registry = services.registries.get("timerreg")
    return [run.trigger for run in services.runs.recent(registry.id, task=TASK, top=100)]


def test_add_list_update_remove(services: Services) -> None:
    store, task = services.timers, task_id(services)
    before = datetime.now(UTC)
    added = store.add(task, "t1", "*/5 * * * *")
    assert (added.name, added.schedule, added.enabled) == ("t1", "*/5 * * * *", True)
    assert added.next_at is not None
    assert before < datetime.fromisoformat(added.next_at) <= before + timedelta(minutes=5)
    store.add(task, "nightly", "0  2 * * *", enabled=False)
    assert [(t.name, t.schedule, t.enabled) for t in store.list(task)] == [
        ("nightly", "0 2 * * *", False),
        ("t1", "*/5 * * * *", True),
    ]

    with pytest.raises(ConflictError) as taken:
        store.add(task, "t1", "0 * * * *")
    assert taken.value.code == "TimerExists"
    assert store.get(task, "t1").schedule == "*/5 * * * *"

    changed = store.update(task, "t1", schedule="0 6 * * 1-5")
    assert changed.schedule == "0 6 * * 1-5" and changed.enabled
    assert changed.next_at == iso(next_after("0 6 * * 1-5", datetime.now(UTC)))
    assert store.update(task, "nightly", enabled=True).enabled
    assert not store.update(task, "t1", enabled=False).enabled

    with pytest.raises(InvalidArgumentError, match="6 field"):
        store.update(task, "t1", schedule="0 0 6 * * *")
    assert store.get(task, "t1").schedule == "0 6 * * 1-5"
    with pytest.raises(InvalidArgumentError, match="@reboot"):
        store.add(task, "boot", "@reboot")
    with pytest.raises(InvalidArgumentError, match="1-50 letters"):
        store.add(task, "bad name", "* * * * *")
    assert [t.name for t in store.list(task)] == ["nightly", "t1"]

    removed = store.remove(task, "t1")
    assert removed.name == "t1"
    for call in (
        lambda: store.remove(task, "t1"),
        lambda: store.update(task, "t1", enabled=True),
        lambda: store.get(task, "t1"),
    ):
        with pytest.raises(NotFoundError) as missing:
            call()
        assert missing.value.code == "TimerNotFound"
    assert [t.name for t in store.list(task)] == ["nightly"]


def test_timers_go_with_their_task(services: Services) -> None:
    task = task_id(services)
    services.timers.add(task, "t1", "* * * * *")
    services.tasks.delete(services.registries.get("timerreg").id, TASK)
    assert services.timers.list(task) == []


def test_due_and_advance_exactly_once_between_two_callers(
    services: Services, tmp_path: Path
) -> None:
    task = task_id(services)
    services.timers.add(task, "t1", "* * * * *")
    services.timers.add(task, "off", "* * * * *", enabled=False)
    tick = datetime.fromisoformat(str(services.timers.get(task, "t1").next_at))
    assert services.timers.due(tick - timedelta(seconds=1)) == []
    # Another process on the same database file: its own engine, its own store.
    other = TimerStore(open_database(tmp_path / "home" / "airlock.db"))
    try:
        mine, theirs = services.timers.due(tick), other.due(tick)
        assert [t.name for t in mine] == ["t1"] == [t.name for t in theirs]
        moved = [services.timers.advance(mine[0], tick), other.advance(theirs[0], tick)]
        assert moved == [True, False]
        assert services.timers.due(tick) == []
        assert services.timers.get(task, "t1").next_at == iso(tick + timedelta(minutes=1))
    finally:
        other.engine.dispose()


def test_a_changed_timer_is_not_advanced_from_a_stale_read(services: Services) -> None:
    task = task_id(services)
    services.timers.add(task, "t1", "* * * * *")
    now = datetime.now(UTC) + timedelta(minutes=2)
    (read,) = services.timers.due(now)
    services.timers.update(task, "t1", enabled=False)
    assert not services.timers.advance(read, now)


def test_a_timer_missed_for_an_hour_fires_once(services: Services) -> None:
    task = task_id(services)
    services.timers.add(task, "t1", "* * * * *")
    now = datetime.now(UTC).replace(second=10)  # a second later is still before the next tick
    set_next_at(services, task, "t1", now - timedelta(hours=1))  # 60 ticks missed
    firings = FiringStore(services.engine)

    queued = fire_due(services, firings, now)
    assert len(queued) == 1
    assert fire_due(services, firings, now) == []
    assert fire_due(services, firings, now + timedelta(seconds=1)) == []
    assert timer_runs(services) == [TRIGGER]
    assert services.timers.get(task, "t1").next_at == iso(next_after("* * * * *", now))
    with services.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, key, run FROM trigger_firings WHERE task = :t"), {"t": task}
        ).all()
    assert [(r.kind, r.key, r.run) for r in rows] == [
        ("timer", f"t1@{iso(now - timedelta(hours=1))}", queued[0])
    ]

    # The next tick fires again, once.
    later = now + timedelta(minutes=1, seconds=1)
    assert len(fire_due(services, firings, later)) == 1
    assert timer_runs(services) == [TRIGGER, TRIGGER]


def test_a_disabled_task_does_not_run_but_its_timer_moves_on(services: Services) -> None:
    task = task_id(services)
    registry = services.registries.get("timerreg")
    services.timers.add(task, "t1", "* * * * *")
    services.tasks.update(registry.id, TASK, status=DISABLED)
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert fire_due(services, FiringStore(services.engine), later) == []
    assert timer_runs(services) == []
    assert services.timers.due(later) == []
