"""Value types shared by the HTTP server modules: ASGI aliases, limits, listeners, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ClientDisconnectedError(OSError):
    """``send()`` on a connection the client has closed (ASGI 2.4 asks for an OSError)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits every connection of one :class:`HttpServer` obeys."""

    access_log: bool = True
    keepalive_timeout: float = 60.0
    max_body_buffer: int = 8 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    # Requests parsed ahead of the one being answered before reading pauses: bounds the memory
    # a pipelining client can make us hold without costing an epoll change per request.
    max_pipeline: int = 16


@dataclass(eq=False)
class Listener:
    """One listening socket and the app that answers on it (``port`` is the bound port)."""

    name: str
    host: str
    port: int
    app: ASGIApp
