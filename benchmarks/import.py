"""``airlock acr import`` against ``skopeo copy`` doing the same work, on loopback.

    .venv/bin/python benchmarks/import.py [--quick] [--only NAME ...] [--json out.json]

Starts Debian's ``docker-registry`` (CNCF Distribution 2.8, anonymous) as the external source
and ``airlock server`` instances (token auth on every registry, the Distribution's address
in ``$AIRLOCK_IMPORT_ALLOWED_REGISTRIES``) from ``tests/support/servers.py``, with their
state in a temporary folder under /tmp, and times:

* ``between``: a 300 MB image of 10 layers from Distribution into an Airlock registry: cold,
  then again into the same target, which then has every blob (``--force`` for the import,
  since the tag exists). An Airlock server keeps one content store and an import skips
  every blob the server already holds, so each tool writes into a fresh server of its own
  in every run;
* ``local``: the same image between two registries of one Airlock server (the import links
  blobs instead of copying them; skopeo must copy the bytes, since it can mount blobs only
  within one registry): a fresh server per run, the source registry pushed first, untimed,
  then each tool into a registry of its own; cold, then again;
* ``small``: 50 small images (tags of one repository, a shared 256 KiB layer and a 16 KiB
  one of their own each) from Distribution into Airlock: cold, then again with nothing
  changed; skopeo as 50 sequential ``skopeo copy`` processes, one per image (a single
  ``skopeo sync --preserve-digests`` of the repository is timed too, for reference).

Three figures for Airlock, each against the same skopeo wall time (``skopeo copy
--preserve-digests``, default parallelism, start-up included):

* ``server job``: the import job's duration as the server reports it (``endTime -
  startTime`` of the job that ``airlock acr import -o json`` prints);
* ``REST ?wait=true``: wall time of ``POST /api/registries/<name>/imports?wait=true`` from
  this process (request handling and the job, no process start-up), into another target;
* ``CLI wall time``: wall time of the ``airlock acr import`` process (without
  ``--no-wait``: it waits for the job), start-up and its polling included.

The image is made in pure Python, deterministically: each layer is an uncompressed tar
holding one file of seeded random bytes (``random.Random(seed).randbytes``), so it is
generated at memory speed and neither tool spends time compressing. It is written as an OCI
layout and pushed with ``skopeo copy`` before any timing; every target's manifest digest is
checked after the first cold run. ``--quick`` uses a 30 MB image, 10 small images and one
run. Everything is bounded: each subprocess has a timeout and the whole run is stopped by
SIGALRM after --timeout seconds. The temporary folder is deleted at the end, also on failure.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
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

MB = 1_000_000
MiB = 2**20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"
EPOCH = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
STEPS = ("between", "local", "small")
BIG_REPO = "bench/big"
BIG_TAG = "v1"
SMALL_REPO = "bench/small"
SUBPROCESS_TIMEOUT = 240  # seconds; a 300 MB copy takes a few
LOCAL_SKOPEO_TIMEOUT = 45  # skopeo between two registries of one Airlock server, see skopeo_big


class BenchError(RuntimeError):
    """A tool or server answered something unexpected; the message says what."""


# -- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    image_mb: int  # total layer bytes of the big image, in MB (10^6)
    layers: int
    big_runs: int
    small_images: int
    small_runs: int

    @classmethod
    def full(cls) -> Settings:
        return cls(image_mb=300, layers=10, big_runs=3, small_images=50, small_runs=2)

    @classmethod
    def quick(cls) -> Settings:
        return cls(image_mb=30, layers=10, big_runs=1, small_images=10, small_runs=1)


# -- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: seconds for both tools; ratio = skopeo / Airlock (above 1 means
    Airlock is faster)."""

    metric: str
    airlock: float | None
    skopeo: float | None
    target_ratio: float | None = None
    target_seconds: float | None = None  # Airlock alone must take less than this

    @property
    def ratio(self) -> float | None:
        if self.airlock is None or self.skopeo is None or self.airlock <= 0:
            return None
        return self.skopeo / self.airlock

    @property
    def target(self) -> str:
        parts = []
        if self.target_ratio is not None:
            parts.append(f">= {self.target_ratio:.1f}x")
        if self.target_seconds is not None:
            parts.append(f"< {self.target_seconds:g} s")
        return ", ".join(parts)

    @property
    def met(self) -> bool | None:
        checks: list[bool] = []
        if self.target_ratio is not None and self.ratio is not None:
            checks.append(self.ratio >= self.target_ratio)
        if self.target_seconds is not None and self.airlock is not None:
            checks.append(self.airlock < self.target_seconds)
        return all(checks) if checks else None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": "s",
            "airlock": self.airlock,
            "skopeo": self.skopeo,
            "ratio": self.ratio,
            "target": self.target or None,
            "met": self.met,
        }


