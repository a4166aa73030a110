"""Polling of git contexts: the fallback for repositories that cannot call the webhook.

Every ``AIRLOCK_COMMIT_POLL_SECONDS`` (default 60; 0 turns polling off), each Enabled task
with a git context and its commit trigger on has the head of its branch asked with
``git ls-remote`` (in a thread, with a timeout and the task's git token). When the head
differs from the task's last commit:

- the first observation (no last commit yet) only records it: a task created on an existing
  repository does not run for the commit that was there already;
- later ones fire as the webhook does (``airlock.triggers.commits.fire``, the same
  exactly-once key), so a commit both saw runs once.

At most one ``ls-remote`` is in flight per task (a slow server delays only its own tasks),
and at most ``MAX_PARALLEL`` in all. Failures are logged once per failure streak, and again
when the task's repository answers again; nothing raises out of the loop. Database calls are
made on the event loop's thread only; the thread running git touches no database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from airlock.common.settings import seconds
from airlock.registry.registries import RegistryRecord
from airlock.runs.tasks import Task
from airlock.triggers.commits import (
    CommitServices,
    DefaultBranches,
    GitLookupError,
    fire,
    git_context,
    not_firing,
    remote_head,
)

log = logging.getLogger(__name__)

POLL_ENV = "AIRLOCK_COMMIT_POLL_SECONDS"
DEFAULT_EVERY = 60.0
MAX_PARALLEL = 8


def poll_interval() -> float:
    """Seconds between two polls, from ``AIRLOCK_COMMIT_POLL_SECONDS`` (0: no polling);
    ValueError names a bad setting (the server refuses to start with it)."""
    return seconds(POLL_ENV, DEFAULT_EVERY, 0.2, 86400, off=True)


class CommitPoller:
    def __init__(
        self, services: CommitServices, default_branches: DefaultBranches | None = None
    ) -> None:
        self.services = services
        self.default_branches = default_branches or DefaultBranches()
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.failing: set[str] = set()
        self.slots = asyncio.Semaphore(MAX_PARALLEL)

    def due(self) -> list[tuple[RegistryRecord, Task]]:
        """The tasks to ask about now (short database reads, on the loop's thread)."""
        found = []
        for registry in self.services.registries.all():
            for task in self.services.tasks.all(registry.id):
                if task.id in self.in_flight or not_firing(self.services, task) is not None:
                    continue
                found.append((registry, task))
        return found

    def tick(self) -> None:
        """Start one check for every due task that has none in flight."""
        for registry, task in self.due():
            check = asyncio.create_task(self.check(registry, task))
            self.in_flight[task.id] = check
            check.add_done_callback(self._forget(task.id))

    def _forget(self, task_id: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self.in_flight.pop(task_id, None)

        return forget

    async def check(self, registry: RegistryRecord, task: Task) -> None:
        spec = git_context(task)
        if spec is None:
            return
        try:
            token = self.services.tasks.git_token(task) if spec.is_http else None
            async with self.slots:
                branch, head = await asyncio.to_thread(remote_head, spec, token)
            if not spec.branch:
                self.default_branches.remember(spec.git_url, branch)
            self._recovered(registry, task)
            if head is None:
                return
            self._observe(registry, task, branch, head)
        except asyncio.CancelledError:
            raise
        except GitLookupError as exc:
            self._failed(registry, task, str(exc))
        except Exception as exc:  # a bug or the database: logged, never out of the loop
            self._failed(registry, task, f"{type(exc).__name__}: {exc}", unexpected=exc)

    def _observe(self, registry: RegistryRecord, task: Task, branch: str, head: str) -> None:
        # Read again: the task may have changed, or the webhook fired, while git ran.
        try:
            current = self.services.tasks.get(registry.id, task.name)
        except Exception:  # deleted meanwhile
            return
        if current.id != task.id or not_firing(self.services, current) is not None:
            return
        settings = self.services.trigger_settings
        last = settings.get(task.id).last_commit
        if last == head:
            return
        if last is None:
            # The first look: remember what is there, run nothing.
            settings.set_last_commit(task.id, head)
            log.info("task %s/%s follows %s at %s", registry.name, task.name, branch, head[:12])
            return
        fire(self.services, registry, current, head, branch, "polling")

    def _failed(
        self, registry: RegistryRecord, task: Task, reason: str, unexpected: Exception | None = None
    ) -> None:
        if task.id in self.failing:
            return
        self.failing.add(task.id)
        log.warning(
            "commit polling of task %s/%s failed (logged once until it works again): %s",
            registry.name,
            task.name,
            reason,
            exc_info=unexpected,
        )

    def _recovered(self, registry: RegistryRecord, task: Task) -> None:
        if task.id in self.failing:
            self.failing.discard(task.id)
            log.info("commit polling of task %s/%s works again", registry.name, task.name)

    def cancel(self) -> None:
        for check in list(self.in_flight.values()):
            check.cancel()


async def poll_commits(services: CommitServices, every: float) -> None:
    """Poll every ``every`` seconds until cancelled (the server's shutdown)."""
    if every <= 0:
        return
    poller = CommitPoller(services)
    failing = False
    try:
        while True:
            try:
                poller.tick()
                if failing:
                    log.info("commit polling works again")
                failing = False
            except Exception:
                if not failing:
                    log.exception("commit polling failed (logged once until it works again)")
                failing = True
            await asyncio.sleep(every)
    finally:
        poller.cancel()
