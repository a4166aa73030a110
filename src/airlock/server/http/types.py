"""Value types shared by the HTTP server modules: ASGI aliases, limits, listeners, errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The body of a response the server writes itself (a protocol error, a limit): status, message.
ErrorBody = Callable[[int, str], bytes]


def oci_error_body(status: int, message: str) -> bytes:
    """The OCI Distribution error shape, which registry clients know how to show."""
    return json.dumps({"errors": [{"code": "UNKNOWN", "message": message}]}).encode()


class ClientDisconnectedError(OSError):
    """``send()`` on a connection the client has closed (ASGI 2.4 asks for an OSError)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits every connection of one :class:`HttpServer` obeys."""

    access_log: bool = True
    keepalive_timeout: float = 60.0
    # A request head (request line and headers) must be complete this long after its first
    # byte, or after the connection was accepted for the first request.
    header_timeout: float = 30.0
    # While the client is expected to send a request body: the longest wait for its next
    # byte, and the average rate each window of that many seconds must reach (0: no floor).
    body_timeout: float = 30.0
    min_body_rate: int = 1024
    body_rate_window: float = 10.0
    max_body_buffer: int = 8 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    # Requests parsed ahead of the one being answered before reading pauses: bounds the memory
    # a pipelining client can make us hold without costing an epoll change per request.
    max_pipeline: int = 16
    # Per listener: the largest request body (None: no limit; registries take GB blobs) and
    # the shape of the errors the server writes itself.
    max_body_size: int | None = None
    error_body: ErrorBody = oci_error_body


@dataclass(eq=False)
class Listener:
    """One listening socket and the app that answers on it (``port`` is the bound port)."""

    name: str
    host: str
    port: int
    app: ASGIApp
