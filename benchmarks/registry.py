"""Airlock's registry against CNCF Distribution, side by side on loopback.

    .venv/bin/python benchmarks/registry.py [--quick] [--only NAME ...] [--json out.json]

Starts ``airlock server`` (one registry) and Debian's ``docker-registry`` (CNCF Distribution
2.8) from ``tests/support/servers.py`` with their state in a temporary folder under /tmp, and
measures, for both servers with the same clients:

* ``push``: blob push of one 1 GiB blob, monolithic (POST, then one PUT with the body and the
  digest), curl ``-T``;
* ``chunked``: the same blob in 64 MiB chunks (POST, one PATCH per chunk with Content-Range,
  final PUT with the digest), curl ``-T`` per chunk file;
* ``pull``: blob GET of that blob to curl (``%{speed_download}``);
* ``put``: manifest PUT by tag, distinct manifests, with 1, 8 and 32 keep-alive clients;
* ``get``: manifest GET by tag with 1, 8 and 32 keep-alive clients;
* ``tags``: GET /v2/<name>/tags/list on a repository with 1,000 tags (median and p95);
* ``cli``: ``airlock acr list -o json`` start-up against the running server (Airlock only).

Every request to Airlock carries ``Authorization: Bearer <token>``: a token of the registry's
admin user for ``repository:<repo>:pull,push``, fetched from the registry's token endpoint
before the timed part and renewed when a minute old (tokens live 300 s). Distribution runs
without authentication.

While the 1 GiB transfers run, the servers' resident memory is sampled every 50 ms. --quick
uses a 64 MiB blob in 16 MiB chunks and fewer requests, as a smoke run. Everything is bounded:
each step has a timeout and the whole run is stopped by SIGALRM after --timeout seconds.
Temporary files (the source blob, its chunk files and both servers' state) are deleted at
the end. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import Request, urlopen

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from report import (  # noqa: E402 - next to this script
    benchmark_arguments,
    clear_deadline,
    render_table,
    server_log_summary,
    set_deadline,
    verdict,
)
from support.servers import (  # noqa: E402 - the helpers live with the tests
    Airlock,
    Distribution,
    ServerProcess,
    airlock_executable,
    start_airlock,
    start_distribution,
)

MiB = 2**20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
TOKEN_RENEW_SECONDS = 60.0  # tokens live 300 s; a step never uses one older than this + 240 s
CONCURRENCY = (1, 8, 32)
STEPS = ("push", "chunked", "pull", "put", "get", "tags", "cli")


class BenchError(RuntimeError):
    """A server answered something unexpected; the message says what."""


# -- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    blob_mib: int
    chunk_mib: int
    push_runs: int
    pull_runs: int
    put_requests: int
    get_requests: int
    tag_count: int
    tag_list_gets: int
    cli_runs: int

    @classmethod
    def full(cls) -> Settings:
        return cls(1024, 64, 3, 5, 2000, 5000, 1000, 200, 10)

    @classmethod
    def quick(cls) -> Settings:
        return cls(64, 16, 1, 2, 200, 400, 1000, 50, 5)


# -- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table. ``ratio`` is always "Airlock better" when above 1."""

    metric: str
    unit: str
    airlock: float | None
    distribution: float | None
    higher_is_better: bool
    target_ratio: float | None = None
    # An absolute bound on Airlock's figure (a maximum when lower is better).
    target_value: float | None = None

    @property
    def ratio(self) -> float | None:
        if not self.airlock or not self.distribution:
            return None
        if self.higher_is_better:
            return self.airlock / self.distribution
        return self.distribution / self.airlock

    @property
    def target(self) -> str:
        if self.target_ratio is not None:
            return f">= {self.target_ratio:.1f}x"
        if self.target_value is not None:
            sign = ">=" if self.higher_is_better else "<"
            return f"{sign} {_fmt(self.target_value)} {self.unit}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.target_ratio is not None:
            ratio = self.ratio
            return None if ratio is None else ratio >= self.target_ratio
        if self.target_value is not None and self.airlock is not None:
            if self.higher_is_better:
                return self.airlock >= self.target_value
            return self.airlock < self.target_value
        return None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ratio=self.ratio, target=self.target, met=self.met)
        return out


