"""Import jobs: what ``POST .../imports`` starts and ``GET /api/imports/{id}`` reports.

Jobs live in the server's memory only: a restart forgets them (an import interrupted by a
restart left no tag, see ``publish``, and is simply run again). The last ``KEEP`` jobs are
kept. Progress counters are updated by download threads, hence the lock.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from airlock.common.clock import now_iso
from airlock.errors import AirlockError

RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
KEEP = 500


@dataclass
class Progress:
    bytes_done: int = 0
    bytes_total: int = 0
    blobs_done: int = 0
    blobs_total: int = 0
    blobs_present: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def plan(self, *, blobs: int, total: int, present: int) -> None:
        with self._lock:
            self.blobs_total, self.bytes_total, self.blobs_present = blobs, total, present

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes_done += count

    def blob_done(self) -> None:
        with self._lock:
            self.blobs_done += 1

    def to_json(self) -> dict[str, int]:
        with self._lock:
            return {
                "bytesDone": self.bytes_done,
                "bytesTotal": self.bytes_total,
                "blobsDone": self.blobs_done,
                "blobsTotal": self.blobs_total,
                "blobsAlreadyPresent": self.blobs_present,
            }


@dataclass
class ImportJob:
    id: str
    registry: str
    source: str
    mode: str
    target_tags: list[str]
    repositories: list[str]
    force: bool
    status: str = RUNNING
    progress: Progress = field(default_factory=Progress)
    error: AirlockError | None = None
    digest: str | None = None
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def succeed(self, digest: str) -> None:
        self.digest, self.status = digest, SUCCEEDED
        self._finish()

    def fail(self, error: AirlockError) -> None:
        self.error, self.status = error, FAILED
        self._finish()

    def _finish(self) -> None:
        self.finished = now_iso()
        self._done.set()

    async def wait(self) -> None:
        await self._done.wait()

    def to_json(self) -> dict[str, Any]:
        # Never the password: it is not even kept on the job.
        return {
            "id": self.id,
            "registry": self.registry,
            "source": self.source,
            "mode": self.mode,
            "targetTags": self.target_tags,
            "repositories": self.repositories,
            "force": self.force,
            "status": self.status,
            "digest": self.digest,
            "progress": self.progress.to_json(),
            "error": None
            if self.error is None
            else {"code": self.error.code, "message": self.error.message},
            "startTime": self.started,
            "endTime": self.finished,
        }


class JobStore:
    def __init__(self, keep: int = KEEP) -> None:
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()
        self._keep = keep

    def add(self, **fields: Any) -> ImportJob:
        job = ImportJob(id=uuid.uuid4().hex, **fields)
        self._jobs[job.id] = job
        self._trim()
        return job

    def get(self, job_id: str) -> ImportJob | None:
        return self._jobs.get(job_id)

    def _trim(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.status != RUNNING]
        for job_id in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job_id]
