"""Copy an image, or a whole index, from one registry to another.

Order matters for registries that check references: blobs first (in parallel), then each
platform's manifest, then the index, then the tags. A blob the target already has is
skipped; inside one registry it is mounted, so a copy there moves no bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from airlock.client.progress import ProgressCallback, ProgressEvent
from airlock.client.registry import RegistryClient
from airlock.oci.manifest import Descriptor, Manifest


@dataclass(frozen=True, slots=True)
class CopyResult:
    digest: str
    media_type: str
    blobs_copied: int = 0
    bytes_copied: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0


class _Copy:
    def __init__(
        self,
        source: RegistryClient,
        source_repository: str,
        target: RegistryClient,
        target_repository: str,
        progress: ProgressCallback | None,
    ) -> None:
        self.source, self.source_repository = source, source_repository
        self.target, self.target_repository = target, target_repository
        # Mount works only inside one registry, and only from another repository.
        self.may_mount = (
            source.base_url == target.base_url and source_repository != target_repository
        )
        self._progress = progress
        self._lock = threading.Lock()
        self.copied = self.bytes = self.skipped = self.mounted = 0

    def report(self, kind: str, digest: str, done: int = 0, total: int | None = None) -> None:
        if self._progress is not None:
            with self._lock:  # one call at a time, whichever worker reports
                self._progress(ProgressEvent(kind, digest, done, total))  # type: ignore[arg-type]

    def count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def copy_blob(self, blob: Descriptor) -> None:
        digest = str(blob.digest)
        if self.target.blob_size(self.target_repository, digest) is not None:
            self.count(skipped=1)
            self.report("blob-skipped", digest, blob.size, blob.size)
            return
        if self.may_mount and self.target.mount_blob(
            self.target_repository, digest, self.source_repository
        ):
            self.count(mounted=1)
            self.report("blob-skipped", digest, blob.size, blob.size)
            return
        self.report("blob-start", digest, 0, blob.size)
        chunks = self.source.iter_blob(self.source_repository, digest, size=blob.size)
        self.target.upload_blob(
            self.target_repository, digest, self._watch(digest, blob.size, chunks), size=blob.size
        )
        self.count(copied=1, bytes=blob.size)
        self.report("blob-done", digest, blob.size, blob.size)

    def _watch(self, digest: str, total: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
        done = 0
        for chunk in chunks:
            done += len(chunk)
            self.report("blob-progress", digest, done, total)
            yield chunk

    def gather(self, manifest: Manifest, found: dict[str, Manifest]) -> None:
        """Every manifest under ``manifest`` (children of indexes, recursively) by digest."""
        for child in manifest.children:
            key = str(child.digest)
            if key in found:
                continue
            if self.target.head_manifest(self.target_repository, key) is not None:
                self.report("manifest", key, child.size, child.size)
                continue  # the target has it, so it has its blobs too
            found[key] = self.source.get_manifest(self.source_repository, key)
            self.gather(found[key], found)

    def put(self, manifest: Manifest, reference: str) -> None:
        self.target.put_manifest(
            self.target_repository, reference, manifest.raw, manifest.media_type
        )
        self.report("manifest", str(manifest.digest), len(manifest.raw), len(manifest.raw))


def copy_image(
    source: RegistryClient,
    source_repository: str,
    source_reference: str,
    target: RegistryClient,
    target_repository: str,
    tags: Sequence[str],
    *,
    workers: int = 4,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> CopyResult:
    """Copy ``source_repository:source_reference`` (an image or a whole index) to
    ``target_repository``, tagged ``tags`` (by digest only when ``tags`` is empty)."""
    job = _Copy(source, source_repository, target, target_repository, progress)
    top = source.get_manifest(source_repository, source_reference)
    manifests: dict[str, Manifest] = {}
    job.gather(top, manifests)
    blobs: dict[str, Descriptor] = {}
    for manifest in [top, *manifests.values()]:
        blobs.update((str(b.digest), b) for b in manifest.blob_references())
    _run_parallel(job.copy_blob, list(blobs.values()), workers)
    # Children before parents: an index may only name manifests the registry holds.
    for digest, manifest in reversed(manifests.items()):
        job.put(manifest, digest)
    for reference in tags or [str(top.digest)]:
        job.put(top, reference)
    return CopyResult(
        digest=str(top.digest),
        media_type=top.media_type,
        blobs_copied=job.copied,
        bytes_copied=job.bytes,
        blobs_skipped=job.skipped,
        blobs_mounted=job.mounted,
    )


def _run_parallel(
    work: Callable[[Descriptor], None], items: list[Descriptor], workers: int
) -> None:
    # Largest first, so one big layer does not start last and leave the other workers idle.
    items = sorted(items, key=lambda d: d.size, reverse=True)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="copy") as pool:
        futures = [pool.submit(work, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in done:
            future.result()  # raises the first failure
