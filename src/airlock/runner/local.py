"""The server's own workers reach the run service through its event loop.

The server touches its database from the event-loop thread only (one SQLite connection, short
transactions), so a worker thread does not call the run service directly: each call is run on
the loop (``run_coroutine_threadsafe``) and its answer awaited. A worker waiting for work
sleeps until a run is queued (the service wakes it) or a second has passed (runs queued by
another server process are found then).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from airlock.runner.executor import RunResult, StepReport
from airlock.runner.plan import RunPlan
from airlock.runner.service import RunService

T = TypeVar("T")
CALL_TIMEOUT = 60.0


class LocalHost:
    def __init__(self, service: RunService, loop: asyncio.AbstractEventLoop) -> None:
        self.service = service
        self.loop = loop
        self._queued = threading.Condition()
        self._generation = 0
        service.on_queued(self._wake)

    def claim(self, worker: str, wait: float) -> RunPlan | None:
        with self._queued:
            seen = self._generation
        plan = self._call(self.service.claim, worker)
        if plan is not None:
            return plan
        with self._queued:
            if self._generation == seen:
                self._queued.wait(wait)
        return self._call(self.service.claim, worker)

    def heartbeat(self, run: str, worker: str) -> bool:
        return self._call(self.service.heartbeat, run, worker)

    def append_log(self, run: str, worker: str, lines: Sequence[tuple[str, str]]) -> bool:
        return self._call(self.service.append_log, run, worker, lines)

    def record_step(self, run: str, worker: str, report: StepReport) -> bool:
        return self._call(self.service.record_step, run, worker, report)

    def finish(self, run: str, worker: str, result: RunResult) -> bool:
        return self._call(self.service.finish, run, worker, result)

    def _wake(self) -> None:
        with self._queued:
            self._generation += 1
            self._queued.notify_all()

    def _call(self, function: Callable[..., T], *args: object) -> T:
        async def on_loop() -> T:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(on_loop(), self.loop).result(CALL_TIMEOUT)
