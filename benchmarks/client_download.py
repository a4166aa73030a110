"""Measure blob downloads with sha256 verification: http.client vs httpx vs airlock.client.

    .venv/bin/python benchmarks/client_download.py [--size-mib 512] [--server distribution|airlock]
                                                   [--rounds 3] [--parallel 4]

A blob of --size-mib random bytes is pushed to Debian's docker-registry (anonymous) or to an
Airlock registry (token auth with the admin user), then downloaded and hashed by
(a) http.client with 1 MiB reads, (b) httpx with default settings (``iter_bytes()``),
(c) httpx with 1 MiB raw reads, (d) ``RegistryClient.iter_blob`` (the tuned client), and
(e) ``--parallel`` concurrent downloads through one RegistryClient. Prints MiB/s (best of
--rounds) and the import time of ``airlock.client`` and ``httpx`` in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

import httpx  # noqa: E402
from tests.support.servers import free_port, start_airlock, start_distribution  # noqa: E402

from airlock.client import Credentials, RegistryClient  # noqa: E402

MIB = 1 << 20
REPOSITORY = "bench/blob"


BLOCK = os.urandom(MIB)


def random_chunks(size: int) -> Iterator[bytes]:
    block = BLOCK
    for i in range(size // MIB):
        # Vary each MiB so that nothing deduplicates or compresses.
        yield i.to_bytes(8, "little") + block[8:]


def digest_of(size: int) -> str:
    hasher = hashlib.sha256()
    for chunk in random_chunks(size):
        hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def timed(label: str, size: int, rounds: int, run: Callable[[], str], digest: str) -> None:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        got = run()
        best = min(best, time.perf_counter() - start)
        assert got == digest, f"{label}: digest {got} != {digest}"
    print(f"  {label:<44} {size / MIB / best:8.0f} MiB/s")


def with_http_client(host: str, port: int, path: str, token: str | None) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    if response.status in (301, 302, 307):
        raise RuntimeError("redirects are not benchmarked")
    hasher = hashlib.sha256()
    while chunk := response.read(MIB):
        hasher.update(chunk)
    conn.close()
    return "sha256:" + hasher.hexdigest()


def with_httpx(client: httpx.Client, path: str, raw_chunk: int | None) -> str:
    hasher = hashlib.sha256()
    with client.stream("GET", path) as response:
        response.raise_for_status()
        chunks = response.iter_raw(raw_chunk) if raw_chunk else response.iter_bytes()
        for chunk in chunks:
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def with_airlock(client: RegistryClient, digest: str) -> str:
    # iter_blob verifies size and sha256 itself (it raises otherwise): hashing here again
    # would measure two sha256 passes against one for the others.
    for _chunk in client.iter_blob(REPOSITORY, digest):
        pass
    return digest


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    best = min(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                             timeout=60).stdout)
        for _ in range(5)
    )  # fmt: skip
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--server", choices=["distribution", "airlock"], default="distribution")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    size = args.size_mib * MIB

    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as tmp:
        if args.server == "distribution":
            server = start_distribution(Path(tmp) / "dist")
            url, credentials = server.url, None
        else:
            server = start_airlock(Path(tmp) / "home")
            url = server.create_registry("bench", port=free_port())
            credentials = Credentials(*server.admin_credentials("bench"))
        try:
            run(url, credentials, size, args.rounds, args.parallel)
        finally:
            server.stop()
    print(
        f"import airlock.client: {import_time('airlock.client'):.0f} ms; "
        f"import httpx: {import_time('httpx'):.0f} ms; "
        f"import http.client: {import_time('http.client'):.0f} ms (best of 5, fresh process)"
    )


def run(url: str, credentials: Credentials | None, size: int, rounds: int, parallel: int) -> None:
    host_port = url.removeprefix("http://")
    host, port = host_port.split(":")
    digest = digest_of(size)
    with RegistryClient(host_port, credentials=credentials, insecure=True) as client:
        start = time.perf_counter()
        client.upload_blob(REPOSITORY, digest, random_chunks(size), size=size)
        upload = size / MIB / (time.perf_counter() - start)
        print(f"{url}: {size // MIB} MiB blob uploaded at {upload:.0f} MiB/s (one streamed PUT)")
        client.blob_size(REPOSITORY, digest)  # a token for the pulls below
        token = None
        auth = client._http.headers.get("authorization")  # never set: tokens live in the flow
        assert auth is None
        if credentials is not None:
            token = client.auth._cached((f"repository:{REPOSITORY}:pull",)) or client.auth._cached(
                (f"repository:{REPOSITORY}:pull,push",)
            )
        path = f"/v2/{REPOSITORY}/blobs/{digest}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timed("(a) http.client, 1 MiB reads", size, rounds,
              lambda: with_http_client(host, int(port), path, token), digest)  # fmt: skip
        with httpx.Client(base_url=url, headers=headers, timeout=60) as plain:
            timed("(b) httpx defaults, iter_bytes()", size, rounds,
                  lambda: with_httpx(plain, path, None), digest)  # fmt: skip
            timed("(c) httpx, iter_raw(1 MiB)", size, rounds,
                  lambda: with_httpx(plain, path, MIB), digest)  # fmt: skip
        timed("(d) airlock.client RegistryClient.iter_blob", size, rounds,
              lambda: with_airlock(client, digest), digest)  # fmt: skip
        # The same client over httpx's own transport (64 KiB reads): what the tuning buys.
        with RegistryClient(
            host_port, credentials=credentials, insecure=True, transport=httpx.HTTPTransport()
        ) as untuned:
            timed("(f) as (d), httpx.HTTPTransport (64 KiB reads)", size, rounds,
                  lambda: with_airlock(untuned, digest), digest)  # fmt: skip
        with ThreadPoolExecutor(parallel) as pool:
            start = time.perf_counter()
            results = list(pool.map(lambda _: with_airlock(client, digest), range(parallel)))
            took = time.perf_counter() - start
        assert results == [digest] * parallel
        print(f"  (e) {parallel} parallel iter_blob, one client:"
              f"{parallel * size / MIB / took:15.0f} MiB/s in total")  # fmt: skip


if __name__ == "__main__":
    main()
