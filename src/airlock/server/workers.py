"""The server's own worker pool, and the recovery of runs whose worker went away.

- At start, runs this server's pool held when it stopped (a crash, a kill, a restart) are
  failed with that reason: no run stays Running for ever.
- Every ten seconds, runs whose worker (a pool thread or an ``airlock worker`` process) has
  not heart-beaten for ``STALE_AFTER`` seconds are recovered: queued again when no step had
  started, failed with the reason otherwise; never run twice.

``AIRLOCK_WORKERS`` sets the pool's size (default: the number of cores; 0: no pool, runs wait
for ``airlock worker`` processes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from airlock.runner.local import LocalHost
from airlock.runner.worker import INTERRUPTED, STALE_AFTER, WorkerPool
from airlock.server.services import Services

log = logging.getLogger(__name__)

WORKERS_ENV = "AIRLOCK_WORKERS"
LOST = f"the run's worker stopped answering (no heartbeat for {STALE_AFTER:.0f} s)"


def pool_name() -> str:
    """The name of this machine's server pool; its workers are ``<name>/<n>``."""
    return f"server-{socket.gethostname()}"


def pool_size() -> int:
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


def start_pool(services: Services, loop: asyncio.AbstractEventLoop, size: int) -> WorkerPool:
    interrupted = services.runs.fail_interrupted(pool_name() + "/", INTERRUPTED)
    for run in interrupted:
        services.runner.server_log(run.id, [INTERRUPTED])
        log.warning("run %s was interrupted by the server's stop; marked Failed", run.run_id)
    pool = WorkerPool(LocalHost(services.runner, loop), services.home, size, pool_name())
    pool.start()
    log.info("task workers: %d in this process", size)
    return pool


async def recover_stale_runs(services: Services, every: float = 10.0) -> None:
    while True:
        await asyncio.sleep(every)
        failed, requeued = services.runs.recover_stale(STALE_AFTER, LOST)
        for run in failed:
            services.runner.server_log(run.id, [LOST])
            log.warning("run %s failed: %s", run.run_id, LOST)
        for run in requeued:
            services.runner.server_log(run.id, [f"{LOST}; queued again (no step had started)"])
            log.warning("run %s queued again: its worker was lost before any step", run.run_id)
