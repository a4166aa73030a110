"""Base-image triggers for this server's registries: a tracked tag that moves runs its tasks.

The registry stores an event for every push, tag, untag and delete, in the same transaction
as the change. This service reads them in order from a cursor kept in the database
(``trigger_cursors``), so a change committed while it was not running (a restart, a crash) is
still seen; it is woken by each event as it is published, and reads again every few seconds
for events other server processes stored.

For an event that points a tag to a manifest, every task with a tracked base at that
``registry/repository:tag`` (``runs.baseimages``: the bases of its last successful run; only
runtime bases unless the task's trigger type is ``All``) runs with TRIGGER ``Image Update``,
unless the digest is the one it built with (a re-push of the same image). Exactly once per
(task, reference, digest) (``firings``); a change is not queued again while an ``Image
Update`` run for another of its bases is still queued (two bases changing together give one
run); each new digest of one base gets a run of its own.

Chains follow on their own: a triggered run pushes, its push is an event, its dependents run.
A run remembers the chain of tasks that led to it; a task that would be triggered by a chain
it is already in (A builds B's base and B builds A's) is not run, and the run whose push
would have started it says so in its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from airlock.registry.events import PUSH, TAG, EventBus, RegistryEvent
from airlock.registry.registries import RegistryCatalog, RegistryRecord
from airlock.runner.service import RunService
from airlock.runs.baseimages import RUNTIME, BaseImageStore, Dependent
from airlock.runs.store import QUEUED, RunStore
from airlock.runs.tasks import DISABLED, Task, TaskStore
from airlock.triggers.firings import IMAGE, FiringStore
from airlock.triggers.settings import ALL, TriggerSettingsStore

log = logging.getLogger(__name__)

CURSOR = "registry-events"
IMAGE_UPDATE = "Image Update"
BATCH = 500


class ImageTriggers:
    def __init__(
        self,
        *,
        engine: Engine,
        registries: RegistryCatalog,
        tasks: TaskStore,
        runs: RunStore,
        runner: RunService,
        settings: TriggerSettingsStore,
        firings: FiringStore,
        base_images: BaseImageStore,
    ) -> None:
        self.engine = engine
        self.registries = registries
        self.tasks = tasks
        self.runs = runs
        self.runner = runner
        self.settings = settings
        self.firings = firings
        self.base_images = base_images

    # --- reading the event log -------------------------------------------------------------

    def catch_up(self) -> int:
        """Handle every event after the cursor; return how many were read."""
        total = 0
        while True:
            position = self._cursor()
            events = self._events_after(position)
            for event in events:
                try:
                    self.handle(event)
                except Exception:
                    log.exception("base-image trigger failed on event %s", event.id)
                self._advance(event.id)
            total += len(events)
            if len(events) < BATCH:
                return total

    def start_at_end(self) -> None:
        """A first start begins after the events already stored (nothing tracked them)."""
        with self.engine.begin() as conn:
            last = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM events")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO trigger_cursors (name, position) VALUES (:name, :position)"
                    " ON CONFLICT (name) DO NOTHING"
                ),
                {"name": CURSOR, "position": int(last)},
            )

    # --- one event -----------------------------------------------------------------------

    def handle(self, event: RegistryEvent) -> None:
        if event.action not in (PUSH, TAG) or not event.tag or not event.digest:
            return
        record = self._registry(event.registry)
        if record is None:
            return
        self.changed(record.login_server, event.repository, event.tag, event.digest)

    def changed(self, registry: str, repository: str, tag: str, digest: str) -> None:
        """``registry/repository:tag`` now points to ``digest``: run the tasks that track it
        (this server's registries through their events, external ones through polling)."""
        reference = f"{registry}/{repository}:{tag}"
        by_task: dict[str, list[Dependent]] = {}
        for dependent in self.base_images.dependents(registry, repository, tag):
            by_task.setdefault(dependent.task, []).append(dependent)
        for task_id, dependents in by_task.items():
            self._consider(task_id, dependents, reference, digest)

    def _consider(
        self, task_id: str, dependents: list[Dependent], reference: str, digest: str
    ) -> None:
        task = self.tasks.by_id(task_id)
        if task is None or task.status == DISABLED:
            return
        settings = self.settings.get(task_id)
        if not settings.base_image_enabled:
            return
        watched = [
            d for d in dependents if d.base.kind == RUNTIME or settings.base_image_type == ALL
        ]
        if not watched or all(d.base.digest == digest for d in watched):
            return  # not watched, or a re-push of the image it built with
        old = next((d.base.digest for d in watched if d.base.digest), None)
        chain = self._chain_of(reference)
        if task_id in chain:
            self._stop_cycle(task, reference, chain)
            return
        key = f"{reference}@{digest}"
        if not self.firings.claim(task_id, IMAGE, key):
            return
        if self._joins_a_queued_run(task, reference):
            log.info("task %s already has an Image Update run queued; %s joins it", task.name, key)
            return
        record = self.registries.get_by_id(task.registry_id)
        cause = {
            "kind": "image",
            "reference": reference,
            "oldDigest": old,
            "newDigest": digest,
            "chain": [*chain, task_id],
        }
        run = self.runner.queue_task(record, task, trigger=IMAGE_UPDATE, cause=cause)
        self.firings.attach(task_id, IMAGE, key, run.id)
        log.info(
            "base image %s moved to %s: task %s/%s runs as %s",
            reference,
            digest[:19],
            record.name,
            task.name,
            run.run_id,
        )

    def _joins_a_queued_run(self, task: Task, reference: str) -> bool:
        """Another base of the task changed and its run has not started: that run builds on
        this change too. A new digest of the same base gets a run of its own."""
        queued = self.runs.recent(
            task.registry_id, task=task.name, status=QUEUED, trigger=IMAGE_UPDATE
        )
        return any(_cause(run.definition).get("reference") != reference for run in queued)

    def _chain_of(self, reference: str) -> list[str]:
        """The tasks that led to ``reference`` being pushed: the chain of the latest run of
        the task that builds it, and that task."""
        chain: list[str] = []
        for producer in self.base_images.producers(reference):
            task = self.tasks.by_id(producer)
            if task is None:
                continue
            runs = self.runs.recent(task.registry_id, task=task.name, top=1)
            cause = _cause(runs[0].definition) if runs else {}
            for member in [*(cause.get("chain") or []), producer]:
                if member not in chain:
                    chain.append(member)
        return chain

    def _stop_cycle(self, task: Task, reference: str, chain: list[str]) -> None:
        names = [t.name if (t := self.tasks.by_id(member)) else member for member in chain]
        message = (
            f"Image Update trigger of task {task.name!r} stopped: {reference} is built by a "
            f"chain of tasks that it started ({' -> '.join([*names, task.name])}); break the "
            "cycle by disabling the base-image trigger of one of them "
            "('airlock acr task update --base-image-trigger-enabled false')"
        )
        log.warning("%s", message)
        for producer in self.base_images.producers(reference):
            producing = self.tasks.by_id(producer)
            if producing is None:
                continue
            latest = self.runs.recent(producing.registry_id, task=producing.name, top=1)
            if latest:
                self.runner.server_log(latest[0].id, [message])

    # --- storage ---------------------------------------------------------------------------

    def _registry(self, name: str) -> RegistryRecord | None:
        try:
            return self.registries.get(name)
        except Exception:
            return None

    def _cursor(self) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT position FROM trigger_cursors WHERE name = :name"), {"name": CURSOR}
            ).scalar_one_or_none()
        return int(found or 0)

    def _advance(self, position: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO trigger_cursors (name, position) VALUES (:name, :position)"
                    " ON CONFLICT (name) DO UPDATE SET position = :position"
                    " WHERE trigger_cursors.position < :position"
                ),
                {"name": CURSOR, "position": position},
            )

    def _events_after(self, position: int) -> list[RegistryEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, registry, repository, action, digest, tag, media_type, created_at"
                    " FROM events WHERE id > :position ORDER BY id LIMIT :batch"
                ),
                {"position": position, "batch": BATCH},
            ).all()
        return [RegistryEvent(*row) for row in rows]


def _cause(definition: str) -> dict[str, Any]:
    try:
        snapshot = json.loads(definition)
    except ValueError:
        return {}
    cause = snapshot.get("cause") if isinstance(snapshot, dict) else None
    return cause if isinstance(cause, dict) else {}


async def run_image_triggers(triggers: ImageTriggers, bus: EventBus, every: float = 5.0) -> None:
    """Read the event log when an event is published, and every ``every`` seconds."""
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_event(_: RegistryEvent) -> None:
        loop.call_soon_threadsafe(wake.set)

    unsubscribe: Callable[[], None] = bus.subscribe(on_event)
    try:
        triggers.start_at_end()
        while True:
            try:
                triggers.catch_up()
            except Exception:
                log.exception("base-image triggers could not read the event log")
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), every)
    finally:
        unsubscribe()