@dataclass
class Load:
    """The outcome of one fixed-count request run."""

    requests: int
    seconds: float
    client_cpu: float
    server_cpu: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# -- process probes --------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in children:
                found.append(int(child))
                found.extend(_descendants(int(child)))
    except OSError:
        pass
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of a process and any children it started, in MiB."""
    total = 0
    for each in [pid, *_descendants(pid)]:
        try:
            total += _status_kib(each, "VmRSS")
        except OSError:
            continue
    return total / 1024


class MemorySampler:
    """Samples resident memory of some processes every ``interval`` seconds in a thread."""

    def __init__(self, pids: dict[str, int], interval: float = 0.05) -> None:
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, float] = dict.fromkeys(pids, 0.0)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError):
                    self.peak[name] = max(self.peak[name], rss_mib(pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- a small keep-alive HTTP/1.1 client (the same for both servers) ----------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def build_request(
    method: str, port: int, target: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """The bytes of one request; built before timing so the load loop only writes them."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if body or method in ("PUT", "POST", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection on raw asyncio streams: far lighter than http.client."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._reader = self._writer = None

    async def send(self, raw: bytes, head: bool = False) -> Response:
        if self._writer is None:
            await self.connect()
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        writer.write(raw)
        block = await reader.readuntil(b"\r\n\r\n")
        lines = block.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = b""
        if head or status in (204, 304) or 100 <= status < 200:
            pass
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)


async def _load(port: int, requests: Sequence[bytes], concurrency: int, expect: int) -> Load:
    conns = [Connection(port) for _ in range(concurrency)]
    await asyncio.gather(*(c.connect() for c in conns))
    indexes = iter(range(len(requests)))  # shared by the workers: one event loop, no lock
    errors: list[str] = []

    async def worker(conn: Connection) -> None:
        for i in indexes:
            response = await conn.send(requests[i])
            if response.status != expect:
                errors.append(
                    f"{requests[i].split(b' HTTP/1.1')[0].decode()} -> "
                    f"{response.status} {response.body[:300]!r}"
                )

    workers = asyncio.gather(*(worker(c) for c in conns))
    # If the run is interrupted, nobody awaits ``workers``: fetch its outcome to stay quiet.
    workers.add_done_callback(lambda f: f.cancelled() or f.exception())
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        await asyncio.wait_for(workers, timeout=300)
    finally:
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        await asyncio.gather(*(c.close() for c in conns))
    return Load(len(requests), seconds, cpu, 0.0, errors)


def run_load(port: int, pid: int, requests: Sequence[bytes], concurrency: int, expect: int) -> Load:
    server0 = _cpu_seconds(pid)
    load = asyncio.run(_load(port, requests, concurrency, expect))
    load.server_cpu = _cpu_seconds(pid) - server0
    if load.errors:
        raise BenchError(
            f"{len(load.errors)} of {load.requests} requests failed; first: {load.errors[0]}"
        )
    return load


async def _one(port: int, raw: bytes) -> Response:
    conn = Connection(port)
    try:
        return await conn.send(raw)
    finally:
        await conn.close()


def request(
    port: int,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    expect: int = 200,
) -> Response:
    response = asyncio.run(_one(port, build_request(method, port, target, headers, body)))
    if response.status != expect:
        raise BenchError(
            f"{method} {target} -> {response.status} (expected {expect}): {response.body[:500]!r}"
        )
    return response


# -- servers under test ----------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str  # the registry's base URL, http://127.0.0.1:PORT
    server: ServerProcess
    # (username, password) for the registry's token endpoint; None: no authentication.
    credentials: tuple[str, str] | None = None
    _tokens: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)

    def auth(self, repo: str) -> dict[str, str]:
        """The ``Authorization`` header for pulls and pushes on ``repo`` (none without
        credentials). Call it before timing: it may fetch a token."""
        if self.credentials is None:
            return {}
        now = time.monotonic()
        cached = self._tokens.get(repo)
        if cached is None or now - cached[0] > TOKEN_RENEW_SECONDS:
            cached = (now, self._fetch_token(f"repository:{repo}:pull,push"))
            self._tokens[repo] = cached
        return {"Authorization": f"Bearer {cached[1]}"}

    def _fetch_token(self, scope: str) -> str:
        user, password = self.credentials or ("", "")
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        query = urlencode({"service": urlsplit(self.url).netloc, "scope": scope})
        ask = Request(
            f"{self.url}/oauth2/token?{query}", headers={"Authorization": f"Basic {basic}"}
        )
        try:
            with urlopen(ask, timeout=30) as answer:
                token = str(json.loads(answer.read())["token"])
        except OSError as exc:
            raise BenchError(f"{self.name}: token request for {scope} failed: {exc}") from None
        if not token:
            raise BenchError(f"{self.name}: empty token for {scope}")
        return token

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def path_of(self, location: str) -> str:
        """The request target (path and query) of a Location header, relative or absolute."""
        parts = urlsplit(urljoin(self.url + "/", location))
        return parts.path + (f"?{parts.query}" if parts.query else "")