# -- images ----------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Layout:
    """An OCI image layout being written: blobs and the tags of index.json."""

    path: Path
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))

    def blob_path(self, digest: str) -> Path:
        return self.path / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def write_blob(self, data: bytes) -> str:
        digest = _digest(data)
        path = self.blob_path(digest)
        if not path.exists():
            path.write_bytes(data)
        return digest

    def random_tar_layer(self, seed: str, size: int) -> dict[str, Any]:
        """An uncompressed tar holding ``layer/<seed>.bin``: ``size`` seeded random bytes.
        Streamed to disk in 1 MiB pieces while hashing; returns its descriptor."""
        rng = random.Random(seed)
        info = tarfile.TarInfo(f"layer/{seed}.bin")
        info.size, info.mode, info.mtime = size, 0o644, EPOCH
        info.uid = info.gid = 0
        header = info.tobuf(format=tarfile.USTAR_FORMAT)
        tmp = self.path / "blobs" / f".{seed}.tmp"
        hasher = hashlib.sha256()
        total = 0
        with tmp.open("wb") as out:

            def emit(data: bytes) -> None:
                nonlocal total
                hasher.update(data)
                out.write(data)
                total += len(data)

            emit(header)
            left = size
            while left:
                piece = rng.randbytes(min(MiB, left))
                emit(piece)
                left -= len(piece)
            emit(b"\0" * (-size % 512) + b"\0" * 1024)  # padding and the end-of-archive
        digest = "sha256:" + hasher.hexdigest()
        tmp.replace(self.blob_path(digest))
        return {"mediaType": OCI_LAYER_TAR, "digest": digest, "size": total}

    def add_image(self, tag: str, layers: Sequence[dict[str, Any]], label: str) -> str:
        """Config and manifest over ``layers`` (uncompressed, so diff_id = digest); tags it.
        Returns the manifest digest."""
        config = _canonical(
            {
                "created": CREATED,
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"bench": label}},
                "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layers]},
            }
        )
        manifest = _canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": self.write_blob(config),
                    "size": len(config),
                },
                "layers": list(layers),
            }
        )
        digest = self.write_blob(manifest)
        self.tags[tag] = {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "annotations": {REF_NAME: tag},
        }
        self._write_index()
        return digest

    def _write_index(self) -> None:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [self.tags[t] for t in sorted(self.tags)],
        }
        (self.path / "index.json").write_bytes(_canonical(index))


def build_big_image(path: Path, total_mb: int, layers: int) -> tuple[Layout, str]:
    """``layers`` layers of about ``total_mb`` MB altogether, tagged ``v1``."""
    layout = Layout(path)
    per_layer = total_mb * MB // layers
    descriptors = [
        layout.random_tar_layer(f"big-{i:02d}", per_layer - 1536) for i in range(layers)
    ]  # 512 bytes of header and 1,024 of end-of-archive make each layer per_layer bytes
    return layout, layout.add_image(BIG_TAG, descriptors, "big")


def build_small_images(path: Path, count: int) -> tuple[Layout, dict[str, str]]:
    """``count`` images tagged ``t00``...: a shared 256 KiB layer and a 16 KiB one of their
    own each. Returns tag -> manifest digest."""
    layout = Layout(path)
    shared = layout.random_tar_layer("small-shared", 256 * 1024)
    digests = {}
    for i in range(count):
        own = layout.random_tar_layer(f"small-{i:02d}", 16 * 1024)
        digests[f"t{i:02d}"] = layout.add_image(f"t{i:02d}", [shared, own], f"small-{i}")
    return layout, digests


