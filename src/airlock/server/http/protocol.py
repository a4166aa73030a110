"""One HTTP/1.1 connection: parsing with httptools, pipelining, flow control, keep-alive.

Requests are parsed as bytes arrive; each becomes a :class:`RequestCycle`. Only one cycle
talks to the app at a time (responses must leave in request order); the ones parsed ahead wait
in ``_pipeline``. Reading pauses when too much request body is queued for the app, when too
many requests wait, or when the connection is about to close.

One timer per connection enforces the deadlines (see ``_check``): a request head must arrive
within ``header_timeout``, an idle keep-alive connection closes after ``keepalive_timeout``,
and a request body must keep coming while the server is reading it (``body_timeout`` without
a byte, or a window of ``body_rate_window`` seconds under ``min_body_rate``). Time the server
itself holds the client back (reading paused, ``100 Continue`` not sent yet) never counts.
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


# After an error response, or a response that left its request body unread, the connection
# reads and drops what the client still sends for this long (or this many bytes) before it
# closes: closing a socket with unread bytes makes the kernel send RST, and a client still
# sending its body may then lose the response it was about to read.
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 * 1024 * 1024


class _RefusedError(Exception):
    """Raised inside a parser callback to stop parsing (``_error_status`` says why)."""


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
        self._in_head = False  # the first byte of a head has arrived, its end has not
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
        # deadlines (one timer, re-armed lazily: see _arm and _check)
        self._timer: asyncio.TimerHandle | None = None
        self._idle_since = 0.0
        self._head_since: float | None = None  # a request head is awaited since
        self._body_clock = False  # the client is expected to be sending the current body
        self._body_last = 0.0  # when its latest byte arrived (or the clock started)
        self._window_start = 0.0
        self._window_bytes = 0
        self._body_total = 0  # bytes of the current body, against max_body_size
        self._lingering = False
        self._discarded = 0
        self._error_status = 0
        self._error_message = ""
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
        # The first request gets header_timeout from the accept, not the longer keep-alive
        # wait: a connection that never asks for anything must not hold a socket for long.
        self._head_since = self.loop.time()
        self._arm(self._head_since + self._config.header_timeout)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self._end_linger()
            return
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
            elif self._body_clock and self._current is not None:
                self._arm(self._body_last + self._body_period())

    def eof_received(self) -> bool:
        if self._lingering:
            return False  # the client has read our answer and is done: close
        if self._current is not None or (self._active is None and not self._pipeline):
            return False  # nothing left to answer, or a body that will never end: close
        self._close_after_pipeline = True  # half-close: still answer what was asked
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._lingering = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
        if self._head_since is None:  # else the connection's first head: timed from accept
            self._head_since = self.loop.time()
            self._arm(self._head_since + self._config.header_timeout)

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
            raise _RefusedError

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_since = None
        limit = self._config.max_body_size
        if limit is not None:
            self._check_declared_length(limit)
        self._body_total = 0
        # With "Expect: 100-continue" the client waits for our go-ahead: its clock starts then.
        self._start_body_clock(running=not self._expect_100)
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

    def _check_declared_length(self, limit: int) -> None:
        """Refuse a Content-Length over the limit before reading (or asking for) the body."""
        for name, value in self._headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return  # llhttp refuses a malformed length on its own
                if declared > limit:
                    self._refuse(413, _too_large(limit, declared))

    def _refuse(self, status: int, message: str) -> None:
        self._error_status = status
        self._error_message = message
        raise _RefusedError

    def on_body(self, body: bytes) -> None:
        cycle = self._current
        assert cycle is not None
        size = len(body)
        self._body_total += size
        limit = self._config.max_body_size
        if limit is not None and self._body_total > limit:
            self._refuse(413, _too_large(limit, None))  # chunked: counted as it comes
        self._window_bytes += size
        self._body_last = self.loop.time()
        cycle.body.feed(body)
        self._buffered += size
        if self._buffered > self._config.max_body_buffer and not self._read_paused:
            self._update_reading()

    def on_message_complete(self) -> None:
        cycle = self._current
        assert cycle is not None
        cycle.body.finish()
        self._current = None
        self._body_clock = False

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
            if cycle.body.done:
                self.close()
            else:  # answered before the body ended (a 401, say): let the client see it
                self._current = None
                self._body_clock = False
                self._linger()
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
        if self._lingering:
            return  # reading (and dropping) until the linger ends
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
            if self._body_clock:
                self._start_body_clock(running=True)  # the paused time was ours, not theirs

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

    # -- errors -----------------------------------------------------------------------------

    def _protocol_error(self, status: int, exc: Exception | None) -> None:
        logger.debug("bad request from %s (%d): %r", self._client, status, exc)
        self._error_status = status
        cycle = self._current
        if cycle is not None:
            self._refuse_body(cycle)  # broken mid-body: the app's request can never complete
            return
        self._update_reading()
        if self._active is None and not self._pipeline:
            self._write_error()

    def _refuse_body(self, cycle: RequestCycle) -> None:
        """Stop a request whose body broke a limit or the parser; answer if still possible."""
        self._current = None
        self._body_clock = False
        cycle.disconnect()  # the app sees http.disconnect; nothing it sends goes out now
        if cycle is self._active and not cycle.response_started:
            self._write_error()
        else:
            self.close()  # a response is under way (or one ahead of it): only hanging up is safe

    def _write_error(self) -> None:
        if self._lost or self.transport.is_closing():
            return
        status = self._error_status
        message = self._error_message or _ERROR_MESSAGES.get(status, "bad request")
        data, _ = simple_response(status, self._config.error_body(status, message), _JSON)
        self.transport.write(data)
        self._linger()

    # -- deadlines ---------------------------------------------------------------------------

    def _arm(self, when: float) -> None:
        """Make sure the deadline timer fires no later than ``when`` (loop time).

        A timer set later than needed is cancelled; one set earlier is kept and re-armed by
        ``_check`` when it fires: at most one timer op per state change, none per read.
        """
        timer = self._timer
        if self._lingering or self._lost:
            return
        if timer is not None:
            if timer.when() <= when:
                return
            timer.cancel()
        self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._lost or self._lingering:
            return
        deadline = self._check(self.loop.time())
        if deadline is not None:
            self._arm(deadline)

    def _check(self, now: float) -> float | None:
        """Act on a passed deadline; returns the next one to watch, if any."""
        config = self._config
        if self._head_since is not None:
            deadline = self._head_since + config.header_timeout
            if now < deadline:
                return deadline
            self._head_since = None
            if not self._in_head:
                self.close()  # not a byte of a request: nothing to answer
                return None
            self._error_message = f"request head not complete within {config.header_timeout:g} s"
            self._protocol_error(408, None)
            return None
        if self._current is not None:
            return self._check_body(now) if self._body_clock and not self._read_paused else None
        if self._active is None and not self._pipeline:
            deadline = self._idle_since + config.keepalive_timeout
            if now < deadline:
                return deadline
            self.close()
            return None
        return None  # the app is answering: response_complete re-arms the idle clock

    def _check_body(self, now: float) -> float | None:
        config = self._config
        deadline = self._body_last + config.body_timeout
        if now >= deadline:
            self._body_too_slow(f"no request body byte for {config.body_timeout:g} s")
            return None
        if not config.min_body_rate:
            return deadline
        window_end = self._window_start + config.body_rate_window
        if now >= window_end:
            elapsed = now - self._window_start
            got = self._window_bytes
            # A window without any byte is left to body_timeout: a healthy client may pause.
            if 0 < got < config.min_body_rate * elapsed:
                self._body_too_slow(
                    f"request body arrived at {got / elapsed:.0f} bytes/s over {elapsed:.1f} s,"
                    f" under the server's floor of {config.min_body_rate} bytes/s"
                )
                return None
            self._window_start = now
            self._window_bytes = 0
            window_end = now + config.body_rate_window
        return min(deadline, window_end)

    def _body_too_slow(self, message: str) -> None:
        logger.info("closing the connection from %s: %s", self._client, message)
        cycle = self._current
        assert cycle is not None
        self._error_status = 408
        self._error_message = message
        self._refuse_body(cycle)

    def _body_period(self) -> float:
        config = self._config
        if config.min_body_rate:
            return min(config.body_timeout, config.body_rate_window)
        return config.body_timeout

    def _start_body_clock(self, *, running: bool) -> None:
        self._body_clock = running
        now = self.loop.time()
        self._body_last = self._window_start = now
        self._window_bytes = 0
        if running and self._current is not None:
            self._arm(now + self._body_period())

    def body_clock_start(self, cycle: RequestCycle) -> None:
        """Called when ``100 Continue`` goes out: from now on the client owes us its body."""
        if cycle is self._current and not self._body_clock:
            self._start_body_clock(running=True)

    def _become_idle(self) -> None:
        """Start the keep-alive clock (the next head is timed from its first byte)."""
        self._idle_since = self.loop.time()
        if self._head_since is None:
            self._arm(self._idle_since + self._config.keepalive_timeout)

    # -- closing -----------------------------------------------------------------------------

    def _linger(self) -> None:
        """Close gracefully after a last response: half-close, drop what still comes, close."""
        if self._lost or self._lingering or self.transport.is_closing():
            return
        if not self.transport.can_write_eof():
            self.close()
            return
        self._lingering = True
        self._discarded = 0
        self.transport.write_eof()  # the client reads our answer, then end of stream
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(LINGER_SECONDS, self._end_linger)
        self._read_paused = False
        self.restore_reading()

    def _end_linger(self) -> None:
        self._timer = None
        self._lingering = False
        self.close()

    def close(self) -> None:
        """Close after the bytes already written (the socket stops reading at once)."""
        if self._lingering:
            return  # already closing, politely; _end_linger finishes it
        if not self.transport.is_closing():
            self.transport.close()

    def shutdown(self) -> None:
        """Graceful stop: close now if idle, else right after the response in flight."""
        self.closing = True
        if self._active is None:
            self.close()

    def abort(self) -> None:
        """Hard stop once the grace period is over."""
        self._lingering = False
        self.transport.abort()
        for task in self._tasks:
            task.cancel()

    def _maybe_finished(self) -> None:
        if self._lost and not self._tasks and not self.finished.done():
            self.finished.set_result(None)
            self._registry.connections.discard(self)


_JSON = b"application/json"
_ERROR_MESSAGES = {
    400: "malformed HTTP request",
    408: "request timed out",
    413: "request body too large",
    431: "request header fields too large",
}


def _too_large(limit: int, declared: int | None) -> str:
    size = f"of {declared} bytes " if declared is not None else ""
    return f"request body {size}is larger than the {limit} bytes this endpoint accepts"
