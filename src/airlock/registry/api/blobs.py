"""Blob GET/HEAD (with Range) and DELETE.

Downloads are sent by the kernel (the ASGI zero-copy extension) so that blob bytes never pass
through Python; without the extension (test clients) the file is streamed in chunks.
"""

from __future__ import annotations

import asyncio
import re
from typing import BinaryIO

from airlock.oci.digest import Digest
from airlock.registry.api.asgi import Send, header_list, respond
from airlock.registry.api.call import Call
from airlock.registry.errors import RegistryError

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_STREAM_CHUNK = 1024 * 1024


async def get(call: Call) -> None:
    digest = str(Digest.parse(call.arg))
    size = call.ctx.content.blob_size(call.repo, digest)
    if size is None:
        raise RegistryError(
            "BLOB_UNKNOWN", f"blob {digest} unknown to repository", {"digest": digest}
        )
    head = call.request.method == "HEAD"
    headers = {
        "content-type": "application/octet-stream",
        "docker-content-digest": digest,
        "etag": f'"{digest}"',
        "accept-ranges": "bytes",
        "cache-control": "max-age=31536000",
    }
    span = parse_range(call.request.headers.get("range"), size)
    status, offset, count = 200, 0, size
    if span is not None:
        offset, end = span
        count = end - offset + 1
        status = 206
        headers["content-range"] = f"bytes {offset}-{end}/{size}"
    headers["content-length"] = str(count)
    send = call.request.send
    if head or count == 0:
        await send(
            {"type": "http.response.start", "status": status, "headers": header_list(headers)}
        )
        await send({"type": "http.response.body", "body": b""})
        return
    try:
        file = call.ctx.blobs.open(digest)
    except FileNotFoundError:
        raise RegistryError(
            "BLOB_UNKNOWN", f"blob {digest} is recorded but its data is missing", {"digest": digest}
        ) from None
    with file:
        await send(
            {"type": "http.response.start", "status": status, "headers": header_list(headers)}
        )
        await _send_file(call, send, file, offset, count)


async def _send_file(call: Call, send: Send, file: BinaryIO, offset: int, count: int) -> None:
    if "http.response.zerocopysend" in call.request.scope.get("extensions", {}):
        await send(
            {
                "type": "http.response.zerocopysend",
                "file": file,
                "offset": offset,
                "count": count,
                "more_body": False,
            }
        )
        return
    file.seek(offset)
    remaining = count
    while remaining > 0:
        chunk = await asyncio.to_thread(file.read, min(_STREAM_CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
    if remaining > 0:
        await send({"type": "http.response.body", "body": b""})


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as (first, last) inclusive; None for the whole blob.

    Anything that is not a single satisfiable ``bytes=`` range is refused with 416 and
    ``Content-Range: bytes */<size>``, as the spec asks.
    """
    if value is None:
        return None
    match = _RANGE_RE.match(value.strip())
    first: int | None = None
    if match and (match[1] or match[2]):
        if match[1]:
            first = int(match[1])
            last = int(match[2]) if match[2] else size - 1
        else:
            suffix = int(match[2])
            first, last = max(size - suffix, 0), size - 1
            if suffix == 0:
                first = None
        if first is not None and first <= last and first < size:
            return first, min(last, size - 1)
    raise RegistryError(
        "RANGE_INVALID",
        f"range {value[:100]!r} cannot be satisfied for a blob of {size} bytes",
        headers={"content-range": f"bytes */{size}"},
    )


async def delete(call: Call) -> None:
    digest = str(Digest.parse(call.arg))
    if not call.ctx.content.unlink_blob(call.repo, digest):
        raise RegistryError(
            "BLOB_UNKNOWN", f"blob {digest} unknown to repository", {"digest": digest}
        )
    await respond(call.request.send, 202, headers={"docker-content-digest": digest})