# -- tools -----------------------------------------------------------------------------------


def run(
    command: Sequence[str], env: dict[str, str] | None = None, timeout: float = SUBPROCESS_TIMEOUT
) -> tuple[float, str]:
    """Run ``command``; its wall time and stdout. Raises BenchError if it fails."""
    t0 = time.perf_counter()
    done = subprocess.run(list(command), env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        shown = " ".join(_mask(command))
        raise BenchError(f"{shown} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return elapsed, done.stdout


def _mask(command: Sequence[str]) -> list[str]:
    masked, hide = [], False
    for arg in command:
        masked.append("***" if hide else arg)
        hide = arg in ("--password", "-p", "--src-creds", "--dest-creds", "--creds")
    return masked


def skopeo_copy(
    source: str,
    destination: str,
    src_creds: str | None = None,
    dest_creds: str | None = None,
    timeout: float = SUBPROCESS_TIMEOUT,
) -> float:
    command = [
        "skopeo",
        "copy",
        "--preserve-digests",
        "--retry-times=0",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ]
    if src_creds:
        command += ["--src-creds", src_creds]
    if dest_creds:
        command += ["--dest-creds", dest_creds]
    return run([*command, source, destination], timeout=timeout)[0]


def skopeo_manifest_digest(reference: str, creds: str | None = None) -> str:
    command = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
    if creds:
        command += ["--creds", creds]
    _, raw = run([*command, f"docker://{reference}"])
    return _digest(raw.encode())


# -- the benchmark ---------------------------------------------------------------------------


@dataclass
class ImportResult:
    wall: float
    server: float | None  # the server's own duration, when the CLI reports one


_ISO_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


def server_duration(result: object) -> float | None:
    """The import's duration as the server reports it, if the JSON has one: a number of
    seconds or milliseconds, an ISO 8601 duration, or start and end times."""
    if not isinstance(result, dict):
        return None
    for key in ("durationSeconds", "duration_seconds", "seconds"):
        if isinstance(result.get(key), int | float):
            return float(result[key])
    for key in ("durationMs", "duration_ms", "elapsedMs"):
        if isinstance(result.get(key), int | float):
            return float(result[key]) / 1000
    duration = result.get("duration")
    if isinstance(duration, int | float):
        return float(duration)
    if isinstance(duration, str):
        match = _ISO_DURATION.match(duration)
        if match:
            h, m, s = (float(x) if x else 0.0 for x in match.groups())
            return h * 3600 + m * 60 + s
    start = result.get("startTime") or result.get("startedAt")
    end = result.get("finishTime") or result.get("endTime") or result.get("finishedAt")
    if isinstance(start, str) and isinstance(end, str):
        try:
            t0 = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
            t1 = datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (t1 - t0).total_seconds()
    for nested in ("job", "result", "import", "properties"):
        found = server_duration(result.get(nested))
        if found is not None:
            return found
    return None


@dataclass
class Runs:
    """Seconds per run of one scenario, cold and warm: the import CLI's wall time, the
    server's job duration (endTime - startTime), the wall time of the REST call with
    ``?wait=true`` (another target registry) and skopeo's wall time."""

    cli: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "warm": []})
    rest: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "warm": []})
    server: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "warm": []})
    skopeo: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "warm": []})
    skopeo_cold_runs: list[bool] = field(default_factory=list)  # per run: did it finish

    def add(
        self, kind: str, cli: float, server: float | None, rest: float, skopeo: float | None
    ) -> None:
        self.cli[kind].append(cli)
        self.rest[kind].append(rest)
        if server is not None:
            self.server[kind].append(server)
        if skopeo is not None:  # None: it hung (see LOCAL_SKOPEO_TIMEOUT)
            self.skopeo[kind].append(skopeo)
        if kind == "cold":
            self.skopeo_cold_runs.append(skopeo is not None)

    def skopeo_cold_done(self, run: int) -> bool:
        """Whether skopeo's cold copy of run ``run`` (from 0) finished."""
        return self.skopeo_cold_runs[run] if run < len(self.skopeo_cold_runs) else False

    def to_json(self) -> dict[str, dict[str, list[float]]]:
        return {
            "import_cli_wall": {k: _round(v) for k, v in self.cli.items()},
            "import_rest_wait_wall": {k: _round(v) for k, v in self.rest.items()},
            "import_server_job": {k: _round(v) for k, v in self.server.items()},
            "skopeo_wall": {k: _round(v) for k, v in self.skopeo.items()},
        }

    def rows(self, what: str, warm_label: str, limit: float | None) -> list[Row]:
        rows = []
        for kind, label in (("cold", "cold"), ("warm", f"again, {warm_label}")):
            rows.append(
                Row(
                    f"{what}, {label}: server job",
                    _median(self.server[kind]),
                    _median(self.skopeo[kind]),
                    target_ratio=1.0,
                    target_seconds=limit,
                )
            )
            rows.append(
                Row(
                    f"{what}, {label}: REST ?wait=true",
                    _median(self.rest[kind]),
                    _median(self.skopeo[kind]),
                    target_ratio=1.0,
                )
            )
            rows.append(
                Row(
                    f"{what}, {label}: CLI wall time",
                    _median(self.cli[kind]),
                    _median(self.skopeo[kind]),
                    target_ratio=1.0,
                )
            )
        return rows


