"""The Docker registry token flow as an ``httpx.Auth``, for tests and benchmarks.

Plug it into a client talking to an Airlock registry::

    user, password = airlock.admin_credentials("myregistry")
    client = httpx.Client(base_url=url, auth=RegistryTokenAuth(user, password))

A request goes out with the token last used for the same repository and kind of access
(pull, push, delete); on a 401 ``Bearer`` challenge the flow asks the challenge's realm for a
token for the challenge's scope (Basic credentials, or none for anonymous pull), then retries
once. The token request is yielded from the flow, so this works with ``httpx.Client`` and
``httpx.AsyncClient``. A retried request must have a replayable body (bytes, not a stream).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Generator

import httpx

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPO_PATH = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags|referrers)/")


def parse_challenge(header: str) -> dict[str, str] | None:
    """``Bearer realm="...",service="...",scope="..."`` as a dict; None if not Bearer."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return dict(_PARAM.findall(rest))


def _key(request: httpx.Request) -> tuple[str, str]:
    path = request.url.path
    match = _REPO_PATH.match(path)
    repository = match[1] if match else path
    if request.method in ("POST", "PUT", "PATCH") or "/blobs/uploads/" in path:
        kind = "push"
    elif request.method == "DELETE":
        kind = "delete"
    else:
        kind = "pull"
    return kind, repository


class RegistryTokenAuth(httpx.Auth):
    requires_response_body = True

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.tokens: dict[str, str] = {}  # scope -> token
        self._scopes: dict[tuple[str, str], str] = {}  # (kind, repository) -> scope
        self.token_requests = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key = _key(request)
        known = self._scopes.get(key)
        if known is not None and known in self.tokens:
            request.headers["Authorization"] = f"Bearer {self.tokens[known]}"
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge is None or "realm" not in challenge:
            return
        scope = challenge.get("scope", "")
        token_response = yield self._token_request(challenge)
        if token_response.status_code != 200:
            return  # the caller sees the registry's 401
        self.token_requests += 1
        token = str(token_response.json()["token"])
        self.tokens[scope] = token
        self._scopes[key] = scope
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _token_request(self, challenge: dict[str, str]) -> httpx.Request:
        params = {"service": challenge.get("service", "")}
        if challenge.get("scope"):
            params["scope"] = challenge["scope"]
        headers = {}
        if self.username is not None:
            basic = f"{self.username}:{self.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
        return httpx.Request("GET", challenge["realm"], params=params, headers=headers)
