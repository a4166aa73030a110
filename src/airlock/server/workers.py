"""The server's own worker pool, and the recovery of runs whose worker went away.

- At start, runs this server's pool held when it stopped (a crash, a kill, a restart) are
  failed with that reason: no run stays Running for ever.
- Every ``AIRLOCK_RUN_RECOVERY_SECONDS`` (default 10), runs whose worker (a pool thread or an
  ``airlock worker`` process) has not heart-beaten for ``AIRLOCK_RUN_STALE_SECONDS`` (default
  30) are recovered: queued again when no step had started, failed with the reason
  otherwise; never run twice.
- Workers heart-beat every sixth of the stale time (at least every 0.5 s): a worker is
  thought lost only after several missed beats. ``airlock worker`` processes take the same
  interval from the claim answer's ``heartbeatSeconds`` (``airlock.server.routes.workers``).

``AIRLOCK_WORKERS`` sets the pool's size (default: the number of cores; 0: no pool, runs wait
for ``airlock worker`` processes). The timings are settings so that tests can lose a worker
in seconds; lower them in production only with the network's pauses in mind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from airlock.common.settings import seconds
from airlock.runner.local import LocalHost
from airlock.runner.worker import INTERRUPTED, STALE_AFTER, WorkerPool
from airlock.server.services import Services

log = logging.getLogger(__name__)

WORKERS_ENV = "AIRLOCK_WORKERS"
STALE_ENV = "AIRLOCK_RUN_STALE_SECONDS"
RECOVERY_ENV = "AIRLOCK_RUN_RECOVERY_SECONDS"
RECOVERY_EVERY = 10.0
MIN_HEARTBEAT = 0.5


def pool_name() -> str:
    """The name of this machine's server pool; its workers are ``<name>/<n>``."""
    return f"server-{socket.gethostname()}"


def pool_size() -> int:
    """The pool's size; also checks the run timings, so that the server refuses a bad
    setting at start (before the state is opened) instead of in the recovery loop."""
    stale_after()
    recovery_every()
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return max(os.cpu_count() or 1, 1)
    try:
        size = int(text)
    except ValueError:
        raise ValueError(f"{WORKERS_ENV} must be a whole number, not {text!r}") from None
    if not 0 <= size <= 256:
        raise ValueError(f"{WORKERS_ENV} must be from 0 to 256")
    return size


def stale_after() -> float:
    """Seconds without a heartbeat after which a run's worker is thought lost."""
    return seconds(STALE_ENV, STALE_AFTER, 1.0, 86400.0)


def recovery_every() -> float:
    """Seconds between two looks for runs whose worker was lost."""
    return seconds(RECOVERY_ENV, RECOVERY_EVERY, 0.2, 3600.0)


def heartbeat_interval(stale: float | None = None) -> float:
    """How often a worker heart-beats: a sixth of the stale time, at least 0.5 s."""
    return max((stale_after() if stale is None else stale) / 6, MIN_HEARTBEAT)


def lost_reason(stale: float) -> str:
    return f"the run's worker stopped answering (no heartbeat for {stale:g} s)"


def start_pool(services: Services, loop: asyncio.AbstractEventLoop, size: int) -> WorkerPool:
    interrupted = services.runs.fail_interrupted(pool_name() + "/", INTERRUPTED)
    for run in interrupted:
        services.runner.server_log(run.id, [INTERRUPTED])
        log.warning("run %s was interrupted by the server's stop; marked Failed", run.run_id)
    pool = WorkerPool(
        LocalHost(services.runner, loop),
        services.home,
        size,
        pool_name(),
        heartbeat_interval=heartbeat_interval(),
    )
    pool.start()
    log.info("task workers: %d in this process", size)
    return pool


async def recover_stale_runs(services: Services, every: float | None = None) -> None:
    stale = stale_after()
    every = recovery_every() if every is None else every
    lost = lost_reason(stale)
    while True:
        await asyncio.sleep(every)
        failed, requeued = services.runs.recover_stale(stale, lost)
        for run in failed:
            services.runner.server_log(run.id, [lost])
            log.warning("run %s failed: %s", run.run_id, lost)
        for run in requeued:
            services.runner.server_log(run.id, [f"{lost}; queued again (no step had started)"])
            log.warning("run %s queued again: its worker was lost before any step", run.run_id)
