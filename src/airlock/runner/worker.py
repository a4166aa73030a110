"""Workers: claim a run, execute it, report as it goes; the same loop in the server's pool
and in an ``airlock worker`` process.

A worker talks to its server through a ``RunHost``: in the server's process, ``LocalHost``
(the run service, called on the server's event loop); in a separate process, the worker API
over HTTP (``airlock.runner.remote``). While a run executes, a heartbeat goes to the server
every few seconds; when the server answers that the run is no longer this worker's
(cancelled, or failed because the worker was thought lost), the run is stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from airlock.runner.executor import RunExecutor, RunResult, StepReport
from airlock.runner.plan import RunPlan
from airlock.runner.runlog import RunLog
from airlock.vault.masking import SecretMasker

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5.0
STALE_AFTER = 30.0  # a run whose worker has not heart-beaten for this long is recovered
INTERRUPTED = "the run was interrupted: the server stopped while it ran"


class RunHost(Protocol):
    def claim(self, worker: str, wait: float) -> RunPlan | None: ...

    def heartbeat(self, run: str, worker: str) -> bool: ...

    def append_log(self, run: str, worker: str, lines: Sequence[tuple[str, str]]) -> bool: ...

    def record_step(self, run: str, worker: str, report: StepReport) -> bool: ...

    def finish(self, run: str, worker: str, result: RunResult) -> bool: ...


def execute_claimed(
    host: RunHost,
    plan: RunPlan,
    worker: str,
    home: Path,
    *,
    stopping: threading.Event | None = None,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
    binary: str = "podman",
    interrupted: str = INTERRUPTED,
) -> RunResult:
    """Execute a run this worker holds, then report how it ended."""
    masker = SecretMasker()
    masker.add_many(plan.secret_values())
    cancel = threading.Event()
    run_log = RunLog(lambda lines: _deliver(host, plan, worker, lines), masker)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat_interval):
            try:
                if not host.heartbeat(plan.run, worker):
                    cancel.set()
                    return
            except Exception as exc:  # the server may be restarting: try again
                log.warning("heartbeat for run %s failed: %s", plan.run_id, exc)

    def watch_stopping() -> None:
        if stopping is not None:
            while not done.is_set():
                if stopping.wait(0.5):
                    cancel.set()
                    return

    threads = [
        threading.Thread(target=beat, name=f"heartbeat-{plan.run_id}", daemon=True),
        threading.Thread(target=watch_stopping, name=f"stopping-{plan.run_id}", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        result = RunExecutor(
            plan,
            home=home,
            log=run_log,
            report=lambda report: _report(host, plan, worker, report),
            cancel=cancel,
            binary=binary,
        ).execute()
    finally:
        done.set()
        run_log.close()
    if stopping is not None and stopping.is_set():
        result = RunResult("Failed", interrupted, result.output_images)
    try:
        host.finish(plan.run, worker, result)
    except Exception:
        log.exception("could not report the end of run %s", plan.run_id)
    return result


def _deliver(host: RunHost, plan: RunPlan, worker: str, lines: Sequence[tuple[str, str]]) -> None:
    host.append_log(plan.run, worker, lines)


def _report(host: RunHost, plan: RunPlan, worker: str, report: StepReport) -> None:
    try:
        host.record_step(plan.run, worker, report)
    except Exception:
        log.exception("could not record step %s of run %s", report.step_id, plan.run_id)


class WorkerPool:
    """``size`` threads, each claiming and executing one run at a time.

    ``claim_wait``: how long one claim may wait for a run to be queued; ``interrupted``: the
    reason a run still going when the pool stops ends with."""

    def __init__(
        self,
        host: RunHost,
        home: Path,
        size: int,
        name: str,
        *,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        claim_wait: float = 1.0,
        interrupted: str = INTERRUPTED,
    ) -> None:
        self.host = host
        self.home = home
        self.size = size
        self.name = name
        self.heartbeat_interval = heartbeat_interval
        self.claim_wait = claim_wait
        self.interrupted = interrupted
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.size):
            worker = self.worker_name(number)
            thread = threading.Thread(target=self._loop, args=(worker,), name=worker, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; runs still going are stopped and reported as interrupted."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, worker: str) -> None:
        while not self.stopping.is_set():
            try:
                plan = self.host.claim(worker, self.claim_wait)
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log.warning("worker %s could not claim a run: %s", worker, exc)
                self.stopping.wait(2.0)
                continue
            if plan is None:
                continue
            log.info("worker %s runs %s", worker, plan.run_id)
            result = execute_claimed(
                self.host,
                plan,
                worker,
                self.home,
                stopping=self.stopping,
                heartbeat_interval=self.interval(),
                interrupted=self.interrupted,
            )
            log.info("worker %s ended %s: %s", worker, plan.run_id, result.status)

    def worker_name(self, number: int) -> str:
        return f"{self.name}/{number}"

    def interval(self) -> float:
        """The heartbeat interval for the run about to start."""
        return self.heartbeat_interval
