"""Import from an external registry: fetch manifests, then download and verify blobs.

The functions here block (HTTP, hashing, fsync) and run in worker threads; they never touch
the content store, whose connection belongs to the event-loop thread. Each blob is streamed
into its own upload object (created on the loop, so a crash leaves an upload the purger
removes), checked against its size and digest, and only then renamed into the blob store:
a partly downloaded or hostile blob leaves no file.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from airlock.client import RegistryClient
from airlock.client import errors as client_errors
from airlock.errors import AirlockError
from airlock.importer.errors import ImportFailedError
from airlock.importer.graph import ImageGraph, build_graph, check_digest
from airlock.importer.jobs import Progress
from airlock.importer.sources import Source
from airlock.oci.digest import Digest
from airlock.registry.errors import RegistryError
from airlock.registry.uploads import Uploads

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class PendingBlob:
    upload_id: str
    size: int


def fetch_graph(client: RegistryClient, source: Source) -> ImageGraph:
    top = client.get_manifest(source.repository, source.reference)
    if source.digest is not None:
        check_digest(top, source.digest)
    return build_graph(top, lambda digest: client.get_manifest(source.repository, digest))


def download_blobs(
    client: RegistryClient,
    repository: str,
    pending: Mapping[str, PendingBlob],
    uploads: Uploads,
    progress: Progress,
    parallel: int,
) -> None:
    """Download every pending blob, ``parallel`` at a time; the first failure stops the rest
    (blobs not yet started are cancelled) and is raised."""
    if not pending:
        return
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="import") as pool:
        futures: list[Future[None]] = [
            pool.submit(download_blob, client, repository, digest, blob, uploads, progress)
            for digest, blob in pending.items()
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            failed.result()


def download_blob(
    client: RegistryClient,
    repository: str,
    digest: str,
    blob: PendingBlob,
    uploads: Uploads,
    progress: Progress,
) -> None:
    writer = uploads.writer(blob.upload_id)
    try:
        for chunk in client.iter_blob(repository, digest, chunk_size=CHUNK, size=blob.size):
            writer.write(chunk)
            progress.add_bytes(len(chunk))
            if writer.offset > blob.size:
                raise _size_mismatch(digest, blob.size, "more")
    finally:
        writer.close()
    if writer.offset != blob.size:
        raise _size_mismatch(digest, blob.size, f"{writer.offset}")
    try:
        uploads.seal(blob.upload_id, Digest.parse(digest))
    except RegistryError as exc:
        raise ImportFailedError(
            f"refused: blob {digest} from the source does not match its digest "
            f"({exc.message}); nothing was imported",
            "ImportDigestMismatch",
            502,
        ) from None
    progress.blob_done()


def _size_mismatch(digest: str, expected: int, got: str) -> ImportFailedError:
    return ImportFailedError(
        f"refused: blob {digest} from the source is not the {expected} bytes its manifest "
        f"declares (got {got}); nothing was imported",
        "ImportDigestMismatch",
        502,
    )


# How each client error is answered: code, HTTP status, and the message to give.
_CLIENT_ERRORS: tuple[tuple[type[client_errors.ClientError], str, int, str], ...] = (
    (
        client_errors.AuthenticationError,
        "ImportSourceUnauthorized",
        401,
        "authentication failed for import of {source} ({detail}); check --username and --password",
    ),
    (
        client_errors.AccessDeniedError,
        "ImportSourceDenied",
        403,
        "access to {source} denied ({detail}); check the credentials' rights",
    ),
    (
        client_errors.NotFoundError,
        "ImportSourceNotFound",
        404,
        "image {source} not found ({detail}); check the image name and tag",
    ),
    (
        client_errors.DigestMismatchError,
        "ImportDigestMismatch",
        502,
        "refused: content from {source} does not match its digest ({detail}); nothing was imported",
    ),
    (
        client_errors.RateLimitedError,
        "ImportSourceRateLimited",
        429,
        "the source registry rate-limited the import of {source} ({detail}); try again later",
    ),
    (
        client_errors.RegistryUnavailableError,
        "ImportSourceUnavailable",
        502,
        "cannot import {source}: the source registry is unavailable ({detail})",
    ),
)


def translate(exc: client_errors.ClientError, source: Source, password: str | None) -> AirlockError:
    """The error to report for a failed remote import; a password never reaches it."""
    code, status, template = "ImportSourceError", 502, "cannot import {source}: {detail}"
    for cls, cls_code, cls_status, cls_template in _CLIENT_ERRORS:
        if isinstance(exc, cls):
            code, status, template = cls_code, cls_status, cls_template
            break
    message = template.format(source=source, detail=exc.message)
    if password:
        message = message.replace(password, "***")
    return ImportFailedError(message, code, status)
