"""External registries for the import tests: the sources ``airlock acr import`` copies from.

Every server here binds to 127.0.0.1 on a free port, answers within bounded timeouts and is
stopped by ``stop()`` or by leaving its ``with`` block. Each has ``.host`` (``127.0.0.1:PORT``,
what ``--source`` and ``$AIRLOCK_IMPORT_ALLOWED_REGISTRIES`` take) and ``.url``.

* ``start_distribution_basic(root, user, password)``: Debian's ``docker-registry`` (CNCF
  Distribution 2.8) with htpasswd Basic auth, as a private registry with a pull secret.
* ``start_rate_limited_proxy(upstream_url, fail_first=N)``: answers the first N requests (or
  the first N matching a path pattern) with ``429 Too Many Requests`` the way Docker Hub does,
  then proxies everything to the upstream registry; ``.throttled`` counts the 429s served.
* ``start_hostile_registry()``: an anonymous registry whose one image has a layer whose bytes
  do not hash to the digest in the manifest (``mode="content"``), whose size is also wrong
  (``mode="size"``), or whose manifest fetched by digest is not the bytes of that digest
  (``mode="manifest"``; by tag it is served right, so this one matters for imports by
  digest, ``repo@sha256:...``).

The htpasswd file needs bcrypt hashes. ``bcrypt_hash`` gets one from the C library's
``crypt(3)`` (libxcrypt's ``libcrypt.so.1``, part of every Debian system) through ctypes,
so neither Python's deprecated ``crypt`` module nor an extra package is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from .servers import Distribution, distribution_binary, free_port, wait_http

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 16
SOCKET_TIMEOUT = 60.0  # no connection of these servers waits longer than this on a peer


# -- bcrypt through libcrypt -------------------------------------------------------------------


def _libcrypt() -> Any:
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lib


_CRYPT_LOCK = threading.Lock()  # crypt(3) returns a static buffer


def bcrypt_hash(password: str, cost: int = 5) -> str:
    """A ``$2b$`` bcrypt hash of ``password`` (cost 5: fast, it only guards a test server)."""
    lib = _libcrypt()
    with _CRYPT_LOCK:
        salt = lib.crypt_gensalt(b"$2b$", cost, os.urandom(16), 16)
        if not salt:
            raise RuntimeError("libcrypt cannot make a bcrypt salt")
        hashed = lib.crypt(password.encode(), salt)
    if not hashed or not hashed.startswith(b"$2b$"):
        raise RuntimeError("libcrypt gave no bcrypt hash")
    return str(hashed.decode())


def bcrypt_verify(password: str, hashed: str) -> bool:
    lib = _libcrypt()
    with _CRYPT_LOCK:
        again = lib.crypt(password.encode(), hashed.encode())
    return bool(again) and again.decode() == hashed


# -- Distribution with Basic auth --------------------------------------------------------------


BASIC_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
auth:
  htpasswd:
    realm: airlock-tests
    path: {htpasswd}
http:
  addr: 127.0.0.1:{port}
"""


@dataclass
class BasicAuthDistribution(Distribution):
    username: str = ""
    password: str = ""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def creds(self) -> str:
        """``user:password``, as skopeo's ``--src-creds``/``--dest-creds`` take it."""
        return f"{self.username}:{self.password}"

    def __enter__(self) -> BasicAuthDistribution:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_distribution_basic(root: Path, username: str, password: str) -> BasicAuthDistribution:
    """Debian's ``docker-registry`` on a free loopback port, Basic auth for one user."""
    binary = distribution_binary()
    if binary is None:
        raise RuntimeError("docker-registry is not installed; run scripts/bootstrap")
    if ":" in username:
        raise ValueError("a Basic auth user name cannot contain ':'")
    root.mkdir(parents=True, exist_ok=True)
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"{username}:{bcrypt_hash(password)}\n")
    port = free_port()
    config = root / "config.yml"
    config.write_text(BASIC_CONFIG.format(root=root / "data", htpasswd=htpasswd, port=port))
    log_path = root / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = BasicAuthDistribution(
        proc=proc, log_path=log_path, root=root, port=port, username=username, password=password
    )
    try:
        wait_http(f"{server.url}/v2/", proc=proc)
    except Exception:
        server.stop()
        raise RuntimeError(f"docker-registry did not start:\n{server.log()}") from None
    return server


# -- small threaded HTTP servers ---------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64
    owner: Any = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a refused import stops reading) is no error of the server.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the counters instead

    def send_body(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@dataclass
class _Running:
    """A ``_Server`` serving on a thread."""

    httpd: _Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        port: int = self.httpd.server_address[1]
        return port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def _serve(handler: type[_Handler], owner: object, name: str) -> _Running:
    httpd = _Server(("127.0.0.1", 0), handler)
    httpd.owner = owner
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
    )
    thread.start()
    return _Running(httpd, thread)


