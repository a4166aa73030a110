"""Runs of tasks, in the database: the queue the workers take from and the record people read.

Every state change is one statement whose ``WHERE`` names the state it leaves, so that two
workers (threads, processes or machines sharing the database) can never both move a run:

- **queue**: the run number comes from one upsert on ``run_counters`` (``ca1``, ``ca2``, ...
  per registry, as ACR numbers runs), the run is inserted ``Queued``.
- **claim**: ``UPDATE runs SET status = 'Running' ... WHERE seq = (the oldest Queued run) AND
  status = 'Queued' RETURNING id``. On SQLite the single writer makes it atomic; on
  PostgreSQL the subquery takes ``FOR UPDATE SKIP LOCKED``, so concurrent claimers skip each
  other's row instead of waiting for it.
- **heartbeat / finish** name the worker that holds the run: a run taken away (cancelled, or
  failed for a lost worker) is not written to by its old worker.
- **steps**: recorded by the worker that holds the run, with one upsert guarded by the
  same condition (``record_step``).
- **recovery**: runs ``Running`` on a worker that stopped heart-beating are failed with that
  reason (``fail_stale``), or, by ``recover_stale``, queued again when none of their steps
  was recorded (a worker records a step as ``Running`` before it starts it, so such a run
  did nothing that running it again repeats); at server start, runs of the server's own
  worker pool are failed as interrupted (``fail_interrupted``). A run is never lost, never
  left ``Running`` for ever and never run twice.

Times are ISO 8601 strings in UTC, as everywhere in the database.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from airlock.common.clock import now_iso
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

QUEUED = "Queued"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
CANCELED = "Canceled"
ERROR = "Error"
TIMEOUT = "Timeout"
FINAL = frozenset({SUCCEEDED, FAILED, CANCELED, ERROR, TIMEOUT})
STATUSES = (QUEUED, RUNNING, *sorted(FINAL))

SKIPPED = "Skipped"
STEP_STATUSES = (*STATUSES, SKIPPED)

MANUAL = "Manual"
TRIGGERS = ("Manual", "Commit", "Image Update", "Timer")

RUN_PREFIX = "ca"
MAX_LIST = 1000
MAX_STEP_ID = 128


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    registry_id: int
    run_id: str
    task: str | None
    status: str
    trigger: str
    platform: str
    definition: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    worker: str | None
    heartbeat_at: str | None
    error: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A step of a run as its worker reports it; ``images`` are (reference, digest) pairs."""

    step_id: str
    status: str
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    images: tuple[tuple[str, str], ...] = ()
    error: str | None = None


_COLUMNS = (
    "id, registry_id, run_id, task, status, trigger, platform, definition, created_at,"
    " started_at, finished_at, worker, heartbeat_at, error"
)


def _run(row: Any) -> Run:
    return Run(*row)


def _step(row: Any) -> StepRecord:
    images = tuple((i["image"], i["digest"]) for i in json.loads(row.digests or "[]"))
    return StepRecord(
        row.step_id, row.status, row.exit_code, row.started_at, row.finished_at, images, row.error
    )


