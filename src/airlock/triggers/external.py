"""Base-image triggers for registries outside this server: polling with HEAD requests.

A registry of this server says when a tag moves (its event log); Docker Hub, GHCR or any
other registry does not, so the tags tasks build on there are asked about on an interval.

- **What is polled.** ``external_images`` follows the bases tasks track
  (``task_base_images``) whose registry is not one of this server's: a new reference gets a
  row (one insert, ``ON CONFLICT DO NOTHING``) holding the digest a task was built with and
  due at once; a row nobody tracks any more is removed.
- **How.** Every tick the due rows (``next_check_at <= now``) are asked for the tag's digest
  with a HEAD manifest request through the OCI client (anonymous; Docker Hub's anonymous
  token flow is the client's), behind the importer's SSRF guard: a registry the guard
  refuses is not polled, and the log says so once. The request runs in a thread; at most one
  is in flight per reference and ``MAX_PARALLEL`` in all. The database is read and written
  on the event loop's thread only, in short statements.
- **An answer.** A digest other than the stored one is stored (a guarded update) and the
  tasks tracking the reference run (``ImageTriggers.changed``: exactly once per task,
  reference and digest). A row without a digest (the build could not resolve it) only
  records the first answer: the first observation never fires. The next check is
  ``AIRLOCK_EXTERNAL_POLL_SECONDS`` later (300 by default; 0 turns polling off).
- **An error** keeps the last known digest, counts the failure and backs off exponentially
  (the interval, doubled per failure in a row, capped at an hour), and at least as long as a
  429's ``Retry-After``. A failure streak is logged once, and its end once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, bindparam, text

from airlock.client import ClientError, RegistryClient, RetryPolicy
from airlock.client.retry import parse_retry_after
from airlock.client.transport import BlobTransport
from airlock.common.settings import seconds
from airlock.errors import AirlockError
from airlock.importer.guard import ImportPolicy, check_source, connect_guard
from airlock.registry.registries import RegistryCatalog
from airlock.triggers.images import ImageTriggers

log = logging.getLogger(__name__)

POLL_ENV = "AIRLOCK_EXTERNAL_POLL_SECONDS"
DEFAULT_EVERY = 300.0
MAX_BACKOFF = 3600.0
MAX_PARALLEL = 4
# Short retries inside one check (a dropped connection, a 502); a longer wait, such as a
# 429's Retry-After, is the poller's: it reschedules rather than holding a thread.
POLL_RETRY = RetryPolicy(attempts=3, backoff=0.5, max_delay=1.0, max_total=3.0)


def poll_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between two checks of one reference, from ``AIRLOCK_EXTERNAL_POLL_SECONDS``
    (0: no polling); ValueError names a bad setting (the server refuses to start with it)."""
    return seconds(POLL_ENV, DEFAULT_EVERY, 0.2, 86400, off=True, environ=environ)


@dataclass(frozen=True, slots=True)
class ExternalRef:
    registry: str
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    def key(self) -> dict[str, str]:
        return {"registry": self.registry, "repository": self.repository, "tag": self.tag}


