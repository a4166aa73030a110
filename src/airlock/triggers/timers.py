"""Timer triggers: ``acr task timer add|update|list|remove`` and ``--schedule`` on a task.

A timer is a five-field cron expression in UTC (minute, hour, day of month, month, day of
week), as ACR's timer triggers take them; a task may have several, each with its own name
(ACR's rule: 1-50 letters, digits, '-' and '_'; ``t1`` when ``--schedule`` alone names none).

Each timer keeps ``next_at``, the next tick it fires at. The timer service takes the timers
whose tick has come (``due``) and moves each to its next tick after *now* (``advance``): one
UPDATE guarded by the ``next_at`` it read, so two callers never both move it, and a timer
missed for hours while the server was down fires once, not once per missed tick.

Times are stored as ``now_iso`` writes them (UTC, microseconds, one fixed width), so that
comparing the strings compares the moments.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cronsim import CronSim, CronSimError
from sqlalchemy import Engine, delete, select, text

from airlock.db.schema import task_timers
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

DEFAULT_NAME = "t1"  # ACR's name for the timer of 'az acr task create --schedule'
MAX_SCHEDULE = 128
EXAMPLE = '"0 6 * * 1-5" (06:00 UTC, Monday to Friday)'
_FORMAT = "minute hour day-of-month month day-of-week"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
_UPDATE_TRIES = 5


@dataclass(frozen=True)
class Timer:
    task: str
    name: str
    schedule: str
    enabled: bool
    next_at: str | None

    def to_json(self) -> dict[str, Any]:
        """As ``az acr task timer list`` prints a timer trigger."""
        return {
            "name": self.name,
            "schedule": self.schedule,
            "status": "Enabled" if self.enabled else "Disabled",
            "nextRunTime": self.next_at if self.enabled else None,
        }


def _refuse(expr: str, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"invalid schedule {expr[:60]!r}: {why}; a schedule is five cron fields in UTC "
        f"({_FORMAT}), such as {EXAMPLE}",
        "InvalidSchedule",
    )


def check_schedule(expr: str) -> str:
    """The schedule with its fields separated by single spaces; InvalidArgumentError (saying
    why, with an example) for anything but five valid cron fields."""
    if not isinstance(expr, str) or not expr.strip():
        raise _refuse(str(expr), "it is empty")
    if len(expr) > MAX_SCHEDULE:
        raise _refuse(expr, f"it is longer than {MAX_SCHEDULE} characters")
    fields = expr.split()
    if fields[0].startswith("@"):
        raise _refuse(expr, f"{fields[0][:20]} is not supported (no @reboot, @daily or @hourly)")
    if len(fields) != 5:
        extra = " (no seconds or years field)" if len(fields) > 5 else ""
        raise _refuse(expr, f"it has {len(fields)} field(s), not 5{extra}")
    normal = " ".join(fields)
    try:
        next(CronSim(normal, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise _refuse(expr, f"{str(exc).lower() or 'it does not parse'} field") from None
    except StopIteration:
        raise _refuse(expr, "it never fires") from None
    return normal


def next_after(expr: str, moment: datetime) -> datetime:
    """The first tick of ``expr`` strictly after ``moment``, in UTC."""
    if moment.tzinfo is None:
        raise ValueError("next_after needs an aware datetime")
    start = moment.astimezone(UTC)
    return next(CronSim(check_schedule(expr), start)).astimezone(UTC)


def check_timer_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid timer name {str(name)[:60]!r}: 1-50 letters, digits, '-' and '_', "
            f"such as {DEFAULT_NAME!r}",
            "InvalidTimerName",
        )
    return name


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class TimerStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, task_id: str, name: str, schedule: str, enabled: bool = True) -> Timer:
        """A new timer of the task; ConflictError ``TimerExists`` if the name is taken."""
        check_timer_name(name)
        schedule = check_schedule(schedule)
        now = datetime.now(UTC)
        params = {
            "task": task_id,
            "name": name,
            "schedule": schedule,
            "enabled": bool(enabled),
            "next_at": iso(next_after(schedule, now)),
            "now": iso(now),
        }
        with self.engine.begin() as conn:
            # The primary key (task, name) decides between two creators, not a read.
            inserted = conn.execute(
                text(
                    "INSERT INTO task_timers (task, name, schedule, enabled, next_at, created_at)"
                    " VALUES (:task, :name, :schedule, :enabled, :next_at, :now)"
                    " ON CONFLICT DO NOTHING"
                ),
                params,
            ).rowcount
        if not inserted:
            raise ConflictError(
                f"the task already has a timer named {name!r}; change it with "
                "'airlock acr task timer update' or pick another --timer-name",
                "TimerExists",
            )
        return self.get(task_id, name)

    def get(self, task_id: str, name: str) -> Timer:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(task_timers).where(
                    (task_timers.c.task == task_id) & (task_timers.c.name == name)
                )
            ).first()
        if row is None:
            raise _not_found(name)
        return _timer(row)

    def update(
        self,
        task_id: str,
        name: str,
        *,
        schedule: str | None = None,
        enabled: bool | None = None,
    ) -> Timer:
        """Change a timer's schedule or status; its next tick is counted again from now.
        NotFoundError ``TimerNotFound`` if the task has no timer by that name."""
        new_schedule = None if schedule is None else check_schedule(schedule)
        for _ in range(_UPDATE_TRIES):
            current = self.get(task_id, name)
            wanted = new_schedule or current.schedule
            params = {
                "task": task_id,
                "name": name,
                "read": current.schedule,
                "schedule": wanted,
                "enabled": current.enabled if enabled is None else bool(enabled),
                "next_at": iso(next_after(wanted, datetime.now(UTC))),
            }
            with self.engine.begin() as conn:
                # Guarded by the schedule it read: a concurrent change of the schedule
                # makes this one read again rather than pair it with a stale next tick.
                changed = conn.execute(
                    text(
                        "UPDATE task_timers SET schedule = :schedule, enabled = :enabled,"
                        " next_at = :next_at"
                        " WHERE task = :task AND name = :name AND schedule = :read"
                    ),
                    params,
                ).rowcount
            if changed:
                return self.get(task_id, name)
        raise ConflictError(f"timer {name!r} kept changing; try again", "TimerBusy")

    def remove(self, task_id: str, name: str) -> Timer:
        with self.engine.begin() as conn:
            row = conn.execute(
                delete(task_timers)
                .where((task_timers.c.task == task_id) & (task_timers.c.name == name))
                .returning(*task_timers.c)
            ).first()
        if row is None:
            raise _not_found(name)
        return _timer(row)

    def list(self, task_id: str) -> list[Timer]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(task_timers)
                .where(task_timers.c.task == task_id)
                .order_by(task_timers.c.name)
            )
            return [_timer(row) for row in rows]

    def due(self, now: datetime) -> builtins.list[Timer]:
        """Enabled timers whose next tick is at or before ``now``, the oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(task_timers)
                .where(
                    task_timers.c.enabled.is_(True)
                    & task_timers.c.next_at.is_not(None)
                    & (task_timers.c.next_at <= iso(now))
                )
                .order_by(task_timers.c.next_at)
            )
            return [_timer(row) for row in rows]

    def advance(self, timer: Timer, now: datetime) -> bool:
        """Move the timer to its first tick after ``now``; False when another caller moved
        it first (or it was changed or removed since it was read)."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                text(
                    "UPDATE task_timers SET next_at = :new"
                    " WHERE task = :task AND name = :name AND next_at = :old"
                    " AND schedule = :schedule AND enabled = :enabled"
                ),
                {
                    "task": timer.task,
                    "name": timer.name,
                    "old": timer.next_at,
                    "schedule": timer.schedule,
                    "enabled": True,
                    "new": iso(next_after(timer.schedule, now)),
                },
            ).rowcount
        return bool(moved)


def _timer(row: Any) -> Timer:
    return Timer(
        task=row.task,
        name=row.name,
        schedule=row.schedule,
        enabled=bool(row.enabled),
        next_at=row.next_at,
    )


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"timer {name[:60]!r} not found; list the task's timers with 'airlock acr task timer list'",
        "TimerNotFound",
    )
