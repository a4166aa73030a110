"""The REST API's front door: what a web page in the user's browser must never get through.

The API listens on loopback, but a browser on the same machine reaches loopback too. Two
attacks use it: a page on another site POSTs a form or ``text/plain`` body to
``http://127.0.0.1:5080/api/...`` (cross-site request forgery: no CORS preflight is needed
for those content types), or a hostile name resolves to 127.0.0.1 so that the page's own
origin is the API (DNS rebinding). ``ApiGate`` refuses both before any route, and before
authentication, runs:

- the ``Host`` header must name this server: 127.0.0.1, localhost or [::1] with the API's
  port (bare only on port 80), or an entry of ``$AIRLOCK_ALLOWED_HOSTS``; else 421;
- POST, PUT and PATCH must say ``Content-Type: application/json``, bodiless ones too (a
  browser can send neither that type nor any other header without a preflight, and the
  preflight is refused); else 415;
- OPTIONS (a CORS preflight) is 405 and no response carries an ``Access-Control-*``
  header, so a browser never lets another origin read an answer or send JSON.

Errors have the API's shape, ``{"error": {"code", "message"}}``. Request bodies of writes
are read whole before the route runs (the listener caps them, ``AIRLOCK_API_MAX_BODY``): a
body the server cuts off for size or slowness then ends the request here, quietly, instead
of surfacing in a route as a disconnect.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope, Send

ALLOWED_HOSTS_ENV = "AIRLOCK_ALLOWED_HOSTS"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WRITES = frozenset({"POST", "PUT", "PATCH"})
_ALLOW = b"GET, HEAD, POST, PUT, PATCH, DELETE"
_CODES = {
    400: "BadRequest",
    408: "RequestTimeout",
    413: "PayloadTooLarge",
    431: "HeadersTooLarge",
}


def error_body(status: int, message: str) -> bytes:
    """The API's error shape for the errors the HTTP server writes itself (listener option)."""
    if status == 413:
        message += "; the server's limit is AIRLOCK_API_MAX_BODY"
    code = _CODES.get(status, "BadRequest")
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def parse_allowed_hosts(raw: str) -> list[tuple[str, int | None]]:
    """``host[:port]`` entries, comma-separated; ValueError names a malformed one."""
    entries: list[tuple[str, int | None]] = []
    for item in raw.split(","):
        entry = item.strip().lower()
        if not entry:
            continue
        if entry.startswith("["):
            host, bracket, rest = entry.partition("]")
            host += bracket
            port_text = rest[1:] if rest.startswith(":") else rest
            valid = bool(bracket) and (rest == "" or rest.startswith(":"))
        else:
            host, _, port_text = entry.partition(":")
            valid = ":" not in port_text
        port: int | None = None
        if port_text:
            valid = valid and port_text.isdigit() and 0 < int(port_text) < 65536
            port = int(port_text) if valid else None
        if not valid or not host or any(c in host for c in "/@ ?#"):
            raise ValueError(
                f"{ALLOWED_HOSTS_ENV}: {item.strip()!r} is not host or host:port "
                "(for example airlock.internal:5080, or [fd00::1]:5080)"
            )
        entries.append((host, port))
    return entries


class ApiGate:
    """ASGI middleware in front of the REST API (see the module docstring)."""

    def __init__(
        self, app: Starlette, *, allowed_hosts: Iterable[tuple[str, int | None]] | None = None
    ) -> None:
        self.app = app
        self._extra = list(
            parse_allowed_hosts(os.environ.get(ALLOWED_HOSTS_ENV, ""))
            if allowed_hosts is None
            else allowed_hosts
        )
        self._allowed: dict[int, frozenset[str]] = {}

    @property
    def routes(self) -> list[BaseRoute]:
        """The wrapped Starlette app's routes."""
        return self.app.routes

    def allowed_hosts(self, port: int) -> frozenset[str]:
        """The Host header values answered on ``port`` (lower case)."""
        allowed = self._allowed.get(port)
        if allowed is None:
            names = {f"{name}:{port}" for name in _LOOPBACK_NAMES}
            if port == 80:
                names.update(_LOOPBACK_NAMES)
            for host, extra_port in self._extra:
                if extra_port is None:
                    names.update((host, f"{host}:{port}"))
                else:
                    names.add(f"{host}:{extra_port}")
            allowed = self._allowed[port] = frozenset(names)
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, code, message, headers = refusal
            await _send_error(send, status, code, message, headers)
            return
        if scope["method"] in _WRITES:
            body = await _read_body(receive)
            if body is None:
                return  # the client left, or the server cut the body off and answered
            receive = _replay(body, receive)
        await self.app(scope, receive, _without_cors(send))

    def _refusal(self, scope: Scope) -> tuple[int, str, str, list[tuple[bytes, bytes]]] | None:
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        port = scope["server"][1] if scope.get("server") else 0
        if len(hosts) != 1:
            return (
                400,
                "InvalidHost",
                "the request must carry exactly one Host header naming this server, "
                f"such as 127.0.0.1:{port}",
                [],
            )
        host = hosts[0].decode("latin-1").strip().lower()
        if host not in self.allowed_hosts(port):
            return (
                421,
                "InvalidHost",
                f"this server does not answer for Host {host!r}: use 127.0.0.1:{port} or "
                f"localhost:{port}, or add the name to {ALLOWED_HOSTS_ENV} "
                "(comma-separated host[:port]) and restart the server",
                [],
            )
        method = scope["method"]
        if method == "OPTIONS":
            return (
                405,
                "MethodNotAllowed",
                "OPTIONS is not served: the API answers no cross-origin (CORS) requests",
                [(b"allow", _ALLOW)],
            )
        if method in _WRITES:
            types = [value for name, value in scope["headers"] if name == b"content-type"]
            media = types[0].decode("latin-1").partition(";")[0].strip().lower() if types else ""
            if len(types) != 1 or media != "application/json":
                shown = repr(media) if types else "none"
                return (
                    415,
                    "UnsupportedMediaType",
                    f"{method} requests must send Content-Type: application/json (got "
                    f"{shown}), also without a body; send the body as JSON",
                    [],
                )
        return None


async def _send_error(
    send: Send, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real one's events."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # blocks until the exchange ends: http.disconnect
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _without_cors(send: Send) -> Send:
    """Drop any Access-Control-* header a route might add: no origin but ours is trusted."""

    async def guarded(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            kept = [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-")]
            if len(kept) != len(headers):
                message = {**message, "headers": kept}
        await send(message)

    return guarded
