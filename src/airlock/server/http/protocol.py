"""One HTTP/1.1 connection: parsing with httptools, pipelining, flow control, keep-alive.

Requests are parsed as bytes arrive; each becomes a :class:`RequestCycle`. Only one cycle
talks to the app at a time (responses must leave in request order); the ones parsed ahead wait
in ``_pipeline``. Reading pauses when too much request body is queued for the app, when too
many requests wait, or when the connection is about to close.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, cast
from urllib.parse import unquote

import httptools

from airlock.server.http.cycle import RequestCycle
from airlock.server.http.response import simple_response
from airlock.server.http.types import ASGIApp, ClientDisconnectedError, ServerConfig

logger = logging.getLogger("airlock.http")

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS")}


class _HeadTooLargeError(Exception):
    """Raised inside a parser callback to stop parsing an oversized request head."""


class ConnectionRegistry:
    """The live connections of one listener, so that it can close them on removal."""

    def __init__(self) -> None:
        self.connections: set[HttpProtocol] = set()
        self.closed = False


class HttpProtocol(asyncio.Protocol):
    def __init__(
        self,
        app: ASGIApp,
        config: ServerConfig,
        server_addr: tuple[str, int],
        registry: ConnectionRegistry,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._app = app
        self._config = config
        self._server_addr = server_addr
        self.label = f"{server_addr[0]}:{server_addr[1]}"
        self.log_access = config.access_log
        self._registry = registry
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = cast(asyncio.Transport, None)
        self._client: tuple[str, int] | None = None
        # request being parsed
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._expect_100 = False
        self._in_head = False
        self._head_bytes = 0  # counted by the parser callbacks
        self._head_data = 0  # raw bytes received while a head is incomplete
        self._current: RequestCycle | None = None  # the cycle whose body is being parsed
        # requests being answered
        self._active: RequestCycle | None = None
        self._pipeline: deque[RequestCycle] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        # flow control and lifetime
        self._buffered = 0  # request body bytes queued for apps, not yet received
        self._read_paused = False
        self.write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._idle_since = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._error_status = 0
        self._close_after_pipeline = False
        self.closing = False  # the server is shutting this connection down
        self._lost = False
        self.finished: asyncio.Future[None] = self.loop.create_future()

    # -- asyncio protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._client = (peer[0], peer[1]) if isinstance(peer, tuple) else None
        self._registry.connections.add(self)
        if self._registry.closed:
            self.shutdown()
            return
        self._become_idle()

    def data_received(self, data: bytes) -> None:
        if self._error_status or self._lost:
            return  # parser is in an error state; the connection is about to close
        if self._in_head:
            self._head_data += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close_after_pipeline = True  # no protocol switch: answer, then hang up
            self._update_reading()
        except httptools.HttpParserError as exc:
            self._protocol_error(self._error_status or 400, exc)
        else:
            if self._in_head and self._head_data > self._config.max_header_bytes:
                self._protocol_error(431, None)

    def eof_received(self) -> bool:
        if self._current is not None or (self._active is None and not self._pipeline):
            return False  # nothing left to answer, or a body that will never end: close
        self._close_after_pipeline = True  # half-close: still answer what was asked
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for cycle in (self._active, self._current, *self._pipeline):
            if cycle is not None:
                cycle.disconnect()
        self._pipeline.clear()
        self._current = None
        self._wake_drain()
        self._maybe_finished()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain()

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._expect_100 = False
        self._in_head = True
        self._head_bytes = 0
        self._head_data = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_100 = True
        self._headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._config.max_header_bytes:
            self._error_status = 431
            raise _HeadTooLargeError

    def on_headers_complete(self) -> None:
        self._in_head = False
        cycle = RequestCycle(
            self,
            self._build_scope(),
            keep_alive=self._parser.should_keep_alive(),
            expect_100=self._expect_100,
        )
        self._current = cycle
        if self._active is None and not self._pipeline:
            self._start(cycle)
        else:
            self._pipeline.append(cycle)
            if len(self._pipeline) >= self._config.max_pipeline:
                self._update_reading()

    def on_body(self, body: bytes) -> None:
        cycle = self._current
        assert cycle is not None
        cycle.body.feed(body)
        self._buffered += len(body)
        if self._buffered > self._config.max_body_buffer and not self._read_paused:
            self._update_reading()

    def on_message_complete(self) -> None:
        cycle = self._current
        assert cycle is not None
        cycle.body.finish()
        self._current = None

    def _build_scope(self) -> dict[str, Any]:
        url = self._url
        if url[:1] == b"/":
            raw_path, _, query = url.partition(b"?")
        else:  # absolute-form or "*"
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path or b"/", parsed.query or b""
        text = raw_path.decode("latin-1")
        method = self._parser.get_method()
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": self._parser.get_http_version(),
            "server": self._server_addr,
            "client": self._client,
            "scheme": "http",
            "method": _METHODS.get(method) or method.decode("ascii"),
            "root_path": "",
            "path": unquote(text) if "%" in text else text,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
            "extensions": {"http.response.zerocopysend": {}, "http.response.pathsend": {}},
            "state": {},
        }

    # -- running cycles ----------------------------------------------------------------------

    def _start(self, cycle: RequestCycle) -> None:
        self._active = cycle
        task = self.loop.create_task(cycle.run(self._app))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("request task failed", exc_info=task.exception())
            self.close()
        self._maybe_finished()

    def response_complete(self, cycle: RequestCycle) -> None:
        """Called by the active cycle once its last byte is written."""
        if cycle is not self._active:
            return
        self._active = None
        if self._lost:
            return
        if not cycle.keep_alive or self.closing:
            self.close()
        elif self._pipeline:
            self._start(self._pipeline.popleft())
            self._update_reading()
        elif self._error_status:
            self._write_error()
        elif self._close_after_pipeline:
            self.close()
        else:
            self._become_idle()

    # -- flow control ------------------------------------------------------------------------

    def body_consumed(self, size: int) -> None:
        self._buffered -= size
        if self._read_paused and self._buffered <= self._config.max_body_buffer // 2:
            self._update_reading()

    def _update_reading(self) -> None:
        config = self._config
        if self._read_paused:
            pause = (
                self._buffered > config.max_body_buffer // 2
                or len(self._pipeline) >= config.max_pipeline // 2
            )
        else:
            pause = (
                self._buffered > config.max_body_buffer
                or len(self._pipeline) >= config.max_pipeline
            )
        pause = pause or self._close_after_pipeline or bool(self._error_status)
        if pause != self._read_paused:
            self._read_paused = pause
            self.restore_reading()

    def restore_reading(self) -> None:
        """Make the transport match our wish (``loop.sendfile`` pauses and resumes it too)."""
        if self._lost or self.transport.is_closing():
            return
        if self._read_paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    @property
    def reading_paused(self) -> bool:
        return self._read_paused

    @property
    def buffered_body_bytes(self) -> int:
        return self._buffered

    async def drain(self) -> None:
        while self.write_paused and not self._lost:
            self._drain_waiter = self.loop.create_future()
            await self._drain_waiter
        if self._lost:
            raise ClientDisconnectedError("client disconnected")

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._drain_waiter = None

    # -- errors, idleness, closing -----------------------------------------------------------

    def _protocol_error(self, status: int, exc: Exception | None) -> None:
        logger.debug("bad request from %s: %r", self._client, exc)
        self._error_status = status
        if self._current is not None:
            self.close()  # broken mid-body: the app's request can never complete
            return
        self._update_reading()
        if self._active is None and not self._pipeline:
            self._write_error()

    def _write_error(self) -> None:
        status = self._error_status
        message = b"request header fields too large" if status == 431 else b"bad request"
        body = b'{"errors":[{"code":"UNKNOWN","message":"%s"}]}' % message
        data, _ = simple_response(status, body, b"application/json")
        self.transport.write(data)
        self.close()

    def _become_idle(self) -> None:
        """Start the keep-alive clock; it also bounds how long a request head may take."""
        self._idle_since = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(
                self._config.keepalive_timeout, self._idle_timeout
            )

    def _idle_timeout(self) -> None:
        # One timer per idle period, re-armed lazily: cheaper than cancelling one per request.
        self._idle_timer = None
        if self._active is not None or self._pipeline or self._lost:
            return
        left = self._idle_since + self._config.keepalive_timeout - self.loop.time()
        if left > 0.001:
            self._idle_timer = self.loop.call_later(left, self._idle_timeout)
        else:
            self.close()

    def close(self) -> None:
        """Close after the bytes already written (the socket stops reading at once)."""
        if not self.transport.is_closing():
            self.transport.close()

    def shutdown(self) -> None:
        """Graceful stop: close now if idle, else right after the response in flight."""
        self.closing = True
        if self._active is None:
            self.close()

    def abort(self) -> None:
        """Hard stop once the grace period is over."""
        self.transport.abort()
        for task in self._tasks:
            task.cancel()

    def _maybe_finished(self) -> None:
        if self._lost and not self._tasks and not self.finished.done():
            self.finished.set_result(None)
            self._registry.connections.discard(self)
