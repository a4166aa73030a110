"""Just enough ASGI plumbing for the registry: requests, responses, streamed bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from airlock.registry.errors import RegistryError

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_VERSION_HEADER = (b"docker-distribution-api-version", b"registry/2.0")
JSON_TYPE = b"application/json"


class Request:
    __slots__ = ("_query", "body_done", "headers", "method", "path", "receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[str, str] = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        self._query: dict[str, list[str]] | None = None
        # Once the last body message is seen, receive() would only wait for the disconnect.
        self.body_done = False

    def query(self, name: str) -> str | None:
        values = self.query_all(name)
        return values[0] if values else None

    def query_all(self, name: str) -> list[str]:
        """Every value of a repeated parameter (``?tag=a&tag=b``), in order."""
        if self._query is None:
            self._query = parse_qs(
                self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            )
        return self._query.get(name, [])

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        if value is None:
            return None
        try:
            length = int(value)
        except ValueError:
            raise RegistryError("SIZE_INVALID", "Content-Length is not a number") from None
        if length < 0:
            raise RegistryError("SIZE_INVALID", "Content-Length is negative")
        return length

    async def chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives."""
        while not self.body_done:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnectedError
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                self.body_done = True

    async def read_body(self, limit: int) -> bytes:
        """The whole body, or MANIFEST_TOO_LARGE past ``limit`` bytes."""
        declared = self.content_length
        if declared is not None and declared > limit:
            raise RegistryError("MANIFEST_TOO_LARGE", f"body exceeds the {limit}-byte limit")
        parts: list[bytes] = []
        total = 0
        async for chunk in self.chunks():
            total += len(chunk)
            if total > limit:
                raise RegistryError("MANIFEST_TOO_LARGE", f"body exceeds the {limit}-byte limit")
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        """Read and drop any body, so that the connection can be kept alive."""
        async for _ in self.chunks():
            pass


class ClientDisconnectedError(Exception):
    """The client went away while we were reading its request."""


def header_list(
    headers: dict[str, str] | None, repeated: Sequence[tuple[str, str]] = ()
) -> list[tuple[bytes, bytes]]:
    """Response headers; ``repeated`` holds those sent once per value (``OCI-Tag``)."""
    out = [API_VERSION_HEADER]
    if headers:
        out.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    out.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in repeated)
    return out


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
    repeated: Sequence[tuple[str, str]] = (),
) -> None:
    raw = header_list(headers, repeated)
    raw.append(
        (b"content-length", str(len(body) if content_length is None else content_length).encode())
    )
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send, status: int, doc: Any, headers: dict[str, str] | None = None, *, head: bool = False
) -> None:
    body = json.dumps(doc, separators=(",", ":")).encode()
    merged = {"content-type": "application/json", **(headers or {})}
    await respond(send, status, b"" if head else body, merged, content_length=len(body))


async def respond_error(send: Send, error: RegistryError, *, head: bool = False) -> None:
    await respond_json(send, error.status, error.body(), error.headers, head=head)