def _before(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def _check_step(record: StepRecord) -> None:
    if record.status not in STEP_STATUSES:
        raise InvalidArgumentError(
            f"unknown step status {record.status[:20]!r}; use one of {', '.join(STEP_STATUSES)}"
        )
    if not 1 <= len(record.step_id) <= MAX_STEP_ID:
        raise InvalidArgumentError(f"a step id has 1 to {MAX_STEP_ID} characters")


class RunStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def queue(
        self,
        registry_id: int,
        definition: str,
        *,
        task: str | None = None,
        trigger: str = MANUAL,
        platform: str = "linux",
    ) -> Run:
        """A new run, ``Queued``, with the registry's next run number."""
        if trigger not in TRIGGERS:
            raise InvalidArgumentError(
                f"unknown trigger {trigger[:40]!r}; use one of {', '.join(TRIGGERS)}"
            )
        run = str(uuid.uuid4())
        with self.engine.begin() as conn:
            number = conn.execute(
                text(
                    "INSERT INTO run_counters (registry_id, next) VALUES (:r, 1)"
                    " ON CONFLICT (registry_id) DO UPDATE SET next = run_counters.next + 1"
                    " RETURNING next"
                ),
                {"r": registry_id},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO runs (id, registry_id, run_id, task, status, trigger, platform,"
                    " definition, created_at) VALUES (:id, :r, :run_id, :task, :status,"
                    " :trigger, :platform, :definition, :now)"
                ),
                {
                    "id": run,
                    "r": registry_id,
                    "run_id": f"{RUN_PREFIX}{number}",
                    "task": task,
                    "status": QUEUED,
                    "trigger": trigger,
                    "platform": platform,
                    "definition": definition,
                    "now": now_iso(),
                },
            )
            return self._get(conn, run)

    def claim(self, worker: str) -> Run | None:
        """Take the oldest queued run for ``worker``; None when the queue is empty."""
        with self.engine.begin() as conn:
            oldest = "SELECT seq FROM runs WHERE status = :queued ORDER BY seq LIMIT 1"
            if conn.dialect.name == "postgresql":
                oldest += " FOR UPDATE SKIP LOCKED"
            now = now_iso()
            claimed = conn.execute(
                text(
                    "UPDATE runs SET status = :running, worker = :worker, started_at = :now,"
                    f" heartbeat_at = :now WHERE seq = ({oldest}) AND status = :queued"
                    " RETURNING id"
                ),
                {"running": RUNNING, "queued": QUEUED, "worker": worker, "now": now},
            ).scalar_one_or_none()
            return None if claimed is None else self._get(conn, claimed)

    def heartbeat(self, run: str, worker: str) -> bool:
        """Record that ``worker`` still runs ``run``; False when the run is no longer its
        (cancelled or failed meanwhile): the worker must stop it."""
        return self._move(
            "UPDATE runs SET heartbeat_at = :now WHERE id = :id AND worker = :worker"
            " AND status = :running",
            {"id": run, "worker": worker, "running": RUNNING, "now": now_iso()},
        )

    def finish(self, run: str, worker: str, status: str, error: str | None = None) -> bool:
        """End a run ``worker`` holds; False when it was taken away meanwhile."""
        if status not in FINAL:
            raise InvalidArgumentError(f"{status!r} is not a final run status")
        return self._move(
            "UPDATE runs SET status = :status, finished_at = :now, error = :error"
            " WHERE id = :id AND worker = :worker AND status = :running",
            {
                "id": run,
                "worker": worker,
                "status": status,
                "error": error,
                "running": RUNNING,
                "now": now_iso(),
            },
        )

    def cancel(self, registry_id: int, run_id: str) -> Run:
        """Cancel a queued or running run (its worker sees it at its next heartbeat)."""
        with self.engine.begin() as conn:
            found = self._find(conn, registry_id, run_id)
            moved = conn.execute(
                text(
                    "UPDATE runs SET status = :canceled, finished_at = :now,"
                    " error = 'canceled by request' WHERE id = :id"
                    " AND status IN (:queued, :running)"
                ),
                {
                    "canceled": CANCELED,
                    "queued": QUEUED,
                    "running": RUNNING,
                    "id": found.id,
                    "now": now_iso(),
                },
            ).rowcount
            if not moved:
                raise ConflictError(
                    f"run {run_id!r} has already ended ({found.status})", "RunNotActive"
                )
            return self._get(conn, found.id)

    def fail_stale(self, older_than: float, reason: str) -> list[Run]:
        """Fail the running runs whose worker has not heart-beaten for ``older_than`` s."""
        return self._fail_where("heartbeat_at < :limit", {"limit": _before(older_than)}, reason)

    def fail_interrupted(self, worker_prefix: str, reason: str) -> list[Run]:
        """Fail the running runs of workers named ``<worker_prefix>...`` (the server's own
        pool, at start: a crash or restart ended them)."""
        return self._fail_where("worker LIKE :prefix", {"prefix": worker_prefix + "%"}, reason)

    def recover_stale(self, older_than: float, reason: str) -> tuple[list[Run], list[Run]]:
        """Runs whose worker has not heart-beaten for ``older_than`` s: queued again when no
        step was recorded, failed with ``reason`` otherwise. Returns (failed, requeued)."""
        limit = _before(older_than)
        with self.engine.begin() as conn:
            requeued = (
                conn.execute(
                    text(
                        "UPDATE runs SET status = :queued, worker = NULL, started_at = NULL,"
                        " heartbeat_at = NULL WHERE status = :running AND heartbeat_at < :limit"
                        " AND NOT EXISTS (SELECT 1 FROM run_steps WHERE run_steps.run = runs.id)"
                        " RETURNING id"
                    ),
                    {"queued": QUEUED, "running": RUNNING, "limit": limit},
                )
                .scalars()
                .all()
            )
            failed = self._fail(conn, "heartbeat_at < :limit", {"limit": limit}, reason)
            return failed, [self._get(conn, run) for run in requeued]

    def record_step(self, run: str, worker: str, record: StepRecord) -> bool:
        """Insert or update a step of ``run``; False (nothing written) when ``worker`` no
        longer holds the run. Record a step ``Running`` before starting it: a run with no
        step recorded is one ``recover_stale`` may run again."""
        _check_step(record)
        images = [{"image": image, "digest": digest} for image, digest in record.images]
        return self._move(
            "INSERT INTO run_steps (run, step_id, status, exit_code, started_at, finished_at,"
            " digests, error) SELECT id, :step_id, :status, :exit_code, :started_at,"
            " :finished_at, :digests, :error FROM runs WHERE id = :run AND worker = :worker"
            # A cancelled run's worker still reports how its steps ended.
            " AND status IN (:running, :canceled) ON CONFLICT (run, step_id) DO UPDATE SET"
            " status = excluded.status, exit_code = excluded.exit_code,"
            " started_at = COALESCE(excluded.started_at, run_steps.started_at),"
            " finished_at = excluded.finished_at, digests = excluded.digests,"
            " error = excluded.error",
            {
                "run": run,
                "worker": worker,
                "canceled": CANCELED,
                "running": RUNNING,
                "step_id": record.step_id,
                "status": record.status,
                "exit_code": record.exit_code,
                "started_at": record.started_at,
                "finished_at": record.finished_at,
                "digests": json.dumps(images) if images else None,
                "error": record.error,
            },
        )

    def steps(self, run: str) -> list[StepRecord]:
        """The steps recorded for ``run``: by start time, steps not started (skipped) last."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT step_id, status, exit_code, started_at, finished_at, digests, error"
                    " FROM run_steps WHERE run = :run ORDER BY"
                    " CASE WHEN started_at IS NULL THEN 1 ELSE 0 END, started_at, step_id"
                ),
                {"run": run},
            )
            return [_step(row) for row in rows]

    def latest(self, registry_id: int, task: str | None = None) -> Run:
        """The newest run of the registry (of ``task`` when given)."""
        found = self.recent(registry_id, task=task, top=1)
        if not found:
            what = f"task {task[:60]!r}" if task is not None else "this registry"
            raise NotFoundError(
                f"{what} has no runs yet; start one with 'airlock acr task run'", "RunNotFound"
            )
        return found[0]

    def get(self, registry_id: int, run_id: str) -> Run:
        with self.engine.connect() as conn:
            return self._find(conn, registry_id, run_id)

    def by_id(self, run: str) -> Run:
        with self.engine.connect() as conn:
            return self._get(conn, run)

    def recent(
        self,
        registry_id: int,
        *,
        task: str | None = None,
        status: str | None = None,
        top: int = 15,
        trigger: str | None = None,
    ) -> list[Run]:
        """Newest first, as ``az acr task list-runs``."""
        if status is not None and status not in STATUSES:
            raise InvalidArgumentError(
                f"unknown run status {status[:20]!r}; use one of {', '.join(STATUSES)}"
            )
        query = f"SELECT {_COLUMNS} FROM runs WHERE registry_id = :r"
        params: dict[str, Any] = {"r": registry_id, "top": min(max(top, 1), MAX_LIST)}
        if task is not None:
            query += " AND task = :task"
            params["task"] = task
        if status is not None:
            query += " AND status = :status"
            params["status"] = status
        if trigger is not None:
            if trigger not in TRIGGERS:
                raise InvalidArgumentError(
                    f"unknown trigger {trigger[:20]!r}; use one of {', '.join(TRIGGERS)}"
                )
            query += " AND trigger = :trigger"
            params["trigger"] = trigger
        query += " ORDER BY seq DESC LIMIT :top"
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(text(query), params)]

    # --- internals -------------------------------------------------------------------------

    def _move(self, statement: str, params: dict[str, Any]) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(text(statement), params).rowcount)

    def _fail_where(self, condition: str, params: dict[str, Any], reason: str) -> list[Run]:
        with self.engine.begin() as conn:
            return self._fail(conn, condition, params, reason)

    def _fail(
        self, conn: Connection, condition: str, params: dict[str, Any], reason: str
    ) -> list[Run]:
        ids = (
            conn.execute(
                text(
                    "UPDATE runs SET status = :failed, finished_at = :now, error = :reason"
                    f" WHERE status = :running AND {condition} RETURNING id"
                ),
                {
                    **params,
                    "failed": FAILED,
                    "running": RUNNING,
                    "reason": reason,
                    "now": now_iso(),
                },
            )
            .scalars()
            .all()
        )
        return [self._get(conn, run) for run in ids]

    @staticmethod
    def _get(conn: Connection, run: str) -> Run:
        row = conn.execute(text(f"SELECT {_COLUMNS} FROM runs WHERE id = :id"), {"id": run}).first()
        if row is None:
            raise NotFoundError(f"run {run!r} not found", "RunNotFound")
        return _run(row)

    @staticmethod
    def _find(conn: Connection, registry_id: int, run_id: str) -> Run:
        row = conn.execute(
            text(f"SELECT {_COLUMNS} FROM runs WHERE registry_id = :r AND run_id = :run_id"),
            {"r": registry_id, "run_id": run_id},
        ).first()
        if row is None:
            raise NotFoundError(
                f"run {run_id[:32]!r} not found; list runs with "
                "'airlock acr task list-runs --registry <registry>'",
                "RunNotFound",
            )
        return _run(row)
