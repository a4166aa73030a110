"""One request/response exchange: the ASGI ``receive`` and ``send`` callables of a request.

The connection (``protocol.HttpProtocol``) parses bytes and owns the socket; a cycle turns the
parsed request into ASGI messages for the app and the app's messages into bytes on the socket.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import IO, TYPE_CHECKING

from airlock.server.http import access
from airlock.server.http.body import RequestBody
from airlock.server.http.response import (
    CONTINUE_100,
    LAST_CHUNK,
    Framing,
    chunk,
    chunk_header,
    encode_head,
    simple_response,
)
from airlock.server.http.sendfile import SENDERS, SendfileCancelledError, send_blocking
from airlock.server.http.types import ASGIApp, ClientDisconnectedError, Message, Scope

if TYPE_CHECKING:
    from airlock.server.http.protocol import HttpProtocol

logger = logging.getLogger("airlock.http")

# Below this a body is copied next to its head/chunk framing and written once; above it the
# copy costs more than the extra write call.
COALESCE_LIMIT = 64 * 1024
INTERNAL_ERROR_BODY = b'{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}'


class RequestCycle:
    __slots__ = (
        "_conn",
        "_expect_100",
        "_framing",
        "_head",
        "_is_head",
        "_request_delivered",
        "_sent",
        "_started_at",
        "_status",
        "_transport",
        "body",
        "disconnected",
        "keep_alive",
        "response_complete",
        "response_started",
        "scope",
    )

    def __init__(
        self, conn: HttpProtocol, scope: Scope, *, keep_alive: bool, expect_100: bool
    ) -> None:
        self._conn = conn
        self._transport = conn.transport
        self.scope = scope
        self.keep_alive = keep_alive
        self._expect_100 = expect_100
        self._is_head = scope["method"] == "HEAD"
        self.body = RequestBody(conn.loop)
        self._request_delivered = False  # the last http.request message went to the app
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self._head = b""  # written together with the first body bytes
        self._framing: Framing | None = None
        self._status = 0
        self._sent = 0
        self._started_at = time.perf_counter()

    # -- fed by the connection -------------------------------------------------------------

    def disconnect(self) -> None:
        self.disconnected = True
        self.body.wake()

    # -- ASGI receive ----------------------------------------------------------------------

    async def receive(self) -> Message:
        if self._expect_100:
            self._send_continue()
        body = self.body
        while not (body or body.done or self.disconnected):
            await body.wait()
        if self.disconnected or self._request_delivered:
            # ASGI: once the request is read, receive() blocks until the exchange is over.
            while not (self.disconnected or self.response_complete):
                await body.wait()
            return {"type": "http.disconnect"}
        data = b""
        if body:
            data = body.take()
            self._conn.body_consumed(len(data))
        self._request_delivered = body.complete
        return {"type": "http.request", "body": data, "more_body": not body.complete}

    def _send_continue(self) -> None:
        self._expect_100 = False
        if not (self.response_started or self.disconnected or self.body.done):
            self._transport.write(CONTINUE_100)
            self._conn.body_clock_start(self)

    # -- ASGI send -------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        if self.disconnected:
            raise ClientDisconnectedError("client disconnected")
        kind = message["type"]
        if kind == "http.response.body":
            self._require_started(kind)
            self._write_body(message.get("body", b""), message.get("more_body", False))
        elif kind == "http.response.start":
            self._start(message)
        elif kind == "http.response.zerocopysend":
            self._require_started(kind)
            await self._zerocopy(
                message["file"],
                message.get("offset"),
                message.get("count"),
                message.get("more_body", False),
            )
        elif kind == "http.response.pathsend":
            self._require_started(kind)
            await self._pathsend(message["path"])
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if self._conn.write_paused:
            await self._conn.drain()

    def _require_started(self, kind: str) -> None:
        if not self.response_started:
            raise RuntimeError(f"{kind} before http.response.start")
        if self.response_complete:
            raise RuntimeError(f"{kind} after the response was complete")

    def _start(self, message: Message) -> None:
        if self.response_started:
            raise RuntimeError("http.response.start sent twice")
        self._expect_100 = False  # the client waits for this answer instead of sending a body
        # A body still on the wire cannot be skipped reliably: announce the close up front.
        keep_alive = self.keep_alive and self.body.done and not self._conn.closing
        self._status = message["status"]
        self._head, self._framing = encode_head(
            self._status,
            message.get("headers", ()),
            http11=self.scope["http_version"] == "1.1",
            keep_alive=keep_alive,
            is_head=self._is_head,
        )
        self.keep_alive = self._framing.keep_alive
        self.response_started = True

    def _write_body(self, body: bytes, more: bool) -> None:
        framing = self._framing
        assert framing is not None
        size = len(body)
        head, self._head = self._head, b""
        parts: tuple[bytes, ...]
        if framing.no_body:
            size = 0
            parts = (head,)
        elif framing.chunked:
            self._sent += size
            if size == 0:
                parts = (head, b"" if more else LAST_CHUNK)
            elif size < COALESCE_LIMIT:
                parts = (head, chunk(body), b"" if more else LAST_CHUNK)
            else:
                parts = (head, chunk_header(size), body, b"\r\n" if more else b"\r\n" + LAST_CHUNK)
        else:
            self._check_length(framing, size)
            self._sent += size
            parts = (head, body)
        self._write(parts)
        if not more:
            self._complete()

    def _write(self, parts: tuple[bytes, ...]) -> None:
        total = sum(map(len, parts))
        if total == 0:
            return
        if total < COALESCE_LIMIT:
            self._transport.write(b"".join(parts))
            return
        for part in parts:
            if part:
                self._transport.write(part)

    def _check_length(self, framing: Framing, size: int) -> None:
        if framing.content_length is not None and self._sent + size > framing.content_length:
            raise RuntimeError("response body longer than its content-length")

    async def _zerocopy(
        self, file: IO[bytes], offset: int | None, count: int | None, more: bool
    ) -> None:
        framing = self._framing
        assert framing is not None
        if not framing.no_body:
            if offset is None:
                offset = file.tell()
            if count is None:
                count = os.fstat(file.fileno()).st_size - offset
            await self._send_file_range(framing, file, offset, count, more)
        elif self._head:
            self._write((self._head,))
            self._head = b""
        if not more:
            self._complete()

    async def _send_file_range(
        self, framing: Framing, file: IO[bytes], offset: int, count: int, more: bool
    ) -> None:
        head, self._head = self._head, b""
        chunked = framing.chunked and count > 0
        if not framing.chunked:
            self._check_length(framing, count)
        self._write((head, chunk_header(count) if chunked else b""))
        if count:
            await self._sendfile(file, offset, count)
            self._sent += count
        tail = b"\r\n" if chunked else b""
        if framing.chunked and not more:
            tail += LAST_CHUNK
        self._write((tail,))

    async def _sendfile(self, file: IO[bytes], offset: int, count: int) -> None:
        transport = self._transport
        # The head must be on the wire before the thread writes to the socket behind the
        # transport's back; it almost always went out at once.
        while transport.get_write_buffer_size() and not transport.is_closing():
            await asyncio.sleep(0.001)
        if transport.is_closing():
            raise ClientDisconnectedError("client disconnected")
        sock = transport.get_extra_info("socket")
        cancel = threading.Event()
        try:
            sent = await asyncio.get_running_loop().run_in_executor(
                SENDERS, send_blocking, sock.fileno(), file.fileno(), offset, count, cancel
            )
        except asyncio.CancelledError:
            cancel.set()
            raise
        except (ConnectionError, SendfileCancelledError) as exc:
            raise ClientDisconnectedError("client disconnected during sendfile") from exc
        if sent != count:
            raise RuntimeError(f"file ended after {sent} of {count} bytes")

    async def _pathsend(self, path: str) -> None:
        with open(path, "rb") as file:
            await self._zerocopy(file, 0, None, False)

    def _complete(self) -> None:
        framing = self._framing
        assert framing is not None
        if framing.content_length is not None and not framing.no_body:
            # A short body leaves the client waiting for bytes that never come.
            self.keep_alive = self.keep_alive and self._sent == framing.content_length
        self.response_complete = True
        self.body.wake()
        if self._conn.log_access and access.access_logger.isEnabledFor(logging.INFO):
            self._log_access()
        self._conn.response_complete(self)

    def _log_access(self) -> None:
        scope = self.scope
        access.log_request(
            self._conn.label,
            scope["method"],
            scope["raw_path"],
            scope["query_string"],
            scope["http_version"],
            self._status,
            self._sent,
            self._started_at,
            time.perf_counter(),
        )

    # -- running the app -------------------------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:  # an app failure must end in a response, not a dead task
            self._app_failed(exc)
        else:
            if not self.response_complete:
                self._app_incomplete()

    def _app_failed(self, exc: Exception) -> None:
        if self.disconnected or isinstance(exc, ClientDisconnectedError):
            # Routine (a client gave up): no traceback. sendfile can see the broken pipe
            # before the transport does, so make sure the socket goes.
            logger.debug("app stopped after the client disconnected: %r", exc)
            self._conn.close()
            return
        logger.error("ASGI app raised", exc_info=exc)
        if self.response_started:
            self._conn.close()
        else:
            self._internal_error()

    def _app_incomplete(self) -> None:
        if self.disconnected:
            return
        if self.response_started:
            logger.error("ASGI app returned before finishing its response")
            self._conn.close()
        else:
            logger.error("ASGI app returned without a response")
            self._internal_error()

    def _internal_error(self) -> None:
        data, self._framing = simple_response(
            500,
            INTERNAL_ERROR_BODY,
            b"application/json",
            keep_alive=self.keep_alive and self.body.done and not self._conn.closing,
            is_head=self._is_head,
        )
        self.keep_alive = self._framing.keep_alive
        self.response_started = True
        self._status = 500
        self._sent = 0 if self._is_head else len(INTERNAL_ERROR_BODY)
        self._transport.write(data)
        self._complete()