# -- the rate-limited proxy --------------------------------------------------------------------

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class _Served:
    """Address, stop and context-manager methods of a fixture served by ``_serve``."""

    _running: _Running | None

    @property
    def host(self) -> str:
        assert self._running is not None
        return self._running.host

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class RateLimitedProxy(_Served):
    upstream_url: str
    fail_first: int
    retry_after: str
    path_pattern: re.Pattern[str] | None
    throttled: int = 0  # 429s served so far
    proxied: int = 0  # requests passed to the upstream
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _running: _Running | None = field(default=None, repr=False)

    def should_throttle(self, path: str) -> bool:
        with self._lock:
            if self.path_pattern is not None and not self.path_pattern.search(path):
                return False
            if self.throttled < self.fail_first:
                self.throttled += 1
                return True
            return False

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))
            if status != 429:
                self.proxied += 1


TOO_MANY = json.dumps(
    {
        "errors": [
            {
                "code": "TOOMANYREQUESTS",
                "message": "You have reached your pull rate limit.",
                "detail": "test proxy: first requests are refused",
            }
        ]
    }
).encode()


class _ProxyHandler(_Handler):
    def _proxy(self) -> None:
        owner: RateLimitedProxy = self.server.owner
        head = self.command == "HEAD"
        if owner.should_throttle(self.path):
            self._drain_request_body()
            self.send_body(
                429,
                TOO_MANY,
                {
                    "Content-Type": "application/json",
                    "Retry-After": owner.retry_after,
                    "RateLimit-Limit": "100;w=60",
                    "RateLimit-Remaining": "0;w=60",
                    "Docker-Distribution-Api-Version": "registry/2.0",
                },
                head=head,
            )
            owner.record(self.command, self.path, 429)
            return
        upstream = urlsplit(owner.upstream_url)
        conn = http.client.HTTPConnection(
            upstream.hostname or "127.0.0.1", upstream.port or 80, timeout=SOCKET_TIMEOUT
        )
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", upstream.netloc)
            for name, value in self.headers.items():  # repeated headers (Accept) kept apart
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            length = self.headers.get("Content-Length")
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif length is not None:
                conn.putheader("Content-Length", length)
            conn.endheaders()
            if chunked:
                for piece in self._chunked_request_body():
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            elif length is not None:
                remaining = int(length)
                while remaining > 0:
                    piece = self.rfile.read(min(CHUNK, remaining))
                    if not piece:
                        raise ConnectionError("client closed during the request body")
                    conn.send(piece)
                    remaining -= len(piece)
            response = conn.getresponse()
            self._relay(response, owner, head)
            owner.record(self.command, self.path, response.status)
        finally:
            conn.close()

    def _drain_request_body(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            for _ in self._chunked_request_body():
                pass
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            piece = self.rfile.read(min(CHUNK, remaining))
            if not piece:
                break
            remaining -= len(piece)

    def _chunked_request_body(self) -> Iterator[bytes]:
        while True:
            size_line = self.rfile.readline(1024)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            remaining = size
            while remaining > 0:
                piece = self.rfile.read(min(CHUNK, remaining))
                if not piece:
                    raise ConnectionError("client closed during a chunk")
                remaining -= len(piece)
                yield piece
            self.rfile.readline(16)

    def _relay(
        self, response: http.client.HTTPResponse, owner: RateLimitedProxy, head: bool
    ) -> None:
        self.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            if name.lower() in HOP_BY_HOP:
                continue
            if name.lower() == "location" and value.startswith(owner.upstream_url.rstrip("/")):
                value = owner.url + value[len(owner.upstream_url.rstrip("/")) :]
            self.send_header(name, value)
        no_body = head or response.status in (204, 304) or 100 <= response.status < 200
        if length is not None:
            self.send_header("Content-Length", length)
        elif not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        while True:
            piece = response.read1(CHUNK) if length is None else response.read(CHUNK)
            if not piece:
                break
            if length is None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
        if length is None:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy  # noqa: N815


def start_rate_limited_proxy(
    upstream_url: str,
    fail_first: int = 1,
    retry_after: str = "1",
    path_pattern: str | None = None,
) -> RateLimitedProxy:
    """A proxy in front of ``upstream_url`` (``http://127.0.0.1:PORT``) that answers the first
    ``fail_first`` requests (only those whose path matches the regular expression
    ``path_pattern``, such as ``r"/manifests/"``, when given) with 429, ``Retry-After:
    retry_after``, ``RateLimit-Remaining: 0;w=60`` and a ``TOOMANYREQUESTS`` error body, and
    passes every other request on: method, path, query, headers and body, both bodies
    streamed, upstream ``Location`` headers rewritten to the proxy's address."""
    upstream = urlsplit(upstream_url)
    if upstream.scheme != "http" or upstream.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the upstream must be http on loopback, not {upstream_url}")
    proxy = RateLimitedProxy(
        upstream_url=upstream_url.rstrip("/"),
        fail_first=fail_first,
        retry_after=retry_after,
        path_pattern=re.compile(path_pattern) if path_pattern else None,
    )
    proxy._running = _serve(_ProxyHandler, proxy, "rate-limited-proxy")
    return proxy


# -- the hostile registry ----------------------------------------------------------------------

HostileMode = Literal["content", "size", "manifest"]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class HostileRegistry(_Served):
    """One image, ``repository:tag``, that a careful client must refuse.

    ``layer`` is what the manifest promises (``layer_digest``, ``len(layer)``); ``served`` is
    what ``GET /v2/<repository>/blobs/<layer_digest>`` returns instead.
    """

    mode: HostileMode
    repository: str
    tag: str
    config: bytes
    layer: bytes
    served: bytes
    manifest: bytes
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _running: _Running | None = field(default=None, repr=False)

    @property
    def manifest_digest(self) -> str:
        return _digest(self.manifest)

    @property
    def config_digest(self) -> str:
        return _digest(self.config)

    @property
    def layer_digest(self) -> str:
        return _digest(self.layer)

    @property
    def layer_size(self) -> int:
        return len(self.layer)

    @property
    def reference(self) -> str:
        """``127.0.0.1:PORT/repository:tag``"""
        return f"{self.host}/{self.repository}:{self.tag}"

    def blob_requests(self) -> int:
        with self._lock:
            return sum(1 for _, path, _ in self.requests if "/blobs/" in path)


class _HostileHandler(_Handler):
    API: ClassVar[dict[str, str]] = {"Docker-Distribution-Api-Version": "registry/2.0"}
    NOT_FOUND: ClassVar[bytes] = json.dumps(
        {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
    ).encode()

    def _answer(self) -> None:
        reg: HostileRegistry = self.server.owner
        head = self.command == "HEAD"
        path = self.path.split("?", 1)[0]
        status = self._route(reg, path, head)
        with reg._lock:
            reg.requests.append((self.command, self.path, status))

    def _route(self, reg: HostileRegistry, path: str, head: bool) -> int:
        if path in ("/v2", "/v2/"):
            self.send_body(200, b"{}", {**self.API, "Content-Type": "application/json"}, head)
            return 200
        prefix = f"/v2/{reg.repository}/"
        if path.startswith(prefix + "manifests/"):
            ref = path[len(prefix + "manifests/") :]
            if ref in (reg.tag, reg.manifest_digest):
                body = reg.manifest
                if reg.mode == "manifest" and ref == reg.manifest_digest:
                    body = reg.manifest.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
                headers = {
                    **self.API,
                    "Content-Type": MEDIA_MANIFEST,
                    "Docker-Content-Digest": reg.manifest_digest,
                }
                self.send_body(200, body, headers, head)
                return 200
        elif path.startswith(prefix + "blobs/"):
            ref = path[len(prefix + "blobs/") :]
            blobs = {reg.config_digest: reg.config, reg.layer_digest: reg.served}
            if ref in blobs:
                headers = {
                    **self.API,
                    "Content-Type": "application/octet-stream",
                    "Docker-Content-Digest": ref,
                }
                self.send_body(200, blobs[ref], headers, head)
                return 200
            self.send_body(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', self.API, head)
            return 404
        elif self.command not in ("GET", "HEAD"):
            self.send_body(405, b'{"errors":[{"code":"UNSUPPORTED"}]}', self.API)
            return 405
        self.send_body(404, self.NOT_FOUND, {**self.API, "Content-Type": "application/json"}, head)
        return 404

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815


def start_hostile_registry(
    mode: HostileMode = "content",
    repository: str = "hostile/app",
    tag: str = "latest",
    layer_size: int = 4096,
) -> HostileRegistry:
    """An anonymous registry serving ``repository:tag``: a valid OCI manifest (by tag and by
    its digest, ``Docker-Content-Digest`` correct) with one config and one layer of digest D
    and size S. Its blob endpoint for D answers ``mode="content"``: S other bytes;
    ``mode="size"``: S + 17 other bytes; ``mode="manifest"``: the true layer, but the
    manifest fetched by digest is a re-spaced copy, not the bytes of that digest. The
    config blob is always served correctly."""
    seed = hashlib.sha256(f"{mode}:{repository}:{tag}".encode()).digest()
    layer = (seed * (layer_size // len(seed) + 1))[:layer_size]
    if mode == "content":
        served = bytes(b ^ 0x5A for b in layer)
    elif mode == "size":
        served = bytes(b ^ 0x5A for b in layer) + b"17 bytes too many"
    elif mode == "manifest":
        served = layer
    else:
        raise ValueError(f"unknown mode {mode!r}")
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": _digest(layer), "size": len(layer)}],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    registry = HostileRegistry(
        mode=mode,
        repository=repository,
        tag=tag,
        config=config,
        layer=layer,
        served=served,
        manifest=manifest,
    )
    registry._running = _serve(_HostileHandler, registry, "hostile-registry")
    return registry


# -- context managers --------------------------------------------------------------------------


@contextmanager
def running_distribution_basic(
    root: Path, username: str, password: str
) -> Iterator[BasicAuthDistribution]:
    server = start_distribution_basic(root, username, password)
    try:
        yield server
    finally:
        server.stop()


__all__ = [
    "BasicAuthDistribution",
    "HostileRegistry",
    "RateLimitedProxy",
    "bcrypt_hash",
    "bcrypt_verify",
    "start_distribution_basic",
    "start_hostile_registry",
    "start_rate_limited_proxy",
]