def push_small_blob(target: Target, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    auth = target.auth(repo)
    started = request(target.port, "POST", f"/v2/{repo}/blobs/uploads/", auth, expect=202)
    path = target.path_of(started.headers["location"])
    sep = "&" if "?" in path else "?"
    headers = {"Content-Type": "application/octet-stream", **auth}
    request(target.port, "PUT", f"{path}{sep}digest={digest}", headers, data, expect=201)
    return digest


@dataclass(frozen=True)
class ImageParts:
    config: bytes
    layer: bytes

    @classmethod
    def make(cls) -> ImageParts:
        payload = b"airlock benchmark layer\n" * 40
        tar_bytes = io.BytesIO()
        with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
            info = tarfile.TarInfo("bench.txt")
            info.size, info.mtime = len(payload), 0
            tar.addfile(info, io.BytesIO(payload))
        diff_id = "sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()
        layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        return cls(json.dumps(config, sort_keys=True).encode(), layer)

    def manifest(self, annotation: str) -> bytes:
        def descriptor(media_type: str, data: bytes) -> dict[str, Any]:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            return {"mediaType": media_type, "digest": digest, "size": len(data)}

        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, self.config),
            "layers": [descriptor(OCI_LAYER, self.layer)],
            "annotations": {"org.example.airlock.bench": annotation},
        }
        return json.dumps(manifest, separators=(",", ":")).encode()

    def push_blobs(self, target: Target, repo: str) -> None:
        push_small_blob(target, repo, self.config)
        push_small_blob(target, repo, self.layer)


def put_requests(
    target: Target, repo: str, parts: ImageParts, tags: Sequence[str], same_manifest: bool = False
) -> list[bytes]:
    headers = {"Content-Type": OCI_MANIFEST, **target.auth(repo)}
    shared = parts.manifest("shared") if same_manifest else b""
    return [
        build_request(
            "PUT",
            target.port,
            f"/v2/{repo}/manifests/{tag}",
            headers,
            shared or parts.manifest(tag),
        )
        for tag in tags
    ]


# -- big blobs with curl ---------------------------------------------------------------------


@dataclass(frozen=True)
class BigBlob:
    path: Path
    chunks: tuple[Path, ...]
    size: int
    digest: str


