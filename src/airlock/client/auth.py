"""Registry authentication as one ``httpx.Auth`` flow: anonymous, Basic, and Bearer tokens.

A request first goes out with what is known: the cached token for its scope, Basic
credentials if the registry asked for Basic before, or nothing. On a 401 the flow reads the
challenge: ``Basic`` -> send the credentials; ``Bearer realm=,service=,scope=`` -> ask the
realm for a token (GET with Basic credentials when there are some, anonymous otherwise, as
Docker Hub allows) for the challenge's scope plus the request's own, cache it per scope until
it expires, and send the request once more. A 401 with a cached token (revoked, expired
early) refreshes it the same way.

Scopes come from the request: ``repository:<repo>:pull`` for reads, ``pull,push`` for
writes, ``delete`` for deletes, and ``repository:<from>:pull`` as well for a mount. Once a
registry has sent a Bearer challenge, a request whose scope has no token fetches one before
it goes out: a mount needs the source's ``pull``, which no challenge asks for (the registry
just opens an upload instead), and a streamed upload cannot be sent twice.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from urllib.parse import parse_qs

import httpx

from airlock.client.credentials import Credentials
from airlock.client.errors import ProtocolError, error_from_response

DEFAULT_EXPIRES_IN = 60  # the token spec's default when the answer has no expires_in
_EARLY = 5.0  # renew this many seconds before expiry, so a token does not die in flight
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_REPO_PATH = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags|referrers)/")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})

Flow = Generator[httpx.Request, httpx.Response, None]


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] or not m[3] else m[3] for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def request_scopes(request: httpx.Request) -> tuple[str, ...]:
    """The token scopes a registry request needs, sorted."""
    path = request.url.path
    if path.rstrip("/") == "/v2":
        return ()
    if path.startswith("/v2/_catalog"):
        return ("registry:catalog:*",)
    match = _REPO_PATH.match(path)
    if match is None:
        return ()
    repository = match[1]
    if request.method in _WRITE_METHODS:
        action = "pull,push"
    elif request.method == "DELETE":
        action = "delete"
    else:
        action = "pull"
    scopes = {f"repository:{repository}:{action}"}
    source = parse_qs(request.url.query.decode()).get("from")
    if source and "mount" in request.url.params:
        scopes.add(f"repository:{source[0]}:pull")
    return tuple(sorted(scopes))


class RegistryAuth(httpx.Auth):
    """Thread-safe: the parallel copies of one client share its tokens."""

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}  # scopes -> token, expiry
        self._bearer: dict[str, str] | None = None  # realm and service of the last challenge
        self._basic = False  # the registry asked for Basic: send it from the start
        self.token_requests = 0

    def sync_auth_flow(self, request: httpx.Request) -> Flow:
        scopes = request_scopes(request)
        sent_auth = self._authorize(request, scopes)
        if not sent_auth and self._bearer is not None:
            token = yield from self._fetch_token(request, self._bearer, scopes)
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self.credentials is None or request.headers.get("authorization", "").startswith(
                "Basic "
            ):
                return
            self._basic = True
            request.headers["Authorization"] = self._basic_header()
        elif scheme == "bearer" and params.get("realm"):
            self._bearer = {"realm": params["realm"], "service": params.get("service", "")}
            wanted = tuple(sorted({*scopes, *params.get("scope", "").split()}))
            token = yield from self._fetch_token(request, self._bearer, wanted, also=scopes)
            request.headers["Authorization"] = f"Bearer {token}"
        else:
            return
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Token fetches block (they run in the caller's thread, like every client call):
        # an event loop must call the client from a worker thread instead.
        raise TypeError(
            "RegistryAuth is for httpx.Client; from async code run the client in a thread "
            "(asyncio.to_thread), as the importer does"
        )
        yield request  # pragma: no cover - makes this an async generator

    def _authorize(self, request: httpx.Request, scopes: tuple[str, ...]) -> bool:
        if self._basic and self.credentials is not None:
            request.headers["Authorization"] = self._basic_header()
            return True
        token = self._cached(scopes)
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
            return True
        return False

    def _cached(self, scopes: tuple[str, ...]) -> str | None:
        now = self.clock()
        candidates = [scopes]
        # A push token also pulls: reuse it rather than asking for a narrower one.
        if len(scopes) == 1 and scopes[0].endswith(":pull"):
            candidates.append((scopes[0] + ",push",))
        with self._lock:
            for key in candidates:
                found = self._tokens.get(key)
                if found is not None and found[1] > now:
                    return found[0]
        return None

    def _fetch_token(
        self,
        request: httpx.Request,
        challenge: dict[str, str],
        scopes: tuple[str, ...],
        also: tuple[str, ...] = (),
    ) -> Generator[httpx.Request, httpx.Response, str]:
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.get("service"):
            params.append(("service", challenge["service"]))
        params += [("scope", scope) for scope in scopes]
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = self._basic_header()
        token_request = httpx.Request(
            "GET",
            challenge["realm"],
            params=params,
            headers=headers,
            # The client's timeouts: a request built here would otherwise have none.
            extensions={"timeout": request.extensions.get("timeout", {})},
        )
        response = yield token_request
        response.read()
        user = self.credentials.username if self.credentials else None
        if response.status_code != 200:
            raise error_from_response(
                response, registry=self.registry, action="token request", user=user
            )
        try:
            doc = response.json()
            token = doc.get("token") or doc.get("access_token")
            expires_in = float(doc.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (ValueError, AttributeError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                f"{self.registry}: the token endpoint answered without a token",
                registry=self.registry,
            )
        expiry = self.clock() + max(1.0, expires_in - _EARLY)
        with self._lock:
            self.token_requests += 1
            self._tokens[scopes] = (token, expiry)
            if also:
                self._tokens[also] = (token, expiry)
        return token

    def _basic_header(self) -> str:
        assert self.credentials is not None
        pair = f"{self.credentials.username}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()
