"""The token endpoint, served at ``/oauth2/token`` on each registry's own listener (as ACR).

- ``GET ?service=<login server>&scope=...`` with ``Authorization: Basic`` (or none, for
  anonymous pull when the registry allows it); ``offline_token=true`` adds a refresh token.
- ``POST`` form (OAuth2): ``grant_type=password`` (``username``, ``password``) or
  ``grant_type=refresh_token`` (``refresh_token``), with ``service`` and ``scope``;
  ``access_type=offline`` adds a refresh token.

Answer: ``{"token", "access_token", "expires_in", "issued_at"}`` (``refresh_token`` when
asked). Refused credentials are 401 with an OCI error body that quotes neither the username
nor the password (people type one into the other); malformed requests are 400. Sign-ins go
through the service's throttle, keyed by the client's address and the username: repeated
failures slow the next attempts down, then get 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from airlock.auth.access import Realm
from airlock.auth.issuer import REFRESH_USERNAME, AuthenticationError, Identity, TokenService
from airlock.auth.scopes import ScopeError, parse_scopes
from airlock.auth.throttle import ThrottledError

log = logging.getLogger("airlock.auth")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_FORM_BYTES = 64 * 1024
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class _RefusedError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        oauth_error: str,
        message: str,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.oauth_error = oauth_error
        self.message = message
        self.retry_after = retry_after


def _throttled(exc: ThrottledError) -> _RefusedError:
    return _RefusedError(
        429, "TOOMANYREQUESTS", "slow_down", exc.message, max(1, math.ceil(exc.retry_after))
    )


class TokenEndpoint:
    def __init__(self, service: TokenService) -> None:
        self.service = service

    def app(self, realm: Realm) -> AsgiApp:
        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            await self.serve(realm, scope, receive, send)

        return serve

    async def serve(self, realm: Realm, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if _header(scope, b"origin") is not None:
                # Registry clients send no Origin; browsers do on every cross-site POST. A web
                # page's form must not count sign-in failures against 127.0.0.1 (which every
                # local client shares) and so lock everyone out.
                raise _RefusedError(
                    403,
                    "DENIED",
                    "access_denied",
                    "the token endpoint does not serve web pages (the request has an Origin)",
                )
            body = await self._answer(realm, scope, receive)
        except _RefusedError as exc:
            # 429s are not logged one by one: the throttle logs once when it starts refusing.
            if exc.status != 429:
                log.warning("token request on %s refused: %s", realm.registry_name, exc.message)
            error = {
                "errors": [{"code": exc.code, "message": exc.message}],
                "error": exc.oauth_error,
                "error_description": exc.message,
            }
            headers = dict(_NO_STORE)
            if exc.status == 401:
                headers["www-authenticate"] = f'Basic realm="{realm.login_server}"'
            if exc.retry_after is not None:
                headers["retry-after"] = str(exc.retry_after)
            await _respond(send, exc.status, error, headers)
            return
        await _respond(send, 200, body, _NO_STORE)

    async def _answer(self, realm: Realm, scope: Scope, receive: Receive) -> dict[str, Any]:
        method = scope["method"]
        query = _parse(scope.get("query_string", b""))
        source = _source(scope)
        if method == "GET":
            identity = await self._basic(realm, scope, source)
            params = query
            offline = _first(query, "offline_token") == "true"
        elif method == "POST":
            params = {**query, **_parse(await _read_form(receive))}
            identity = await self._grant(realm, params, source)
            offline = _first(params, "access_type") == "offline"
        else:
            raise _RefusedError(405, "UNSUPPORTED", "invalid_request", "use GET or POST")
        service = _first(params, "service")
        if service is not None and service != realm.login_server:
            raise _RefusedError(
                400,
                "UNSUPPORTED",
                "invalid_request",
                f"unknown service {service[:80]!r}; this endpoint serves {realm.login_server}",
            )
        try:
            requested = parse_scopes(params.get("scope", []))
        except ScopeError as exc:
            raise _RefusedError(400, "UNSUPPORTED", "invalid_scope", str(exc)) from None
        issued = self.service.issue(realm, identity, requested)
        body: dict[str, Any] = {
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "issued_at": datetime.fromtimestamp(issued.issued_at, UTC).isoformat(),
        }
        if offline and identity.subject != "anonymous":
            body["refresh_token"] = self.service.issue_refresh(realm, identity).token
        return body

    async def _basic(self, realm: Realm, scope: Scope, source: str) -> Identity:
        header = _header(scope, b"authorization")
        try:
            if header is None:
                return self.service.anonymous(realm)
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                raise _RefusedError(
                    401, "UNAUTHORIZED", "invalid_client", "use Basic credentials here"
                )
            username, password = _decode_basic(value.strip())
            return await self.service.sign_in(realm, username, password, source)
        except AuthenticationError as exc:
            raise _RefusedError(401, "UNAUTHORIZED", "invalid_grant", str(exc)) from None
        except ThrottledError as exc:
            raise _throttled(exc) from None

    async def _grant(self, realm: Realm, params: dict[str, list[str]], source: str) -> Identity:
        grant_type = _first(params, "grant_type")
        try:
            if grant_type == "password":
                username = _first(params, "username")
                password = _first(params, "password")
                if not username or password is None:
                    raise _RefusedError(
                        400,
                        "UNSUPPORTED",
                        "invalid_request",
                        "grant_type=password needs username and password",
                    )
                return await self.service.sign_in(realm, username, password, source)
            if grant_type == "refresh_token":
                refresh = _first(params, "refresh_token")
                if not refresh:
                    raise _RefusedError(
                        400,
                        "UNSUPPORTED",
                        "invalid_request",
                        "grant_type=refresh_token needs refresh_token",
                    )
                return await self.service.sign_in(realm, REFRESH_USERNAME, refresh, source)
        except AuthenticationError as exc:
            raise _RefusedError(401, "UNAUTHORIZED", "invalid_grant", str(exc)) from None
        except ThrottledError as exc:
            raise _throttled(exc) from None
        raise _RefusedError(
            400,
            "UNSUPPORTED",
            "unsupported_grant_type",
            f"unsupported grant_type {str(grant_type)[:40]!r}; use password or refresh_token",
        )


def _source(scope: Scope) -> str:
    """The client's address, which the sign-in throttle counts failures by."""
    client = scope.get("client")
    if isinstance(client, (list, tuple)) and client:
        return str(client[0])
    return "unknown"


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _RefusedError(
            401, "UNAUTHORIZED", "invalid_client", "malformed Basic credentials"
        ) from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise _RefusedError(401, "UNAUTHORIZED", "invalid_client", "malformed Basic credentials")
    return username, password


async def _read_form(receive: Receive) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _RefusedError(400, "UNSUPPORTED", "invalid_request", "client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise _RefusedError(
                400, "UNSUPPORTED", "invalid_request", f"form larger than {MAX_FORM_BYTES} bytes"
            )
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _parse(raw: bytes) -> dict[str, list[str]]:
    try:
        return parse_qs(raw.decode(), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise _RefusedError(
            400, "UNSUPPORTED", "invalid_request", "malformed or oversized parameters"
        ) from None


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _respond(send: Send, status: int, doc: Any, headers: dict[str, str]) -> None:
    body = json.dumps(doc, separators=(",", ":")).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw.extend((k.encode(), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
