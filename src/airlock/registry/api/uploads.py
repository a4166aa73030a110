"""Blob uploads: POST (session, single-request, mount), PATCH, PUT, status GET, DELETE.

Request bytes are written by a worker thread while the event loop reads the next chunk, so
that hashing and disk writes overlap with the network.
"""

from __future__ import annotations

import asyncio
import re

from airlock.oci.digest import Digest
from airlock.oci.names import check_name
from airlock.registry.api.asgi import respond
from airlock.registry.api.call import Call
from airlock.registry.content import Scope as RepoScope
from airlock.registry.errors import RegistryError

_CONTENT_RANGE_RE = re.compile(r"^(?:bytes )?(\d+)-(\d+)(?:/\d+|/\*)?$")


def _session_headers(call: Call, upload_id: str, offset: int) -> dict[str, str]:
    return {
        "location": call.location(f"blobs/uploads/{upload_id}"),
        # Distribution answers 0-0 for an empty upload; clients expect that shape.
        "range": f"0-{max(offset - 1, 0)}",
        "docker-upload-uuid": upload_id,
    }


async def start(call: Call) -> None:
    if call.arg:
        raise RegistryError("UNSUPPORTED", "POST goes to /blobs/uploads/ without an upload id")
    call.ctx.content.check_push(call.repo)
    request = call.request
    mount = request.query("mount")
    source = request.query("from")
    if mount is not None and source:
        digest = str(Digest.parse(mount))
        if await _mount(call, digest, check_name(source)):
            await request.drain()
            await respond(
                request.send,
                201,
                headers={
                    "location": call.location(f"blobs/{digest}"),
                    "docker-content-digest": digest,
                },
            )
            return
    single = request.query("digest")
    expected = Digest.parse(single) if single is not None else None
    upload_id = call.ctx.uploads.start(call.repo, call.grant.subject)
    if expected is None:
        await request.drain()
        await respond(request.send, 202, headers=_session_headers(call, upload_id, 0))
        return
    try:
        await _append(call, upload_id, None)
        await _seal(call, upload_id, expected)
    except BaseException:
        # A single-request upload has no URL the client could resume or cancel: a failure
        # (full disk, disconnect, wrong digest) must leave nothing behind.
        call.ctx.uploads.discard_data(upload_id)
        call.ctx.uploads.forget(upload_id)
        raise


async def _mount(call: Call, digest: str, source: str) -> bool:
    """Link a blob from another repository of this registry: no bytes move.

    Only when the credential may pull the source; otherwise the client gets a plain upload
    session, as the spec allows, and learns nothing about the source.
    """
    if not call.grant.allows("repository", source, "pull"):
        return False
    content = call.ctx.content
    size = content.blob_size(RepoScope(call.repo.registry_id, call.repo.registry, source), digest)
    if size is None or not call.ctx.blobs.exists(digest):
        return False
    content.link_blob(call.repo, digest, size)
    return True


async def status(call: Call) -> None:
    offset = call.ctx.uploads.offset(call.repo, call.arg)
    await respond(call.request.send, 204, headers=_session_headers(call, call.arg, offset))


async def patch(call: Call) -> None:
    offset = call.ctx.uploads.offset(call.repo, call.arg)
    start_at = _content_range_start(call, offset)
    new_offset = await _append(call, call.arg, start_at)
    await respond(call.request.send, 202, headers=_session_headers(call, call.arg, new_offset))


def _content_range_start(call: Call, offset: int) -> int | None:
    value = call.request.headers.get("content-range")
    if value is None:
        return None
    match = _CONTENT_RANGE_RE.match(value.strip())
    if match is None:
        raise RegistryError("BLOB_UPLOAD_INVALID", f"malformed Content-Range {value[:80]!r}")
    first, last = int(match[1]), int(match[2])
    length = call.request.content_length
    if last < first or (length is not None and length != last - first + 1):
        raise RegistryError(
            "SIZE_INVALID", f"Content-Range {value!r} does not match Content-Length {length}"
        )
    if first != offset:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID",
            f"chunk starts at {first} but the upload is at offset {offset}; "
            "ask for the upload status and send from there",
            status=416,
            headers=_session_headers(call, call.arg, offset),
        )
    return first


async def finish(call: Call) -> None:
    value = call.request.query("digest")
    if value is None:
        raise RegistryError("DIGEST_INVALID", "PUT needs ?digest=<algorithm>:<hex>")
    expected = Digest.parse(value)
    offset = call.ctx.uploads.offset(call.repo, call.arg)
    start_at = _content_range_start(call, offset)
    await _append(call, call.arg, start_at)
    await _seal(call, call.arg, expected)


async def cancel(call: Call) -> None:
    call.ctx.uploads.cancel(call.repo, call.arg)
    await respond(call.request.send, 204)


async def _append(call: Call, upload_id: str, start_at: int | None) -> int:
    """Stream the request body onto the upload; returns the new offset."""
    uploads = call.ctx.uploads
    uploads.acquire(upload_id)
    try:
        writer = await asyncio.to_thread(uploads.writer, upload_id)
        if start_at is not None and start_at != writer.offset:
            raise RegistryError("BLOB_UPLOAD_INVALID", "upload offset moved", status=416)
        pending: asyncio.Future[None] | None = None
        try:
            async for chunk in call.request.chunks():
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(writer.write, chunk))
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None:
                # An error left a write in flight: let it end before the file closes.
                await asyncio.wait([pending])
                if not pending.cancelled():
                    pending.exception()
            await asyncio.to_thread(writer.close)
        return writer.offset
    finally:
        uploads.release(upload_id)


async def _seal(call: Call, upload_id: str, expected: Digest) -> None:
    uploads = call.ctx.uploads
    try:
        size = await asyncio.to_thread(uploads.seal, upload_id, expected)
    except RegistryError:
        uploads.forget(upload_id)
        raise
    digest = str(expected)
    call.ctx.content.link_blob(call.repo, digest, size)
    uploads.forget(upload_id)
    await respond(
        call.request.send,
        201,
        headers={"location": call.location(f"blobs/{digest}"), "docker-content-digest": digest},
    )
