"""The external-image poller's rules: what is polled, when, and what an answer or an error
does, with a fake clock, a fake fetch and an in-memory SQLite database."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import StaticPool

from airlock.db.schema import metadata
from airlock.importer.guard import ImportPolicy
from airlock.runs.baseimages import RUNTIME, BaseImage, BaseImageStore
from airlock.triggers.external import (
    MAX_BACKOFF,
    Change,
    ExternalImagePoller,
    ExternalRef,
    HeadFetch,
    PollError,
    backoff,
    poll_external_images,
    poll_interval,
)

OWN = "127.0.0.1:5001"
HUB = ExternalRef("docker.io", "library/node", "15-alpine")
GHCR = ExternalRef("ghcr.io", "acme/base", "1")
OLD, NEW, NEWER = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Record:
    login_server: str


class Catalog:
    def __init__(self, *servers: str) -> None:
        self.servers = list(servers)

    def all(self) -> list[Record]:
        return [Record(s) for s in self.servers]


class Fetch:
    """Answers from a script per reference: a digest, or a PollError to raise."""

    def __init__(self) -> None:
        self.answers: dict[ExternalRef, list[str | PollError]] = {}
        self.calls: list[ExternalRef] = []

    def __call__(self, ref: ExternalRef) -> str:
        self.calls.append(ref)
        answer = self.answers[ref][0] if len(self.answers[ref]) == 1 else self.answers[ref].pop(0)
        if isinstance(answer, PollError):
            raise answer
        return answer


@pytest.fixture
def engine() -> Engine:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    return engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fetch() -> Fetch:
    return Fetch()


def make_poller(engine: Engine, clock: Clock, fetch: Fetch, **kwargs: Any) -> ExternalImagePoller:
    catalog: Any = Catalog(OWN)
    return ExternalImagePoller(
        engine, catalog, fetch=fetch, interval=kwargs.pop("interval", 300.0), clock=clock, **kwargs
    )


def track(engine: Engine, task: str, *bases: tuple[ExternalRef | str, str | None]) -> None:
    found = []
    for ref, digest in bases:
        if isinstance(ref, str):
            registry, rest = ref.split("/", 1)
            repository, tag = rest.rsplit(":", 1)
            ref = ExternalRef(registry, repository, tag)
        found.append(BaseImage(f"app/{task}:1", ref.registry, ref.repository, ref.tag, digest,
                               RUNTIME))  # fmt: skip
    BaseImageStore(engine).replace(task, found)


def row(engine: Engine, ref: ExternalRef) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT * FROM external_images WHERE registry = :r AND repository = :p AND tag = :t"
            ),
            {"r": ref.registry, "p": ref.repository, "t": ref.tag},
        ).first()


def refs(engine: Engine) -> set[ExternalRef]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT registry, repository, tag FROM external_images")).all()
    return {ExternalRef(*r) for r in rows}


def test_backoff_doubles_from_the_interval_is_capped_at_an_hour_and_honours_retry_after() -> None:
    assert [backoff(300, n) for n in (1, 2, 3, 4, 5, 50)] == [300, 600, 1200, 2400, 3600, 3600]
    assert backoff(1, 1) == 1 and backoff(1, 3) == 4 and backoff(1, 40) == MAX_BACKOFF
    assert backoff(1, 1, retry_after=3) == 3  # at least the Retry-After
    assert backoff(300, 1, retry_after=3) == 300  # and at least the backoff
    assert backoff(7200, 3) == 7200  # an interval over an hour is its own cap


def test_poll_interval_setting() -> None:
    assert poll_interval({}) == 300
    assert poll_interval({"AIRLOCK_EXTERNAL_POLL_SECONDS": "1"}) == 1
    assert poll_interval({"AIRLOCK_EXTERNAL_POLL_SECONDS": "0"}) == 0
    for bad in ("soon", "0.01", "-5", "100000"):
        with pytest.raises(ValueError, match="AIRLOCK_EXTERNAL_POLL_SECONDS"):
            poll_interval({"AIRLOCK_EXTERNAL_POLL_SECONDS": bad})


def test_sync_follows_the_tracked_bases_outside_this_server(
    engine: Engine, clock: Clock, fetch: Fetch
) -> None:
    poller = make_poller(engine, clock, fetch)
    track(engine, "t1", (HUB, OLD), (f"{OWN}/base/node:1", OLD))
    track(engine, "t2", (HUB, OLD), (GHCR, None))
    poller.sync()
    assert refs(engine) == {HUB, GHCR}  # this server's registry is never polled
    hub = row(engine, HUB)
    assert (hub.digest, hub.failures, hub.checked_at) == (OLD, 0, None)
    assert row(engine, GHCR).digest is None
    assert set(poller.start_due()) == {HUB, GHCR}  # new references are due at once

    # A second sync leaves existing rows alone (ON CONFLICT DO NOTHING).
    poller.answered(HUB, NEW)
    track(engine, "t3", (HUB, NEWER))
    poller.sync()
    assert row(engine, HUB).digest == NEW

    # Nobody tracks GHCR any more: its row goes. A registry that becomes this server's too.
    track(engine, "t2", (HUB, OLD))
    poller.sync()
    assert refs(engine) == {HUB}
    poller.registries.servers.append("docker.io")  # type: ignore[attr-defined]
    poller.sync()
    assert refs(engine) == set()


def test_due_checks_respect_the_schedule_one_in_flight_per_reference_and_the_global_limit(
    engine: Engine, clock: Clock, fetch: Fetch
) -> None:
    poller = make_poller(engine, clock, fetch, parallel=2)
    many = [ExternalRef("quay.io", f"r{i}", "1") for i in range(3)]
    track(engine, "t", *((ref, OLD) for ref in many))
    poller.sync()
    first = poller.start_due()
    assert len(first) == 2 and poller.start_due() == []  # the limit: 2 in flight
    poller.in_flight.discard(first[0])
    poller.answered(first[0], OLD)
    second = poller.start_due()
    assert len(second) == 1 and second[0] not in first  # never the one still in flight
    assert poller.start_due() == []
    poller.in_flight.clear()
    poller.answered(first[1], OLD)
    poller.answered(second[0], OLD)
    assert poller.start_due() == []  # all checked: next in 300 s
    clock.advance(299)
    assert poller.start_due() == []
    clock.advance(1)
    assert len(poller.start_due()) == 2


def test_a_new_digest_is_a_change_once_and_the_first_observation_never_fires(
    engine: Engine, clock: Clock, fetch: Fetch
) -> None:
    poller = make_poller(engine, clock, fetch)
    track(engine, "t", (HUB, OLD), (GHCR, None))
    poller.sync()
    assert poller.answered(HUB, OLD) is None  # what the task was built with
    assert poller.answered(GHCR, NEW) is None  # first observation: only recorded
    assert row(engine, GHCR).digest == NEW
    assert poller.answered(HUB, NEW) == Change(HUB, NEW)
    assert poller.answered(HUB, NEW) is None  # the same answer again: nothing
    assert poller.answered(GHCR, NEWER) == Change(GHCR, NEWER)
    found = row(engine, HUB)
    assert (found.digest, found.checked_at) == (NEW, clock.now.isoformat(timespec="microseconds"))


def test_errors_keep_the_digest_back_off_honour_retry_after_and_log_once_per_streak(
    engine: Engine, clock: Clock, fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.triggers.external")
    poller = make_poller(engine, clock, fetch, interval=10.0)
    track(engine, "t", (HUB, OLD))
    poller.sync()

    def next_in() -> float:
        due = datetime.fromisoformat(row(engine, HUB).next_check_at)
        return (due - clock.now).total_seconds()

    for expected in (10, 20, 40, 80):
        poller.failed(HUB, PollError("HUB: HEAD manifest failed: HTTP 502"))
        assert next_in() == expected
    poller.failed(HUB, PollError("429", retry_after=600))
    assert next_in() == 600  # Retry-After beyond the backoff (160) wins
    found = row(engine, HUB)
    assert (found.digest, found.failures, found.last_error) == (OLD, 5, "429")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "could not be checked" in warnings[0].getMessage()

    assert poller.answered(HUB, OLD) is None  # the streak ends: once in the log
    found = row(engine, HUB)
    assert (found.failures, found.last_error, next_in()) == (0, None, 10)
    assert sum("answers again" in r.getMessage() for r in caplog.records) == 1
    poller.failed(HUB, PollError("again"))
    assert next_in() == 10  # a new streak starts from the interval
    assert sum("could not be checked" in r.getMessage() for r in caplog.records) == 2


def test_a_registry_the_guard_refuses_is_not_polled_and_said_once(
    engine: Engine, clock: Clock, fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    poller = make_poller(engine, clock, fetch, interval=10.0)
    track(engine, "t", (HUB, OLD))
    poller.sync()
    for _ in range(3):
        poller.failed(HUB, PollError("not an allowed registry", refused=True))
    found = row(engine, HUB)
    assert (found.digest, found.failures, found.last_error) == (OLD, 0, "not an allowed registry")
    said = [r for r in caplog.records if "is not polled" in r.getMessage()]
    assert len(said) == 1


def test_the_real_fetch_asks_the_import_guard_first() -> None:
    fetch = HeadFetch(ImportPolicy(frozenset({"docker.io"})))
    with pytest.raises(PollError, match="not an allowed registry") as refused:
        fetch(ExternalRef("registry.example", "acme/base", "1"))  # refused before any lookup
    assert refused.value.refused and refused.value.retry_after is None


def test_the_loop_checks_in_threads_and_runs_the_tasks_of_a_moved_reference(
    engine: Engine, clock: Clock, fetch: Fetch
) -> None:
    changed: list[tuple[str, str, str, str]] = []

    class Triggers:
        def changed(self, registry: str, repository: str, tag: str, digest: str) -> None:
            changed.append((registry, repository, tag, digest))

    poller = make_poller(engine, clock, fetch, interval=1.0)
    track(engine, "t", (HUB, OLD), (GHCR, OLD))
    fetch.answers[HUB] = [OLD, PollError("slow down", retry_after=5), NEW]
    fetch.answers[GHCR] = [OLD]

    async def scenario() -> None:
        triggers: Any = Triggers()
        loop = asyncio.create_task(poll_external_images(triggers, poller, every=0.01))
        await asyncio.sleep(0.1)
        assert fetch.calls.count(HUB) == 1 and changed == []  # same digest as built
        clock.advance(1)
        await asyncio.sleep(0.1)
        assert fetch.calls.count(HUB) == 2  # the 429
        clock.advance(4)
        await asyncio.sleep(0.1)
        assert fetch.calls.count(HUB) == 2  # Retry-After: 5 s, not the 1 s interval
        clock.advance(1)
        await asyncio.sleep(0.1)
        assert fetch.calls.count(HUB) == 3
        assert changed == [(HUB.registry, HUB.repository, HUB.tag, NEW)]
        clock.advance(1)
        await asyncio.sleep(0.1)
        assert changed == [(HUB.registry, HUB.repository, HUB.tag, NEW)]  # once
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    asyncio.run(scenario())
    assert poller.in_flight == set()