@dataclass
class Target:
    """A registry of some Airlock server: where one tool writes."""

    server: Airlock
    name: str
    host: str
    creds: str  # "user:password" of its admin user


class Bench:
    def __init__(
        self, settings: Settings, steps: set[str], work: Path, distribution: Distribution
    ) -> None:
        self.settings = settings
        self.steps = steps
        self.work = work
        self.distribution = distribution
        self.dist_host = f"127.0.0.1:{distribution.port}"
        self.rows: list[Row] = []
        self.details: dict[str, Any] = {}
        self.big_digest = ""
        self.small_digests: dict[str, str] = {}
        self.running: list[Airlock] = []  # stopped at the end of each run, or by main
        self.logs: dict[str, dict[str, Any]] = {}
        self._count = 0

    @staticmethod
    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    # -- set-up, untimed

    def prepare(self) -> None:
        s = self.settings
        if self.steps & {"between", "local"}:
            t0 = time.perf_counter()
            layout, self.big_digest = build_big_image(self.work / "big", s.image_mb, s.layers)
            self.log(
                f"built the {s.image_mb} MB, {s.layers}-layer image in "
                f"{time.perf_counter() - t0:.1f} s: {self.big_digest}"
            )
            self.big_layout = layout
            t0 = time.perf_counter()
            skopeo_copy(
                f"oci:{layout.path}:{BIG_TAG}", f"docker://{self.dist_host}/{BIG_REPO}:{BIG_TAG}"
            )
            self.log(f"pushed it to Distribution in {time.perf_counter() - t0:.1f} s")
        if "small" in self.steps:
            small, self.small_digests = build_small_images(self.work / "small", s.small_images)
            t0 = time.perf_counter()
            for tag in self.small_digests:
                skopeo_copy(
                    f"oci:{small.path}:{tag}", f"docker://{self.dist_host}/{SMALL_REPO}:{tag}"
                )
            self.log(
                f"pushed {s.small_images} small images to Distribution in "
                f"{time.perf_counter() - t0:.1f} s"
            )

    def airlock(self) -> Airlock:
        """A fresh ``airlock server``, allowed to import from the Distribution. Airlock keeps
        one content store per server and an import skips every blob the server holds, so a
        cold import needs a server of its own."""
        self._count += 1
        server = start_airlock(
            self.work / f"airlock-{self._count:03d}",
            extra_env={"AIRLOCK_IMPORT_ALLOWED_REGISTRIES": self.dist_host},
        )
        self.running.append(server)
        return server

    def stop_servers(self) -> None:
        while self.running:
            server = self.running.pop()
            server.stop()
            self.logs[server.home.name] = server_log_summary(server)
            shutil.rmtree(server.home, ignore_errors=True)

    def registry(self, server: Airlock, prefix: str) -> Target:
        """A new registry on ``server``."""
        self._count += 1
        name = f"{prefix}{self._count:03d}"
        url = server.create_registry(name)
        user, password = server.admin_credentials(name)
        return Target(server, name, url.removeprefix("http://"), f"{user}:{password}")

    # -- the tools

    def cli_import(
        self, target: Target, source: str, image: str, force: bool, registry: str | None = None
    ) -> ImportResult:
        """``airlock acr import``, waiting for the job: its wall time, and the job's own
        duration (endTime - startTime) from the job the CLI prints with ``-o json``."""
        command = [
            *airlock_executable(),
            "acr",
            "import",
            "--name",
            target.name,
            "--source",
            source,
            "--image",
            image,
            "-o",
            "json",
        ]
        if force:
            command.append("--force")
        if registry:
            command += ["--registry", registry]
        wall, out = run(command, env=target.server.env())
        try:
            reported = server_duration(json.loads(out)) if out.strip() else None
        except json.JSONDecodeError:
            reported = None
        return ImportResult(wall, reported)

    def rest_import(
        self, target: Target, source: str, image: str, force: bool, registry: str | None = None
    ) -> float:
        """``POST /api/registries/<name>/imports?wait=true``: its wall time in this process
        (no CLI start-up, no polling)."""
        body: dict[str, Any] = {"source": source, "images": [image], "force": force}
        if registry:
            body["registry"] = registry
        request = Request(
            f"{target.server.api_url}/api/registries/{target.name}/imports?wait=true",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        t0 = time.perf_counter()
        try:
            with urlopen(request, timeout=SUBPROCESS_TIMEOUT) as response:
                job = json.loads(response.read())
        except HTTPError as exc:
            detail = exc.read()[:500]
            raise BenchError(f"import into {target.name}: {exc.code} {detail!r}") from None
        elapsed = time.perf_counter() - t0
        if job.get("status") != "Succeeded":
            raise BenchError(f"import into {target.name}: {job}")
        return elapsed

    def check(self, target: Target, image: str, digest: str) -> None:
        got = skopeo_manifest_digest(f"{target.host}/{image}", target.creds)
        if got != digest:
            raise BenchError(f"{target.host}/{image} has manifest {got}, expected {digest}")

    # -- steps

    def bench_big(self, step: str) -> None:
        """``between``: Distribution -> Airlock, each tool into a fresh server of its own;
        ``local``: between two registries of one fresh server (the source pushed first,
        untimed), each tool into a registry of its own."""
        s = self.settings
        image = f"{BIG_REPO}:{BIG_TAG}"
        runs = Runs()
        for i in range(s.big_runs):
            src_registry: str | None = None
            src_creds: str | None = None
            if step == "between":
                cli, rest, sko = (self.registry(self.airlock(), p) for p in ("imp", "rst", "sko"))
                import_source = source = f"{self.dist_host}/{image}"
            else:
                server = self.airlock()
                src = self.registry(server, "src")
                skopeo_copy(
                    f"oci:{self.big_layout.path}:{BIG_TAG}",
                    f"docker://{src.host}/{image}",
                    dest_creds=src.creds,
                )
                cli, rest, sko = (self.registry(server, p) for p in ("imp", "rst", "sko"))
                src_registry, src_creds = src.name, src.creds
                import_source, source = image, f"{src.host}/{image}"  # --registry <name>
            for kind in ("cold", "warm"):
                warm = kind == "warm"
                result = self.cli_import(cli, import_source, image, warm, src_registry)
                rest_s = self.rest_import(rest, import_source, image, warm, src_registry)
                seconds: float | None = None
                if not warm or runs.skopeo_cold_done(i):  # "again" means after a full copy
                    seconds = self.skopeo_big(step, source, sko, src_creds)
                runs.add(kind, result.wall, result.server, rest_s, seconds)
                if i == 0 and not warm:
                    for target in (cli, rest, sko) if seconds is not None else (cli, rest):
                        self.check(target, image, self.big_digest)
                self.log(
                    f"{step} run {i + 1} {kind}: import CLI {result.wall:.3f} s, job "
                    f"{_fmt(result.server)} s, REST {rest_s:.3f} s; skopeo {_fmt(seconds)} s"
                )
            self.stop_servers()
        self.details[f"{step}_seconds_runs"] = runs.to_json()
        where = "Distribution -> Airlock" if step == "between" else "Airlock -> Airlock (local)"
        size = f"{s.image_mb} MB/{s.layers} layers"
        self.rows += runs.rows(
            f"{size}, {where}", "target has every blob", 0.15 if step == "local" else None
        )

    def skopeo_big(
        self, step: str, source: str, target: Target, src_creds: str | None
    ) -> float | None:
        """skopeo copy of the big image to ``target``. Between two registries of one Airlock
        server it can hang: the server then sends six blobs and receives six uploads at once,
        and its sendfile threads (blocked on full sockets) can starve the uploads' disk
        writes of threads. After LOCAL_SKOPEO_TIMEOUT that run is recorded as hung (None)."""
        destination = f"docker://{target.host}/{BIG_REPO}:{BIG_TAG}"
        if step != "local":
            return skopeo_copy(f"docker://{source}", destination, src_creds, target.creds)
        try:
            return skopeo_copy(
                f"docker://{source}",
                destination,
                src_creds,
                target.creds,
                timeout=LOCAL_SKOPEO_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            self.log(f"skopeo copy {source} -> {target.host} hung for {LOCAL_SKOPEO_TIMEOUT} s")
            self.details["local_skopeo_hung"] = self.details.get("local_skopeo_hung", 0) + 1
            return None

    def bench_small(self) -> None:
        s = self.settings
        tags = list(self.small_digests)
        runs = Runs()
        sync: dict[str, list[float]] = {"cold": [], "warm": []}
        for i in range(s.small_runs):
            cli, rest, sko, syn = (
                self.registry(self.airlock(), p) for p in ("imp", "rst", "sko", "syn")
            )
            for kind in ("cold", "warm"):
                warm = kind == "warm"
                walls: list[float] = []
                jobs: list[float] = []
                rest_s = 0.0
                for tag in tags:
                    source, image = f"{self.dist_host}/{SMALL_REPO}:{tag}", f"{SMALL_REPO}:{tag}"
                    result = self.cli_import(cli, source, image, warm)
                    walls.append(result.wall)
                    if result.server is not None:
                        jobs.append(result.server)
                    rest_s += self.rest_import(rest, source, image, warm)
                t0 = time.perf_counter()
                for tag in tags:
                    skopeo_copy(
                        f"docker://{self.dist_host}/{SMALL_REPO}:{tag}",
                        f"docker://{sko.host}/{SMALL_REPO}:{tag}",
                        dest_creds=sko.creds,
                    )
                copied = time.perf_counter() - t0
                job_total = sum(jobs) if len(jobs) == len(tags) else None
                runs.add(kind, sum(walls), job_total, rest_s, copied)
                synced, _ = run(
                    [
                        "skopeo",
                        "sync",
                        "--retry-times=0",
                        "--src=docker",
                        "--dest=docker",
                        "--src-tls-verify=false",
                        "--dest-tls-verify=false",
                        "--preserve-digests",
                        "--dest-creds",
                        syn.creds,
                        f"{self.dist_host}/{SMALL_REPO}",
                        f"{syn.host}/bench",
                    ]
                )
                sync[kind].append(synced)
                if i == 0 and not warm:
                    for target in (cli, rest, sko, syn):
                        for tag in (tags[0], tags[-1]):
                            self.check(target, f"{SMALL_REPO}:{tag}", self.small_digests[tag])
                self.log(
                    f"small run {i + 1} {kind}: {len(tags)} imports: CLI {sum(walls):.2f} s, "
                    f"jobs {_fmt(job_total)} s, REST {rest_s:.2f} s; "
                    f"{len(tags)} skopeo copy {copied:.2f} s; skopeo sync {synced:.2f} s"
                )
            self.stop_servers()
        self.details["small_seconds_runs"] = runs.to_json()
        self.details["small_skopeo_sync_seconds_runs"] = {k: _round(v) for k, v in sync.items()}
        n = len(tags)
        self.rows += runs.rows(f"{n} small images", "nothing changed", None)
        for kind, label in (("cold", "cold"), ("warm", "again")):
            self.rows.append(
                Row(
                    f"{n} small images, {label}: {n} import CLI calls vs one skopeo sync",
                    _median(runs.cli[kind]),
                    _median(sync[kind]),
                )
            )

    def run(self) -> None:
        self.prepare()
        steps: list[tuple[str, Callable[[], None]]] = [
            ("between", lambda: self.bench_big("between")),
            ("local", lambda: self.bench_big("local")),
            ("small", self.bench_small),
        ]
        for name, step in steps:
            if name in self.steps:
                self.log(f"step {name}")
                step()


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _round(values: Sequence[float]) -> list[float]:
    return [round(v, 4) for v in values]


# -- output ----------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def table(rows: Sequence[Row]) -> str:
    header = ["metric (seconds)", "Airlock", "skopeo", "ratio", "target", "met"]
    body = [
        [
            r.metric,
            _fmt(r.airlock),
            _fmt(r.skopeo),
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target or "-",
            verdict(r.met),
        ]
        for r in rows
    ]
    return render_table(header, body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark `airlock acr import` against skopeo copy on loopback."
    )
    benchmark_arguments(
        parser, STEPS, "a 30 MB image and 10 small images: a smoke run", timeout=1800
    )
    args = parser.parse_args(argv)
    if shutil.which("skopeo") is None:
        parser.error("skopeo is required")
    settings = Settings.quick() if args.quick else Settings.full()
    steps = set(args.only or STEPS)

    set_deadline(args.timeout)
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)
    work = Path(tempfile.mkdtemp(prefix="airlock-bench-import-", dir="/tmp"))
    servers: list[ServerProcess] = []
    bench: Bench | None = None
    failure: BaseException | None = None
    logs: dict[str, dict[str, Any]] = {}
    try:
        distribution = start_distribution(work / "distribution")
        servers.append(distribution)
        bench = Bench(settings, steps, work, distribution)
        bench.run()
    except (BenchError, TimeoutError, OSError, subprocess.SubprocessError, RuntimeError) as exc:
        failure = exc
    finally:
        if bench is not None:
            bench.stop_servers()
            logs.update(bench.logs)
        for server in servers:
            server.stop()
            logs[server.__class__.__name__.lower()] = server_log_summary(server)
        shutil.rmtree(work, ignore_errors=True)
        clear_deadline()
    load_after = os.getloadavg()

    rows = bench.rows if bench else []
    if rows:
        print(table(rows))
        print(
            "\nAirlock: 'server job' is the job's endTime - startTime as the server reports "
            "it; 'REST ?wait=true' the wall time of that API call; 'CLI wall time' the wall "
            "time of `airlock acr import` (it waits for the job; start-up included).\n"
            "skopeo: wall time of `skopeo copy` (start-up included). ratio = skopeo / Airlock."
        )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} CPUs; tools and servers share them"
    )
    hung = bench.details.get("local_skopeo_hung", 0) if bench else 0
    if hung:
        print(
            f"skopeo copy between two registries of one Airlock server hung {hung} time(s) "
            f"(stopped after {LOCAL_SKOPEO_TIMEOUT} s; its figure is the median of the others)"
        )
    for name, summary in logs.items():
        if summary["problems"]:
            print(f"{name} log: {summary['problems']} problem lines, e.g.:")
            for line in summary["first_problems"]:
                print(f"    {line}")
    if failure is not None:
        print(f"\nFAILED: {failure.__class__.__name__}: {failure}", file=sys.stderr)
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
                "skopeo": _skopeo_version(),
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


def _skopeo_version() -> str:
    try:
        done = subprocess.run(
            ["skopeo", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
