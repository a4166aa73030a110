"""Measure airlock.server.http on loopback: small requests/s, upload MiB/s, sendfile GB/s.

    .venv/bin/python benchmarks/http_server.py [--size-mib 1024] [--seconds 5]

The server runs in a child process (one core, stdlib asyncio loop); clients are curl for the
large transfers and a raw-socket asyncio client for small keep-alive requests. A temporary file
of --size-mib in /tmp is written once and deleted at the end. Every step has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


# -- server side (child process) ------------------------------------------------------------


async def _bench_app(scope: Any, receive: Any, send: Any) -> None:
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        received += len(message["body"])
        if not message["more_body"]:
            break
    if scope["path"] == "/file":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": scope["query_string"].decode()})
        return
    body = b"%d" % received
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve() -> None:
    sys.path.insert(0, str(REPO / "src"))
    from airlock.server.http import HttpServer

    server = HttpServer(access_log=False)
    listener = await server.add_listener(_bench_app)
    print(listener.port, flush=True)
    # Stop when the parent closes our stdin (or after an hour at most).
    await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, sys.stdin.read), 3600)
    await server.shutdown(grace=1.0)


# -- client side -----------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _small_client(port: int, deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /ping HTTP/1.1\r\nhost: bench\r\n\r\n"
    done = 0
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
        await writer.wait_closed()
    return done


def bench_small(port: int, pid: int, seconds: float, connections: int) -> tuple[float, float]:
    async def run() -> int:
        deadline = time.monotonic() + seconds
        counts = await asyncio.gather(*(_small_client(port, deadline) for _ in range(connections)))
        return sum(counts)

    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    total = asyncio.run(run())
    cpu, wall = _cpu_seconds(pid) - cpu0, time.monotonic() - t0
    return total / wall, total / max(cpu, 1e-9)


def _curl(args: list[str], timeout: float) -> float:
    start = time.monotonic()
    subprocess.run(["curl", "-sS", "--fail", "-o", "/dev/null", *args], check=True, timeout=timeout)
    return time.monotonic() - start


def bench_upload(port: int, path: Path, size: int) -> float:
    seconds = _curl(["-T", str(path), f"http://127.0.0.1:{port}/upload"], timeout=120)
    return size / seconds / 2**20


def bench_sendfile(port: int, path: Path, size: int) -> float:
    seconds = _curl([f"http://127.0.0.1:{port}/file?{path}"], timeout=120)
    return size / seconds / 1e9


def _make_file(size_mib: int) -> Path:
    fd, name = tempfile.mkstemp(prefix="airlock-bench-", dir="/tmp")
    block = os.urandom(2**20)
    with os.fdopen(fd, "wb") as out:
        for _ in range(size_mib):
            out.write(block)
    return Path(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    path = _make_file(args.size_mib)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        size = args.size_mib * 2**20
        rps, per_cpu = bench_small(port, child.pid, args.seconds, args.connections)
        print(f"small requests : {rps:8.0f} req/s  ({per_cpu:.0f} per server CPU-second)")
        for _ in range(2):  # the second run has a warm page cache
            print(f"upload         : {bench_upload(port, path, size):8.0f} MiB/s")
            print(f"sendfile       : {bench_sendfile(port, path, size):8.2f} GB/s")
    finally:
        path.unlink()
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


if __name__ == "__main__":
    main()