class PollError(Exception):
    """A check that gave no digest; ``retry_after`` (seconds) when the registry said when to
    come back, ``refused`` when the SSRF guard does not let the poller reach the registry."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, refused: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.refused = refused


# Blocking: the digest ``ref`` points to now, or PollError. Runs in a worker thread.
Fetch = Callable[[ExternalRef], str]


@dataclass(frozen=True, slots=True)
class Change:
    ref: ExternalRef
    digest: str


class ExternalImagePoller:
    def __init__(
        self,
        engine: Engine,
        registries: RegistryCatalog,
        *,
        fetch: Fetch | None = None,
        interval: float = DEFAULT_EVERY,
        clock: Callable[[], datetime] | None = None,
        parallel: int = MAX_PARALLEL,
    ) -> None:
        self.engine = engine
        self.registries = registries
        self.fetch = fetch or HeadFetch(ImportPolicy.from_env())
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(UTC))
        self.parallel = parallel
        self.in_flight: set[ExternalRef] = set()
        self._refused: set[ExternalRef] = set()

    # --- what to poll (event-loop thread) -------------------------------------------------

    def sync(self) -> None:
        """``external_images`` in step with the tracked bases outside this server."""
        own = sorted({r.login_server for r in self.registries.all()})
        params = {"own": own, "now": self._at(0)}
        with self.engine.begin() as conn:
            conn.execute(_INSERT_NEW.bindparams(bindparam("own", expanding=True)), params)
            conn.execute(_DELETE_UNTRACKED.bindparams(bindparam("own", expanding=True)), params)

    def start_due(self) -> list[ExternalRef]:
        """The references to check now, marked in flight: none already in flight, and no more
        than the free slots."""
        free = self.parallel - len(self.in_flight)
        if free <= 0:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT registry, repository, tag FROM external_images"
                    " WHERE next_check_at <= :now ORDER BY next_check_at LIMIT :limit"
                ),
                {"now": self._at(0), "limit": free + len(self.in_flight)},
            ).all()
        due = [ExternalRef(*row) for row in rows]
        due = [ref for ref in due if ref not in self.in_flight][:free]
        self.in_flight.update(due)
        return due

    # --- one check -----------------------------------------------------------------------

    async def check(self, ref: ExternalRef) -> Change | None:
        """Ask the registry (in a thread) and record the answer; the change, if any."""
        try:
            try:
                digest = await asyncio.to_thread(self.fetch, ref)
            except PollError as failure:
                self.failed(ref, failure)
                return None
            except Exception as exc:  # a bug or an unexpected answer: back off all the same
                log.debug("check of %s failed", ref, exc_info=True)
                self.failed(ref, PollError(f"{type(exc).__name__}: {exc}"))
                return None
            return self.answered(ref, digest)
        finally:
            self.in_flight.discard(ref)

    def answered(self, ref: ExternalRef, digest: str) -> Change | None:
        """Store ``digest`` for ``ref``; a Change when it replaced another digest."""
        self._refused.discard(ref)
        params = {
            **ref.key(),
            "digest": digest,
            "now": self._at(0),
            "next": self._at(self.interval),
        }
        with self.engine.begin() as conn:
            recovered = conn.execute(_RECOVERED, params).rowcount
            moved = conn.execute(_MOVED, params).rowcount
            if not moved:
                conn.execute(_SEEN, params)
        if recovered:
            log.info("external base image %s answers again (%s)", ref, digest[:19])
        return Change(ref, digest) if moved else None

    def failed(self, ref: ExternalRef, failure: PollError) -> None:
        """Keep the last digest; count the failure and schedule the next check after the
        backoff (a refusal by the guard is checked again after the interval)."""
        params = {**ref.key(), "error": failure.message[:2000], "now": self._at(0)}
        with self.engine.begin() as conn:
            if failure.refused:
                conn.execute(_REFUSED, {**params, "next": self._at(self.interval)})
                failures = 0
            else:
                found = conn.execute(_FAILED, params).scalar_one_or_none()
                failures = int(found or 0)
                delay = backoff(self.interval, failures, failure.retry_after)
                conn.execute(_RESCHEDULE, {**params, "next": self._at(delay)})
        if failure.refused:
            if ref not in self._refused:
                self._refused.add(ref)
                log.warning("external base image %s is not polled: %s", ref, failure.message)
        elif failures == 1:
            log.warning(
                "external base image %s could not be checked (%s); keeping its last digest "
                "and retrying with backoff",
                ref,
                failure.message,
            )

    def _at(self, seconds: float) -> str:
        return (self.clock() + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def backoff(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds until the next check after ``failures`` failures in a row: the interval
    doubled per failure after the first, capped at an hour (or the interval, if longer),
    and never shorter than the registry's ``Retry-After``."""
    cap = max(MAX_BACKOFF, interval)
    delay = min(cap, interval * 2.0 ** min(max(failures - 1, 0), 32))
    return max(delay, retry_after or 0.0)


# --- the real fetch ---------------------------------------------------------------------