def make_big_blob(folder: Path, size_mib: int, chunk_mib: int) -> BigBlob:
    """Write the source blob and its chunk files from os.urandom, hashing as we go."""
    path = folder / "blob.bin"
    chunks: list[Path] = []
    sha = hashlib.sha256()
    with path.open("wb") as out:
        for index in range(size_mib // chunk_mib):
            chunk_path = folder / f"chunk-{index:03d}.bin"
            with chunk_path.open("wb") as chunk:
                for _ in range(chunk_mib):
                    block = os.urandom(MiB)
                    sha.update(block)
                    out.write(block)
                    chunk.write(block)
            chunks.append(chunk_path)
    return BigBlob(path, tuple(chunks), size_mib * MiB, "sha256:" + sha.hexdigest())


def curl_headers(target: Target, repo: str) -> list[str]:
    """``-H Authorization: Bearer ...`` for ``target`` (nothing without credentials)."""
    return [arg for name, value in target.auth(repo).items() for arg in ("-H", f"{name}: {value}")]


def curl(
    args: Sequence[str], write_out: str, timeout: float = 300, headers: Sequence[str] = ()
) -> str:
    """Run curl quietly; returns its --write-out text. ``headers`` (``-H`` arguments, which may
    hold a token) are kept out of error messages."""
    command = ["curl", "-sS", "-o", "/dev/null", "-H", "Expect:", *headers, "-w", write_out, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise BenchError(f"curl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def curl_status(args: Sequence[str], expect: int, headers: Sequence[str] = ()) -> str:
    """Run curl, check the status, return the Location header (if any)."""
    out = curl(args, "%{http_code} %header{location}", headers=headers)
    status, _, location = out.partition(" ")
    if int(status) != expect:
        raise BenchError(f"curl {' '.join(args)} -> HTTP {status} (expected {expect})")
    return location.strip()


def _start_upload(target: Target, repo: str, headers: Sequence[str]) -> str:
    location = curl_status(["-X", "POST", f"{target.url}/v2/{repo}/blobs/uploads/"], 202, headers)
    return urljoin(target.url + "/", location)


def _with_digest(url: str, digest: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}digest={digest}"


OCTET = ["-H", "Content-Type: application/octet-stream"]


def push_monolithic(target: Target, repo: str, blob: BigBlob) -> float:
    """POST, then one PUT streaming the whole file with the digest. Returns seconds."""
    auth = curl_headers(target, repo)
    t0 = time.perf_counter()
    url = _start_upload(target, repo, auth)
    curl_status(
        ["-X", "PUT", "-T", str(blob.path), *OCTET, _with_digest(url, blob.digest)], 201, auth
    )
    return time.perf_counter() - t0


def push_chunked(target: Target, repo: str, blob: BigBlob) -> float:
    """POST, PATCH each chunk file with its Content-Range, then PUT the digest."""
    auth = curl_headers(target, repo)
    t0 = time.perf_counter()
    url = _start_upload(target, repo, auth)
    offset = 0
    for chunk in blob.chunks:
        size = chunk.stat().st_size
        content_range = f"Content-Range: {offset}-{offset + size - 1}"
        location = curl_status(
            ["-X", "PATCH", "-T", str(chunk), *OCTET, "-H", content_range, url], 202, auth
        )
        url = urljoin(url, location)
        offset += size
    curl_status(
        ["-X", "PUT", "--data-binary", "", *OCTET, _with_digest(url, blob.digest)], 201, auth
    )
    return time.perf_counter() - t0


def pull(target: Target, repo: str, blob: BigBlob) -> float:
    """GET the blob to /dev/null; returns curl's own average download speed in bytes/s."""
    out = curl(
        ["-L", f"{target.url}/v2/{repo}/blobs/{blob.digest}"],
        "%{http_code} %{size_download} %{speed_download}",
        headers=curl_headers(target, repo),
    )
    status, size, speed = out.split()
    if status != "200" or int(size) != blob.size:
        raise BenchError(f"blob GET from {target.name} -> {status}, {size} bytes")
    return float(speed)


def check_blob(target: Target, repo: str, blob: BigBlob) -> None:
    """Pull the blob once more through a pipe and compare its sha256 (not timed)."""
    command = [
        "curl", "-sS", "--fail", "-L", *curl_headers(target, repo),
        f"{target.url}/v2/{repo}/blobs/{blob.digest}",
    ]  # fmt: skip
    sha = hashlib.sha256()
    with subprocess.Popen(command, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while block := proc.stdout.read(MiB):
            sha.update(block)
        code = proc.wait(timeout=120)
    if code != 0 or "sha256:" + sha.hexdigest() != blob.digest:
        raise BenchError(f"blob pulled from {target.name} does not match {blob.digest}")


# -- the benchmark ---------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


class Bench:
    def __init__(
        self,
        settings: Settings,
        steps: set[str],
        airlock: Airlock,
        airlock_url: str,
        airlock_credentials: tuple[str, str],
        distribution: Distribution,
        work: Path,
    ) -> None:
        self.settings = settings
        self.steps = steps
        self.airlock = airlock
        self.targets = [
            Target("airlock", airlock_url, airlock, airlock_credentials),
            Target("distribution", distribution.url, distribution),
        ]
        self.work = work
        self.rows: list[Row] = []
        self.details: dict[str, Any] = {}
        self.parts = ImageParts.make()
        self.blob: BigBlob | None = None
        self.memory: dict[str, float] = {t.name: 0.0 for t in self.targets}

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def row(
        self,
        metric: str,
        unit: str,
        values: dict[str, float | None],
        higher_is_better: bool,
        **target: float,
    ) -> None:
        row = Row(
            metric,
            unit,
            values.get("airlock"),
            values.get("distribution"),
            higher_is_better,
            **target,
        )
        self.rows.append(row)
        self.log(
            f"{metric}: airlock {_fmt(row.airlock)}, distribution {_fmt(row.distribution)} {unit}"
        )

    def log_runs(self, runs: dict[str, list[float]]) -> None:
        for name, values in runs.items():
            self.log(f"  {name} runs: {', '.join(f'{v:,.0f}' for v in values)}")

    def each(self) -> Iterator[Target]:
        return iter(self.targets)

    # -- big blobs

    def big_blob(self) -> BigBlob:
        if self.blob is None:
            s = self.settings
            self.log(f"writing a {s.blob_mib} MiB random blob in {s.chunk_mib} MiB chunk files")
            self.blob = make_big_blob(self.work, s.blob_mib, s.chunk_mib)
        return self.blob

    def _sampled(self, work: Callable[[], float]) -> float:
        with MemorySampler({t.name: t.pid for t in self.targets}) as sampler:
            result = work()
        for name, peak in sampler.peak.items():
            self.memory[name] = max(self.memory[name], peak)
        return result

    def bench_push(self, chunked: bool) -> None:
        blob, s = self.big_blob(), self.settings
        runs: dict[str, list[float]] = {t.name: [] for t in self.targets}
        push = push_chunked if chunked else push_monolithic
        for _ in range(s.push_runs):  # interleaved, so drift in machine load hits both
            for t in self.each():
                seconds = self._sampled(partial(push, t, "bench/big", blob))
                runs[t.name].append(blob.size / MiB / seconds)
        key = "push_chunked" if chunked else "push_monolithic"
        self.details[key + "_mib_s_runs"] = runs
        self.log_runs(runs)
        size = f"{s.blob_mib} MiB" if s.blob_mib < 1024 else f"{s.blob_mib // 1024} GiB"
        label = f"in {s.chunk_mib} MiB chunks" if chunked else "monolithic"
        self.row(
            f"blob push {size}, {label}",
            "MiB/s",
            {n: statistics.median(v) for n, v in runs.items()},
            True,
            target_ratio=1.0,
        )

    def ensure_big_pushed(self) -> None:
        if "push" not in self.steps and "chunked" not in self.steps:
            for t in self.each():
                push_monolithic(t, "bench/big", self.big_blob())

    def bench_pull(self) -> None:
        self.ensure_big_pushed()
        blob, s = self.big_blob(), self.settings
        runs: dict[str, list[float]] = {t.name: [] for t in self.targets}
        for _ in range(s.pull_runs):
            for t in self.each():
                speed = self._sampled(partial(pull, t, "bench/big", blob))
                runs[t.name].append(speed / MiB)
        for t in self.each():  # untimed: the bytes served are the bytes pushed
            check_blob(t, "bench/big", blob)
        self.details["pull_mib_s_runs"] = runs
        self.log_runs(runs)
        size = f"{s.blob_mib} MiB" if s.blob_mib < 1024 else f"{s.blob_mib // 1024} GiB"
        self.row(
            f"blob pull {size} (curl)",
            "MiB/s",
            {n: statistics.median(v) for n, v in runs.items()},
            True,
            target_ratio=0.8,
        )

    def memory_rows(self) -> None:
        if not self.steps & {"push", "chunked", "pull"}:
            return
        self.row(
            "server peak RSS during big transfers (50 ms samples)",
            "MiB",
            dict(self.memory),
            False,
            target_value=200,
        )
        hwm = {t.name: _status_kib(t.pid, "VmHWM") / 1024 for t in self.targets}
        self.row("server VmHWM (whole run so far)", "MiB", dict(hwm), False, target_value=200)

    # -- manifests

    def bench_put(self) -> None:
        s = self.settings
        for t in self.each():
            self.parts.push_blobs(t, "bench/manifests")
            warm = [f"warm-{i}" for i in range(50)]
            run_load(t.port, t.pid, put_requests(t, "bench/manifests", self.parts, warm), 8, 201)
        for c in CONCURRENCY:
            rates: dict[str, float | None] = {}
            for t in self.each():
                tags = [f"put-c{c}-{i}" for i in range(s.put_requests)]
                reqs = put_requests(t, "bench/manifests", self.parts, tags)
                load = run_load(t.port, t.pid, reqs, c, 201)
                rates[t.name] = load.rate
                self._load_details(f"manifest_put_c{c}", t, load)
            self.row(
                f"manifest PUT, {c} client{'s' if c > 1 else ''}",
                "req/s",
                rates,
                True,
                target_ratio=2.0,
            )

    def bench_get(self) -> None:
        s = self.settings
        tags = [f"put-c1-{i}" for i in range(s.put_requests)]
        for t in self.each():
            if "put" not in self.steps:
                self.parts.push_blobs(t, "bench/manifests")
                reqs = put_requests(t, "bench/manifests", self.parts, tags)
                run_load(t.port, t.pid, reqs, 8, 201)
            got = request(
                t.port,
                "GET",
                f"/v2/bench/manifests/manifests/{tags[0]}",
                {"Accept": OCI_MANIFEST, **t.auth("bench/manifests")},
            )
            if got.body != self.parts.manifest(tags[0]):
                raise BenchError(f"{t.name} returned a different manifest for {tags[0]}")
            warm = [self._get(t, tags[i % len(tags)]) for i in range(100)]
            run_load(t.port, t.pid, warm, 8, 200)
        for c in CONCURRENCY:
            rates: dict[str, float | None] = {}
            for t in self.each():
                reqs = [self._get(t, tags[i % len(tags)]) for i in range(s.get_requests)]
                load = run_load(t.port, t.pid, reqs, c, 200)
                rates[t.name] = load.rate
                self._load_details(f"manifest_get_c{c}", t, load)
            self.row(
                f"manifest GET, {c} client{'s' if c > 1 else ''}",
                "req/s",
                rates,
                True,
                target_ratio=1.0,
            )

    @staticmethod
    def _get(t: Target, tag: str) -> bytes:
        headers = {"Accept": OCI_MANIFEST, **t.auth("bench/manifests")}
        return build_request("GET", t.port, f"/v2/bench/manifests/manifests/{tag}", headers)

    def _load_details(self, key: str, t: Target, load: Load) -> None:
        self.details.setdefault(key, {})[t.name] = {
            "requests": load.requests,
            "seconds": round(load.seconds, 4),
            "per_second": round(load.rate, 1),
            "client_cpu_percent_of_one_core": round(100 * load.client_cpu / load.seconds, 1),
            "server_cpu_percent_of_one_core": round(100 * load.server_cpu / load.seconds, 1),
            "server_cpu_ms_per_request": round(1000 * load.server_cpu / load.requests, 3),
        }

    # -- tag list

    def bench_tags(self) -> None:
        s = self.settings
        repo = "bench/tags"
        medians: dict[str, float | None] = {}
        p95s: dict[str, float | None] = {}
        for t in self.each():
            self.parts.push_blobs(t, repo)
            tags = [f"t{i:04d}" for i in range(s.tag_count)]
            run_load(
                t.port, t.pid, put_requests(t, repo, self.parts, tags, same_manifest=True), 8, 201
            )
            times = asyncio.run(self._list_tags(t, repo, s.tag_list_gets, s.tag_count))
            medians[t.name] = statistics.median(times) * 1000
            p95s[t.name] = statistics.quantiles(times, n=20)[18] * 1000
        self.row(f"tag list, {s.tag_count:,} tags, median", "ms", medians, False, target_ratio=1.0)
        self.row(f"tag list, {s.tag_count:,} tags, p95", "ms", p95s, False)

    async def _list_tags(self, t: Target, repo: str, count: int, expected: int) -> list[float]:
        conn = Connection(t.port)
        times: list[float] = []
        try:
            for i in range(count + 10):  # the first 10 warm up
                auth = t.auth(repo)
                t0 = time.perf_counter()
                target: str | None = f"/v2/{repo}/tags/list"
                seen = 0
                while target:
                    response = await conn.send(build_request("GET", t.port, target, auth))
                    if response.status != 200:
                        raise BenchError(f"GET {target} on {t.name} -> {response.status}")
                    seen += len(json.loads(response.body)["tags"])
                    link = response.headers.get("link", "")
                    target = t.path_of(link.split(";")[0].strip(" <>")) if link else None
                elapsed = time.perf_counter() - t0
                if seen != expected:
                    raise BenchError(f"{t.name} listed {seen} tags, expected {expected}")
                if i >= 10:
                    times.append(elapsed)
        finally:
            await conn.close()
        return times

    # -- CLI

    def bench_cli(self) -> None:
        env = self.airlock.env()
        command = [*airlock_executable(), "acr", "list", "-o", "json"]
        times: list[float] = []
        for i in range(self.settings.cli_runs + 1):  # the first run warms the page cache
            t0 = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, timeout=30, check=False)
            elapsed = time.perf_counter() - t0
            if done.returncode != 0:
                raise BenchError(f"airlock acr list failed: {done.stderr.decode()[-500:]}")
            if i:
                times.append(elapsed)
        self.details["cli_seconds_runs"] = [round(x, 4) for x in times]
        self.row(
            "CLI `airlock acr list -o json`, median",
            "s",
            {"airlock": statistics.median(times)},
            False,
            target_value=0.25,
        )

    def run(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("push", lambda: self.bench_push(chunked=False)),
            ("chunked", lambda: self.bench_push(chunked=True)),
            ("pull", self.bench_pull),
            ("put", self.bench_put),
            ("get", self.bench_get),
            ("tags", self.bench_tags),
            ("cli", self.bench_cli),
        ]
        for name, step in steps:
            if name in self.steps:
                self.log(f"step {name}")
                step()
            if name == "pull":
                self.memory_rows()


# -- output ----------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    header = ["metric", "Airlock", "Distribution", "ratio", "target", "met"]
    body = [
        [
            f"{r.metric} ({r.unit})",
            _fmt(r.airlock),
            _fmt(r.distribution),
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target or "-",
            verdict(r.met),
        ]
        for r in rows
    ]
    return render_table(header, body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark Airlock's registry against CNCF Distribution on loopback."
    )
    benchmark_arguments(parser, STEPS, "a 64 MiB blob and fewer requests: a smoke run", timeout=900)
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        parser.error("curl is required")
    settings = Settings.quick() if args.quick else Settings.full()
    steps = set(args.only or STEPS)

    set_deadline(args.timeout)
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)
    work = Path(tempfile.mkdtemp(prefix="airlock-bench-", dir="/tmp"))
    servers: list[ServerProcess] = []
    bench: Bench | None = None
    failure: BaseException | None = None
    try:
        airlock = start_airlock(work / "airlock")
        servers.append(airlock)
        distribution = start_distribution(work / "distribution")
        servers.append(distribution)
        airlock_url = airlock.create_registry("benchregistry")
        credentials = airlock.admin_credentials("benchregistry")
        bench = Bench(settings, steps, airlock, airlock_url, credentials, distribution, work)
        bench.run()
    except (BenchError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
        failure = exc
    finally:
        logs = {s.__class__.__name__.lower(): server_log_summary(s) for s in servers}
        alive = {s.__class__.__name__.lower(): s.proc.poll() is None for s in servers}
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        clear_deadline()
    load_after = os.getloadavg()

    rows = bench.rows if bench else []
    if rows:
        print(table(rows))
    print(
        f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} CPUs; client and servers share them"
    )
    for name, summary in logs.items():
        if summary["problems"]:
            print(f"{name} log: {summary['problems']} problem lines, e.g.:")
            for line in summary["first_problems"]:
                print(f"    {line}")
    if failure is not None:
        print(f"\nFAILED: {failure.__class__.__name__}: {failure}", file=sys.stderr)
        for name, up in alive.items():
            if not up:
                print(f"{name} server had exited", file=sys.stderr)
    if args.json:
        report = {
            "date": started.isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full",
            "settings": asdict(settings),
            "steps": sorted(steps),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": sys.version.split()[0],
                "loadavg_before": load_before,
                "loadavg_after": load_after,
            },
            "rows": [r.to_json() for r in rows],
            "details": bench.details if bench else {},
            "server_logs": logs,
            "failure": None if failure is None else f"{failure.__class__.__name__}: {failure}",
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failure is not None else 0


if __name__ == "__main__":
    sys.exit(main())
