"""An in-memory OCI registry as an ``httpx.MockTransport`` handler, for client unit tests.

It plays the parts of a registry that the client's tests need: anonymous access, a Basic
challenge, or Bearer tokens from a token endpoint (per-scope tokens, anonymous tokens when
``anonymous_tokens``), manifests, blobs, uploads (monolithic, chunked, mount) and paginated
tags. Every request is logged in ``requests`` so tests can assert on what went over the wire.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx

REGISTRY = "registry.test"
REALM = "https://auth.test/token"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def oci_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"errors": [{"code": code, "message": message}]}
    return httpx.Response(status, json=body, headers=headers or {})


@dataclass
class FakeRegistry:
    mode: str = "anonymous"  # anonymous | basic | bearer
    users: dict[str, str] = field(default_factory=lambda: {"alice": "s3cret-pw"})
    anonymous_tokens: bool = True
    expires_in: int | None = 300
    token_key: str = "token"  # or "access_token", as Docker Hub's newer answers
    denied: set[str] = field(default_factory=set)  # repositories that answer 403
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    tags_page: int = 2
    requests: list[httpx.Request] = field(default_factory=list)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # token -> scopes
    uploads: dict[str, bytearray] = field(default_factory=dict)
    hooks: list[Callable[[httpx.Request], httpx.Response | None]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    # -- helpers for tests ----------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add_manifest(
        self, repository: str, tag: str, raw: bytes, media_type: str = MANIFEST
    ) -> str:
        digest = sha256(raw)
        self.manifests[(repository, tag)] = (raw, media_type)
        self.manifests[(repository, digest)] = (raw, media_type)
        return digest

    def add_blob(self, repository: str, data: bytes) -> str:
        digest = sha256(data)
        self.blobs[(repository, digest)] = data
        return digest

    def sent(self, method: str | None = None, path_part: str = "") -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and path_part in r.url.path
        ]

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "auth.test"]

    # -- the registry ---------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        # A snapshot: the client's auth flow sets headers on the same object and sends it again.
        self.requests.append(
            httpx.Request(request.method, request.url, headers=request.headers.copy())
        )
        for hook in self.hooks:
            answer = hook(request)
            if answer is not None:
                return answer
        if request.url.host == "auth.test":
            return self._token(request)
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        return self._route(request)

    def _scope(self, request: httpx.Request) -> str | None:
        parts = request.url.path.split("/")
        if len(parts) < 4:
            return None
        repository = "/".join(parts[2:-2]) if parts[-2] in ("manifests", "blobs") else None
        if "/tags/list" in request.url.path:
            repository = request.url.path[len("/v2/") : -len("/tags/list")]
        if "/blobs/uploads" in request.url.path:
            repository = request.url.path[len("/v2/") :].split("/blobs/uploads")[0]
        if repository is None:
            return None
        action = "pull" if request.method in ("GET", "HEAD") else "push"
        return f"repository:{repository}:{action}"

    def _check_auth(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("authorization", "")
        if self.mode == "anonymous":
            return None
        if self.mode == "basic":
            if header in {basic(u, p) for u, p in self.users.items()}:
                return None
            return oci_error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                {"WWW-Authenticate": f'Basic realm="{REGISTRY}"'},
            )
        scope = self._scope(request)
        token = header.removeprefix("Bearer ")
        granted = self.tokens.get(token) if header.startswith("Bearer ") else None
        if granted is not None and (scope is None or self._covers(granted, scope)):
            return None
        challenge = f'Bearer realm="{REALM}",service="{REGISTRY}"'
        if scope:
            wanted = scope.replace(":push", ":pull,push")
            challenge += f',scope="{wanted}"'
        return oci_error(
            401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}
        )

    @staticmethod
    def _covers(granted: set[str], scope: str) -> bool:
        name, _, action = scope.rpartition(":")
        for entry in granted:
            g_name, _, g_actions = entry.rpartition(":")
            if g_name == name and action in g_actions.split(","):
                return True
        return False

    def _may_read(self, request: httpx.Request, repository: str) -> bool:
        """A mount needs ``pull`` on the source, in the token (as Airlock and Distribution)."""
        if self.mode != "bearer":
            return True
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return self._covers(self.tokens.get(token, set()), f"repository:{repository}:pull")

    def _token(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization")
        if header is None and not self.anonymous_tokens:
            return oci_error(401, "UNAUTHORIZED", "anonymous tokens are off")
        if header is not None and header not in {basic(u, p) for u, p in self.users.items()}:
            return oci_error(401, "UNAUTHORIZED", "invalid username or password")
        token = f"tok-{next(self._ids)}"
        self.tokens[token] = set(request.url.params.get_list("scope"))
        body: dict[str, object] = {self.token_key: token}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return httpx.Response(200, json=body)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/":
            return httpx.Response(200, json={})
        scope = self._scope(request) or ""
        repository = scope.split(":")[1] if scope else ""
        if repository in self.denied:
            return oci_error(403, "DENIED", f"no access to {repository}")
        if "/tags/list" in path:
            return self._tags(request, repository)
        if "/blobs/uploads" in path:
            return self._upload(request, repository)
        kind, _, reference = path.rpartition("/")
        if kind.endswith("/manifests"):
            return self._manifest(request, repository, reference)
        if kind.endswith("/blobs"):
            data = self.blobs.get((repository, reference))
            if data is None:
                return oci_error(404, "BLOB_UNKNOWN", "blob unknown")
            headers = {"Content-Length": str(len(data)), "Docker-Content-Digest": reference}
            return httpx.Response(
                200, headers=headers, content=b"" if request.method == "HEAD" else data
            )
        return oci_error(404, "NAME_UNKNOWN", "unknown")

    def _manifest(self, request: httpx.Request, repository: str, reference: str) -> httpx.Response:
        if request.method == "PUT":
            raw = request.read()
            digest = self.add_manifest(repository, reference, raw, request.headers["content-type"])
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        found = self.manifests.get((repository, reference))
        if found is None:
            return oci_error(404, "MANIFEST_UNKNOWN", f"manifest {reference} unknown")
        raw, media_type = found
        headers = {
            "Content-Type": media_type,
            "Docker-Content-Digest": sha256(raw),
            "Content-Length": str(len(raw)),
        }
        return httpx.Response(
            200, headers=headers, content=b"" if request.method == "HEAD" else raw
        )

    def _tags(self, request: httpx.Request, repository: str) -> httpx.Response:
        tags = sorted(
            {tag for repo, tag in self.manifests if repo == repository and ":" not in tag}
        )
        last = request.url.params.get("last")
        if last:
            tags = [t for t in tags if t > last]
        page, rest = tags[: self.tags_page], tags[self.tags_page :]
        headers = {}
        if rest:
            headers["Link"] = (
                f'</v2/{repository}/tags/list?n={self.tags_page}&last={page[-1]}>; rel="next"'
            )
        return httpx.Response(200, json={"name": repository, "tags": page}, headers=headers)

    def _upload(self, request: httpx.Request, repository: str) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        if request.method == "POST":
            if "mount" in query:
                digest, source = query["mount"][0], query.get("from", [""])[0]
                if (source, digest) in self.blobs and self._may_read(request, source):
                    self.blobs[(repository, digest)] = self.blobs[(source, digest)]
                    return httpx.Response(
                        201, headers={"Location": f"/v2/{repository}/blobs/{digest}"}
                    )
            upload = f"u{next(self._ids)}"
            self.uploads[upload] = bytearray()
            return httpx.Response(
                202, headers={"Location": f"/v2/{repository}/blobs/uploads/{upload}"}
            )
        upload = request.url.path.rsplit("/", 1)[1]
        if upload not in self.uploads:
            return oci_error(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
        if request.method == "DELETE":
            del self.uploads[upload]
            return httpx.Response(204)
        self.uploads[upload] += request.read()
        if request.method == "PATCH":
            return httpx.Response(
                202, headers={"Location": f"/v2/{repository}/blobs/uploads/{upload}"}
            )
        data = bytes(self.uploads.pop(upload))
        digest = query["digest"][0]
        if sha256(data) != digest:
            return oci_error(400, "DIGEST_INVALID", "digest did not match content")
        self.blobs[(repository, digest)] = data
        return httpx.Response(201, headers={"Location": f"/v2/{repository}/blobs/{digest}"})