class _RetryAfter(httpx.BaseTransport):
    """Remembers the last ``Retry-After`` the registry sent, for the poller's schedule."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport
        self.seconds: float | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        if response.status_code in (429, 503):
            self.seconds = parse_retry_after(response.headers.get("retry-after"))
        return response

    def close(self) -> None:
        self._transport.close()


class HeadFetch:
    """A HEAD manifest request, anonymous, through the importer's SSRF guard."""

    def __init__(self, policy: ImportPolicy) -> None:
        self.policy = policy

    def __call__(self, ref: ExternalRef) -> str:
        try:
            access = check_source(ref.registry, self.policy)
        except AirlockError as exc:
            raise PollError(str(exc), refused=True) from None
        observed = _RetryAfter(BlobTransport(connect_guard=connect_guard(self.policy)))
        try:
            with RegistryClient(
                access.host,
                insecure=access.insecure,
                transport=observed,
                retry=POLL_RETRY,
                timeout=30.0,
            ) as client:
                found = client.head_manifest(ref.repository, ref.tag)
        except ClientError as exc:
            raise PollError(exc.message, retry_after=observed.seconds) from None
        except AirlockError as exc:  # the guard refused where the registry sent the client
            raise PollError(str(exc), refused=True) from None
        if found is None:
            raise PollError(f"{ref}: the tag is not there (404)")
        return str(found.digest)


# --- the loop ---------------------------------------------------------------------------


async def poll_external_images(
    triggers: ImageTriggers, poller: ExternalImagePoller, every: float = 1.0
) -> None:
    """Every ``every`` seconds: follow the tracked bases, start the due checks, and run the
    tasks of a reference that moved. Nothing raises out of the loop."""
    if poller.interval <= 0:
        return
    checks: set[asyncio.Task[None]] = set()

    async def one(ref: ExternalRef) -> None:
        change = await poller.check(ref)
        if change is None:
            return
        log.info("external base image %s moved to %s", change.ref, change.digest[:19])
        try:
            triggers.changed(ref.registry, ref.repository, ref.tag, change.digest)
        except Exception:
            log.exception("base-image trigger failed for %s", ref)

    try:
        while True:
            try:
                poller.sync()
                for ref in poller.start_due():
                    started = asyncio.create_task(one(ref))
                    checks.add(started)
                    started.add_done_callback(checks.discard)
            except Exception:
                log.exception("external base images could not be polled")
            await asyncio.sleep(every)
    finally:
        for started in list(checks):
            started.cancel()


# --- statements (dialect-neutral: SQLite and PostgreSQL) -------------------------------

_KEY = "registry = :registry AND repository = :repository AND tag = :tag"

_INSERT_NEW = text(
    "INSERT INTO external_images"
    " (registry, repository, tag, digest, checked_at, next_check_at, failures, last_error)"
    " SELECT registry, repository, tag, MAX(digest), NULL, :now, 0, NULL"
    " FROM task_base_images WHERE registry NOT IN :own"
    " GROUP BY registry, repository, tag"
    " ON CONFLICT (registry, repository, tag) DO NOTHING"
)
_DELETE_UNTRACKED = text(
    "DELETE FROM external_images WHERE registry IN :own OR NOT EXISTS ("
    " SELECT 1 FROM task_base_images b WHERE b.registry = external_images.registry"
    " AND b.repository = external_images.repository AND b.tag = external_images.tag)"
)
_RECOVERED = text(f"UPDATE external_images SET failures = 0 WHERE {_KEY} AND failures > 0")
# Only a row that held another digest: the one statement that decides a change fires.
_MOVED = text(
    "UPDATE external_images SET digest = :digest, checked_at = :now, next_check_at = :next,"
    f" failures = 0, last_error = NULL WHERE {_KEY} AND digest IS NOT NULL AND digest <> :digest"
)
_SEEN = text(
    "UPDATE external_images SET digest = :digest, checked_at = :now, next_check_at = :next,"
    f" failures = 0, last_error = NULL WHERE {_KEY}"
)
_FAILED = text(
    "UPDATE external_images SET failures = failures + 1, last_error = :error,"
    f" checked_at = :now WHERE {_KEY} RETURNING failures"
)
_RESCHEDULE = text(f"UPDATE external_images SET next_check_at = :next WHERE {_KEY}")
_REFUSED = text(
    "UPDATE external_images SET last_error = :error, checked_at = :now, next_check_at = :next"
    f" WHERE {_KEY}"
)
