"""The HTTP server: any number of listeners, each with its own ASGI app, added and removed live."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from dataclasses import dataclass

from airlock.server.http import accept, limits
from airlock.server.http.protocol import ConnectionRegistry, HttpProtocol
from airlock.server.http.types import ASGIApp, ErrorBody, Listener, ServerConfig

_BACKLOG = 1024


@dataclass(eq=False)
class _Bound:
    listener: Listener
    server: asyncio.Server
    registry: ConnectionRegistry


class HttpServer:
    """Serves ASGI apps over HTTP/1.1 on the running asyncio loop.

    Use the stdlib event loop: its ``loop.sendfile`` is what makes file responses zero-copy.

    The deadlines left as None come from the environment (``limits``: AIRLOCK_KEEPALIVE_TIMEOUT,
    AIRLOCK_HEADER_TIMEOUT, AIRLOCK_BODY_TIMEOUT, AIRLOCK_MIN_BODY_RATE,
    AIRLOCK_BODY_RATE_WINDOW); a malformed variable raises ValueError here. ``min_body_rate``
    0 turns the rate floor off. Accept failures for lack of file descriptors are logged at
    most once per ``accept_error_interval`` seconds.
    """

    def __init__(
        self,
        *,
        access_log: bool = True,
        keepalive_timeout: float | None = None,
        header_timeout: float | None = None,
        body_timeout: float | None = None,
        min_body_rate: int | None = None,
        body_rate_window: float | None = None,
        max_body_buffer: int = 8 * 1024 * 1024,
        max_header_bytes: int = 64 * 1024,
        accept_error_interval: float = 60.0,
    ) -> None:
        self._config = ServerConfig(
            access_log=access_log,
            keepalive_timeout=limits.seconds(keepalive_timeout, limits.KEEPALIVE_TIMEOUT),
            header_timeout=limits.seconds(header_timeout, limits.HEADER_TIMEOUT),
            body_timeout=limits.seconds(body_timeout, limits.BODY_TIMEOUT),
            min_body_rate=limits.byte_count(min_body_rate, limits.MIN_BODY_RATE, zero_allowed=True),
            body_rate_window=limits.seconds(body_rate_window, limits.BODY_RATE_WINDOW),
            max_body_buffer=max_body_buffer,
            max_header_bytes=max_header_bytes,
        )
        self._accept_error_interval = accept_error_interval
        self._bound: list[_Bound] = []

    @property
    def config(self) -> ServerConfig:
        """The limits every listener starts from (diagnostics and tests)."""
        return self._config

    @property
    def listeners(self) -> list[Listener]:
        return [bound.listener for bound in self._bound]

    def connections(self, listener: Listener) -> list[HttpProtocol]:
        """The open connections of a listener (diagnostics and tests)."""
        bound = next((b for b in self._bound if b.listener is listener), None)
        return list(bound.registry.connections) if bound else []

    async def add_listener(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "",
        max_body_size: int | None = None,
        error_body: ErrorBody | None = None,
    ) -> Listener:
        """Start answering on ``host:port`` (0 picks a free port); OSError names a busy address.

        ``max_body_size`` caps request bodies on this listener (413 past it; None: no cap).
        ``error_body`` shapes the errors the server writes itself (default: OCI's).
        """
        if max_body_size is not None and max_body_size < 0:
            raise ValueError(f"max_body_size must be at least 0, not {max_body_size}")
        config = dataclasses.replace(
            self._config,
            max_body_size=max_body_size,
            error_body=error_body or self._config.error_body,
        )
        loop = asyncio.get_running_loop()
        accept.install(loop, self._accept_error_interval)
        sock = _listening_socket(host, port)
        bound_port: int = sock.getsockname()[1]
        listener = Listener(
            name=name or f"{host}:{bound_port}", host=host, port=bound_port, app=app
        )
        registry = ConnectionRegistry()
        address = (host, bound_port)
        try:
            server = await loop.create_server(
                lambda: HttpProtocol(app, config, address, registry), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        self._bound.append(_Bound(listener, server, registry))
        return listener

    async def remove_listener(self, listener: Listener, grace: float = 5.0) -> None:
        """Stop accepting, close idle connections, give in-flight requests ``grace`` seconds."""
        bound = next((b for b in self._bound if b.listener is listener), None)
        if bound is None:
            raise ValueError(f"{listener.host}:{listener.port} is not a listener of this server")
        self._bound.remove(bound)
        bound.server.close()
        bound.registry.closed = True  # a connection accepted just now closes in connection_made
        connections = list(bound.registry.connections)
        for conn in connections:
            conn.shutdown()
        pending = [conn.finished for conn in connections if not conn.finished.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            if late:
                for conn in connections:
                    if not conn.finished.done():
                        conn.abort()
                await asyncio.wait(late, timeout=1.0)
        # Connections are all closed by now, so this returns at once on every Python version.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(bound.server.wait_closed(), timeout=1.0)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Remove every listener, concurrently, each with the same grace period."""
        listeners = self.listeners
        await asyncio.gather(*(self.remove_listener(listener, grace) for listener in listeners))


def _listening_socket(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock
