"""``ImportService``: checks an import request, then runs it as a background job.

Everything that can be refused at once is refused before a job exists (a bad source, a
source outside the allowed registries, an existing tag without ``force``, a lock), so the
REST API answers those with an error rather than a job that fails. Content-store work runs
on the event-loop thread, between the threaded network and disk steps.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from airlock.client import Credentials, RegistryClient
from airlock.client.errors import ClientError
from airlock.errors import AirlockError, InvalidArgumentError
from airlock.importer.graph import ImageGraph
from airlock.importer.guard import Access, ImportPolicy, check_source, connect_guard
from airlock.importer.jobs import ImportJob, JobStore
from airlock.importer.local import read_local
from airlock.importer.publish import check_targets, publish
from airlock.importer.remote import PendingBlob, download_blobs, fetch_graph, translate
from airlock.importer.sources import ImportSpec, OwnRegistry, parse_import
from airlock.registry.content import ContentStore, Scope
from airlock.registry.registries import RegistryCatalog, RegistryRecord
from airlock.registry.uploads import Uploads

log = logging.getLogger("airlock.importer")

PARALLEL_SETTING = "AIRLOCK_IMPORT_PARALLEL"
DEFAULT_PARALLEL = 4


@dataclass(frozen=True)
class ImportRequest:
    source: str
    images: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()
    force: bool = False
    registry: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def credentials(self) -> Credentials | None:
        if self.username is None and self.password is None:
            return None
        if not self.username or not self.password:
            raise InvalidArgumentError("give both --username and --password, or neither")
        return Credentials(self.username, self.password)


class ImportService:
    def __init__(
        self,
        registries: RegistryCatalog,
        content: ContentStore,
        uploads: Uploads,
        policy: ImportPolicy | None = None,
        parallel: int | None = None,
    ) -> None:
        self.registries = registries
        self.content = content
        self.uploads = uploads
        self.policy = policy or ImportPolicy.from_env()
        self.parallel = parallel or int(os.environ.get(PARALLEL_SETTING) or DEFAULT_PARALLEL)
        self.jobs = JobStore()
        # Keeps running tasks referenced: the loop holds only weak references to them.
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(
        self,
        registry: str,
        request: ImportRequest,
        may_read_local: Callable[[RegistryRecord], None] | None = None,
    ) -> ImportJob:
        """Start an import into ``registry``. ``may_read_local`` is called with the source
        registry when the source is one of this server's; it raises when the caller may not
        pull from it (``az acr import`` checks read access on a source registry too)."""
        target = self.registries.get(registry)
        own = [OwnRegistry(r.name, r.login_server) for r in self.registries.all()]
        spec = parse_import(
            request.source,
            images=request.images,
            repositories=request.repositories,
            registry=request.registry,
            own=own,
        )
        request.credentials()
        if spec.source.local and may_read_local is not None:
            may_read_local(self.registries.get(spec.source.registry))
        access = None
        if not spec.source.local:
            # Blocks on DNS, and must run before any connection is made.
            access = await asyncio.to_thread(check_source, spec.source.registry, self.policy)
        check_targets(self.content, target, spec.tags, spec.repositories, force=request.force)
        job = self.jobs.add(
            registry=target.name,
            source=str(spec.source),
            mode="local" if access is None else "remote",
            target_tags=[str(t) for t in spec.tags],
            repositories=list(spec.repositories),
            force=request.force,
        )
        task = asyncio.create_task(self._run(job, target, spec, request, access))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(
        self,
        job: ImportJob,
        target: RegistryRecord,
        spec: ImportSpec,
        request: ImportRequest,
        access: Access | None,
    ) -> None:
        try:
            if access is None:
                graph = self._read_local(spec)
            else:
                graph = await self._fetch_remote(job, target, spec, request, access)
            # Again: a tag may have appeared while the blobs downloaded.
            check_targets(self.content, target, spec.tags, spec.repositories, force=request.force)
            publish(self.content, target, graph, spec.tags, spec.repositories)
        except AirlockError as exc:
            job.fail(exc)
        except ClientError as exc:
            job.fail(translate(exc, spec.source, request.password))
        except Exception:
            log.exception("import %s of %s failed", job.id, job.source)
            job.fail(AirlockError(f"internal error; the server log has import {job.id}"))
        else:
            job.succeed(str(graph.top.digest))
            log.info("import %s: %s -> %s done", job.id, job.source, target.name)

    def _read_local(self, spec: ImportSpec) -> ImageGraph:
        source = self.registries.get(spec.source.registry)
        scope = Scope(source.id, source.name, spec.source.repository)
        return read_local(self.content, scope, spec.source)

    async def _fetch_remote(
        self,
        job: ImportJob,
        target: RegistryRecord,
        spec: ImportSpec,
        request: ImportRequest,
        access: Access,
    ) -> ImageGraph:
        credentials = request.credentials()
        with RegistryClient(
            access.host,
            credentials=credentials,
            insecure=access.insecure,
            connect_guard=connect_guard(self.policy),
        ) as client:
            graph = await asyncio.to_thread(fetch_graph, client, spec.source)
            # Uploads belong to a repository; the first target is as good as any.
            scope = Scope(target.id, target.name, spec.target_repositories()[0])
            pending = self._start_uploads(job, scope, graph)
            try:
                await asyncio.to_thread(
                    download_blobs,
                    client,
                    spec.source.repository,
                    pending,
                    self.uploads,
                    job.progress,
                    self.parallel,
                )
            finally:
                self._settle(scope, pending)
        return graph

    def _start_uploads(
        self, job: ImportJob, scope: Scope, graph: ImageGraph
    ) -> dict[str, PendingBlob]:
        """An upload per blob this server does not hold yet (skip-existing)."""
        missing = {d: s for d, s in graph.blobs.items() if self.content.stored_blob_size(d) is None}
        job.progress.plan(
            blobs=len(missing),
            total=sum(missing.values()),
            present=len(graph.blobs) - len(missing),
        )
        return {d: PendingBlob(self.uploads.start(scope), s) for d, s in missing.items()}

    def _settle(self, scope: Scope, pending: dict[str, PendingBlob]) -> None:
        """Record the blobs that arrived verified (even if the import failed, so that no
        stored file is orphaned and a retry skips them); drop every upload."""
        for digest, blob in pending.items():
            if self.uploads.blobs.exists(digest):
                self.content.link_blob(scope, digest, blob.size)
            self.uploads.discard_data(blob.upload_id)
            self.uploads.forget(blob.upload_id)

    def get(self, job_id: str) -> ImportJob | None:
        return self.jobs.get(job_id)
