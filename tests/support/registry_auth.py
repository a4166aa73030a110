"""The Docker registry token flow as an ``httpx.Auth``, for tests and benchmarks.

Plug it into a client talking to an Airlock registry::

    user, password = airlock.admin_credentials("myregistry")
    client = httpx.Client(base_url=url, auth=RegistryTokenAuth(user, password))

A request goes out with the token last used for the same repository and kind of access
(pull, push, delete); on a 401 ``Bearer`` challenge the flow asks the challenge's realm for a
token for the challenge's scope (Basic credentials, or none for anonymous pull), then retries
once. The token request is yielded from the flow, so this works with ``httpx.Client`` and
``httpx.AsyncClient``. A retried request must have a replayable body (bytes, not a stream):
before a streamed upload, or to mount a blob from another repository (which needs ``pull`` on
the source, a scope no challenge names), get the token first with ``prefetch``. Only token
responses are read by the flow; other responses stay streamed (``client.stream``).

One instance may serve several clients (threads too): they then share its tokens.
"""

from __future__ import annotations

import base64
import re
import weakref
from collections.abc import AsyncGenerator, Generator, Sequence

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


_ACTIONS = {"pull": "pull", "push": "pull,push", "delete": "delete"}


class RegistryTokenAuth(httpx.Auth):
    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.tokens: dict[str, str] = {}  # scope -> token
        self._scopes: dict[tuple[str, str], str] = {}  # (kind, repository) -> scope
        self._token_requests: weakref.WeakSet[httpx.Request] = weakref.WeakSet()
        self.token_requests = 0

    def prefetch(
        self, base_url: str, repository: str, kind: str = "push", also: Sequence[str] = ()
    ) -> str:
        """Get a token now for the ``kind`` requests (pull, push, delete) on ``repository``,
        with the extra scopes ``also`` (``repository:<source>:pull`` to mount from
        ``<source>``); later such requests carry it from the start. Returns the token."""
        probe = httpx.get(base_url.rstrip("/") + "/v2/", timeout=30)
        challenge = parse_challenge(probe.headers.get("www-authenticate", ""))
        if probe.status_code != 401 or challenge is None or "realm" not in challenge:
            raise RuntimeError(f"{base_url}/v2/ gave no Bearer challenge ({probe.status_code})")
        scopes = [f"repository:{repository}:{_ACTIONS[kind]}", *also]
        request = self._token_request({**challenge, "scope": " ".join(scopes)})
        with httpx.Client(timeout=30) as client:
            answer = client.send(request)
        if answer.status_code != 200:
            raise RuntimeError(f"token request refused: {answer.status_code} {answer.text}")
        self.token_requests += 1
        token = str(answer.json()["token"])
        key = " ".join(scopes)
        self.tokens[key] = token
        self._scopes[(kind, repository)] = key
        return token

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.request in self._token_requests:
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                break

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.request in self._token_requests:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                break

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
        request = httpx.Request("GET", challenge["realm"], params=params, headers=headers)
        self._token_requests.add(request)
        return request
