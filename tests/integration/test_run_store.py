"""The run store on a real SQLite database: numbering, the claim, recovery and cancellation.

The concurrency test gives each claimer its own connection (as separate worker processes
have), so the only thing keeping a run from being taken twice is the claim statement itself.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from airlock.db.engine import open_database
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.registry.registries import RegistryCatalog
from airlock.runs.store import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    RunStore,
    StepRecord,
)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "airlock.db"


@pytest.fixture
def engine(database: Path) -> Engine:
    return open_database(database)


@pytest.fixture
def registries(engine: Engine) -> tuple[int, int]:
    catalog = RegistryCatalog(engine)
    first = catalog.add(name="runsone", port=5101, resource_group="g", location="l", sku="Basic")
    second = catalog.add(name="runstwo", port=5102, resource_group="g", location="l", sku="Basic")
    return first.id, second.id


def test_runs_are_numbered_per_registry(engine: Engine, registries: tuple[int, int]) -> None:
    store = RunStore(engine)
    one, two = registries
    ids = [store.queue(one, "steps: []", task="t").run_id for _ in range(3)]
    assert ids == ["ca1", "ca2", "ca3"]
    assert store.queue(two, "steps: []").run_id == "ca1"  # another registry counts apart
    run = store.get(one, "ca2")
    assert (run.status, run.task, run.trigger, run.worker) == (QUEUED, "t", "Manual", None)
    assert [r.run_id for r in store.recent(one, top=2)] == ["ca3", "ca2"]  # newest first
    with pytest.raises(NotFoundError, match="list-runs"):
        store.get(one, "ca99")
    with pytest.raises(InvalidArgumentError, match="unknown trigger"):
        store.queue(one, "steps: []", trigger="Whenever")


def test_claims_take_the_oldest_run_and_each_run_once(
    database: Path, engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    queued = [store.queue(registries[0], f"run {i}").id for i in range(40)]
    taken: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(name: str, own: RunStore) -> None:
        while (run := own.claim(name)) is not None:
            assert run.status == RUNNING and run.worker == name
            with lock:
                taken.append((run.id, name))

    # A connection of its own for each claimer, as a process has (opened here: opening also
    # migrates, which is not meant to run four times at once).
    stores = [RunStore(open_database(database)) for _ in range(4)]
    threads = [threading.Thread(target=worker, args=(f"w{i}", own)) for i, own in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    counts = Counter(run for run, _ in taken)
    assert sorted(counts) == sorted(queued)
    assert set(counts.values()) == {1}, "a run was claimed twice"
    assert store.claim("late") is None


def test_the_queue_is_first_in_first_out(engine: Engine, registries: tuple[int, int]) -> None:
    store = RunStore(engine)
    first = store.queue(registries[0], "a")
    second = store.queue(registries[1], "b")
    claimed = store.claim("w")
    assert claimed is not None and claimed.id == first.id
    claimed = store.claim("w")
    assert claimed is not None and claimed.id == second.id


def test_only_the_holder_heartbeats_and_finishes(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    store.queue(registries[0], "x")
    run = store.claim("w1")
    assert run is not None
    assert store.heartbeat(run.id, "w1")
    assert not store.heartbeat(run.id, "w2")
    assert not store.finish(run.id, "w2", SUCCEEDED)
    assert store.finish(run.id, "w1", SUCCEEDED)
    assert not store.heartbeat(run.id, "w1")  # it has ended
    done = store.by_id(run.id)
    assert done.status == SUCCEEDED and done.finished_at is not None
    with pytest.raises(InvalidArgumentError):
        store.finish(run.id, "w1", RUNNING)


def test_a_cancelled_run_is_no_longer_its_workers(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    store.queue(registries[0], "x")
    run = store.claim("w1")
    assert run is not None
    assert store.cancel(registries[0], run.run_id).status == CANCELED
    assert not store.heartbeat(run.id, "w1")
    assert not store.finish(run.id, "w1", SUCCEEDED)
    assert store.by_id(run.id).status == CANCELED
    with pytest.raises(ConflictError, match="already ended"):
        store.cancel(registries[0], run.run_id)


def test_stale_and_interrupted_runs_fail_with_the_reason(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    for _ in range(3):
        store.queue(registries[0], "x")
    remote, local, fresh = store.claim("remote-1"), store.claim("server-pool-1"), store.claim("x")
    assert remote is not None and local is not None and fresh is not None
    with engine.begin() as conn:  # the remote worker went quiet a minute ago
        conn.execute(
            text("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = :id"),
            {"id": remote.id},
        )
    stale = store.fail_stale(30, "worker remote-1 stopped heart-beating")
    assert [r.id for r in stale] == [remote.id]
    assert stale[0].status == FAILED and stale[0].error == "worker remote-1 stopped heart-beating"
    interrupted = store.fail_interrupted("server-pool-", "interrupted: the server restarted")
    assert [r.id for r in interrupted] == [local.id]
    assert store.by_id(fresh.id).status == RUNNING  # heart-beating, not the server's: kept
    assert not store.finish(remote.id, "remote-1", SUCCEEDED)  # too late to report


def _make_stale(engine: Engine, *runs: str) -> None:
    with engine.begin() as conn:
        for run in runs:
            conn.execute(
                text("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = :id"),
                {"id": run},
            )


def test_steps_are_recorded_by_the_holder_and_updated_in_place(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    store.queue(registries[0], "x")
    run = store.claim("w1")
    assert run is not None
    build = StepRecord("build", RUNNING, started_at="2026-11-30T11:00:01.000000+00:00")
    assert store.record_step(run.id, "w1", build)
    assert store.record_step(
        run.id, "w1", StepRecord("push", RUNNING, started_at="2026-11-30T11:00:02.000000+00:00")
    )
    assert store.record_step(run.id, "w1", StepRecord("test", SKIPPED))
    done = StepRecord(
        "build",
        SUCCEEDED,
        exit_code=0,
        finished_at="2026-11-30T11:00:03.000000+00:00",  # started_at left out: kept
        images=(("127.0.0.1:5001/hello:ca1", "sha256:" + "a" * 64),),
    )
    assert store.record_step(run.id, "w1", done)
    steps = store.steps(run.id)
    assert [s.step_id for s in steps] == ["build", "push", "test"]  # by start, skipped last
    assert steps[0] == StepRecord(
        "build",
        SUCCEEDED,
        0,
        "2026-11-30T11:00:01.000000+00:00",
        "2026-11-30T11:00:03.000000+00:00",
        (("127.0.0.1:5001/hello:ca1", "sha256:" + "a" * 64),),
        None,
    )
    assert steps[2].images == () and steps[2].started_at is None
    with pytest.raises(InvalidArgumentError, match="unknown step status"):
        store.record_step(run.id, "w1", StepRecord("build", "Done"))
    with pytest.raises(InvalidArgumentError, match="step id"):
        store.record_step(run.id, "w1", StepRecord("x" * 129, RUNNING))


def test_a_worker_that_lost_its_run_cannot_record_steps(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    store.queue(registries[0], "x")
    run = store.claim("w1")
    assert run is not None
    assert not store.record_step(run.id, "w2", StepRecord("build", RUNNING))
    assert store.record_step(run.id, "w1", StepRecord("build", RUNNING))
    store.cancel(registries[0], run.run_id)
    # A cancelled run's worker still reports how its steps ended; nobody else does.
    assert store.record_step(run.id, "w1", StepRecord("build", CANCELED))
    assert not store.record_step(run.id, "w2", StepRecord("build", SUCCEEDED, exit_code=0))
    assert [(s.step_id, s.status) for s in store.steps(run.id)] == [("build", CANCELED)]
    # A run failed because its worker was thought lost is no longer that worker's.
    store.queue(registries[0], "z")
    lost = store.claim("w3")
    assert lost is not None
    store.fail_stale(-60, "lost")
    assert not store.record_step(lost.id, "w3", StepRecord("build", RUNNING))
    queued = store.queue(registries[0], "y")  # not claimed: nobody holds it
    assert not store.record_step(queued.id, "w1", StepRecord("build", RUNNING))
    assert store.steps(queued.id) == []


def test_latest_is_the_newest_run_of_the_registry_or_task(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    one, two = registries
    with pytest.raises(NotFoundError, match="no runs yet") as raised:
        store.latest(one)
    assert raised.value.code == "RunNotFound"
    store.queue(one, "x", task="build-app")
    store.queue(one, "x", task="other-task")
    store.queue(two, "x", task="build-app")
    assert store.latest(one).run_id == "ca2"
    assert store.latest(one, task="build-app").run_id == "ca1"
    with pytest.raises(NotFoundError, match="'missing' has no runs"):
        store.latest(one, task="missing")


def test_recover_stale_requeues_runs_with_no_step_and_fails_the_others(
    engine: Engine, registries: tuple[int, int]
) -> None:
    store = RunStore(engine)
    for _ in range(3):
        store.queue(registries[0], "x")
    untouched, started, fresh = store.claim("w1"), store.claim("w2"), store.claim("w3")
    assert untouched is not None and started is not None and fresh is not None
    assert store.record_step(started.id, "w2", StepRecord("build", RUNNING))
    assert store.record_step(fresh.id, "w3", StepRecord("build", RUNNING))
    _make_stale(engine, untouched.id, started.id)

    failed, requeued = store.recover_stale(30, "worker stopped heart-beating")
    assert [r.id for r in requeued] == [untouched.id]
    assert (requeued[0].status, requeued[0].worker) == (QUEUED, None)
    assert requeued[0].started_at is None and requeued[0].heartbeat_at is None
    assert [r.id for r in failed] == [started.id]
    assert (failed[0].status, failed[0].error) == (FAILED, "worker stopped heart-beating")
    assert store.by_id(fresh.id).status == RUNNING  # heart-beating: kept
    assert store.recover_stale(30, "again") == ([], [])

    # The old worker finds out; the requeued run is claimed again, first (the oldest).
    assert not store.heartbeat(untouched.id, "w1")
    assert not store.record_step(untouched.id, "w1", StepRecord("build", RUNNING))
    again = store.claim("w4")
    assert again is not None and (again.id, again.worker) == (untouched.id, "w4")
    assert again.run_id == untouched.run_id
