"""Deadlines, body limits and accept-error logging of airlock.server.http, over real sockets.

Every deadline here is configured small; the assertions bound the cut-off from both sides
(never before the deadline, within twice it), which is correctness, not speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from airlock.server.apigate import error_body as api_error_body
from airlock.server.http import HttpServer, Listener
from tests.integration.test_http_server import (
    Client,
    echo_app,
    read_body,
    read_response,
    respond,
    run,
)


class Recorder:
    """An app that reads the whole body (noting a disconnect instead) and answers 201."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[str] = []
        self.bodies: list[int] = []
        self.disconnects = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append(scope["path"])
        if self.delay:
            await asyncio.sleep(self.delay)  # a busy app: reading pauses, the client waits
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects += 1
                return
            size += len(message["body"])
            if not message["more_body"]:
                break
        self.bodies.append(size)
        await respond(send, 201, b"%d" % size)


async def serve_with(
    app: Any, *, max_body_size: int | None = None, **options: Any
) -> tuple[HttpServer, Listener]:
    server = HttpServer(**options)
    listener = await server.add_listener(
        app, "127.0.0.1", 0, name="test", max_body_size=max_body_size, error_body=api_error_body
    )
    return server, listener


async def served_meanwhile(listener: Listener, stop: asyncio.Event) -> int:
    """Keep asking another connection for pages until ``stop``; returns how many were 200."""
    other = await Client.connect(listener)
    served = 0
    try:
        while not stop.is_set():
            response = await other.request("GET", "/other")
            assert response.status == 200
            served += 1
            await asyncio.sleep(0.02)
    finally:
        await other.close()
    return served


# -- request body deadlines ------------------------------------------------------------------


def test_trickled_body_is_cut_off_while_other_clients_are_served() -> None:
    window = 0.4

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/other":
            await respond(send, 200, b"ok")
        else:
            await recorder(scope, receive, send)

    recorder = Recorder()

    async def main() -> None:
        server, listener = await serve_with(
            app, min_body_rate=1024, body_rate_window=window, body_timeout=10.0
        )
        stop = asyncio.Event()
        meanwhile = asyncio.create_task(served_meanwhile(listener, stop))
        slow = await Client.connect(listener)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await slow.send(b"PUT /upload HTTP/1.1\r\nhost: t\r\ncontent-length: 100000\r\n\r\n")

        async def trickle() -> None:
            for _ in range(1000):  # 1 byte per 20 ms: 50 bytes/s, far under the floor
                slow.writer.write(b"x")
                await slow.writer.drain()
                await asyncio.sleep(0.02)

        trickler = asyncio.create_task(trickle())
        response = await asyncio.wait_for(read_response(slow.reader), 5)
        elapsed = loop.time() - started
        trickler.cancel()
        stop.set()
        served = await meanwhile
        assert response.status == 408
        error = json.loads(response.body)["error"]
        assert error["code"] == "RequestTimeout"
        assert "bytes/s" in error["message"] and "1024" in error["message"]
        assert response.headers["connection"] == "close"
        # Cut within the rate window, long before the 20 s trickle ends (generous upper
        # bound: CI machines are busy).
        assert window <= elapsed < window + 1.5
        assert await slow.at_eof()
        assert served >= 3  # the other connection was answered all along
        assert recorder.disconnects == 1 and recorder.bodies == []
        await slow.close()
        await server.shutdown()

    run(main())


def test_silent_body_is_cut_off_after_the_body_timeout() -> None:
    recorder = Recorder()

    async def main() -> None:
        # Rate floor off: only the "no byte at all" deadline applies.
        server, listener = await serve_with(recorder, min_body_rate=0, body_timeout=0.3)
        client = await Client.connect(listener)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.send(b"PUT /x HTTP/1.1\r\ncontent-length: 1000\r\n\r\n" + b"a" * 10)
        response = await asyncio.wait_for(read_response(client.reader), 5)
        elapsed = loop.time() - started
        assert response.status == 408
        assert "no request body byte for 0.3 s" in json.loads(response.body)["error"]["message"]
        assert 0.3 <= elapsed < 1.8
        assert await client.at_eof()
        await client.close()
        await server.shutdown()

    run(main())


def test_cut_off_after_the_response_started_only_closes() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"streaming", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    async def main() -> None:
        server, listener = await serve_with(app, min_body_rate=0, body_timeout=0.3)
        client = await Client.connect(listener)
        await client.send(b"PUT /x HTTP/1.1\r\ncontent-length: 1000\r\n\r\nab")
        head = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        rest = await asyncio.wait_for(client.reader.read(), 5)  # until the server hangs up
        assert b"408" not in rest  # no second status line inside a started response
        await client.close()
        await server.shutdown()

    run(main())


def test_healthy_upload_is_not_cut_even_when_the_server_holds_it_back() -> None:
    total = 48 * 1024 * 1024
    # The app sleeps longer than every deadline before reading, with a small buffer, so
    # reading pauses: that time is the server's, and must not count against the client.
    recorder = Recorder(delay=0.6)

    async def main() -> None:
        server, listener = await serve_with(
            recorder,
            min_body_rate=1024 * 1024,
            body_rate_window=0.1,
            body_timeout=0.2,
            max_body_buffer=256 * 1024,
        )
        client = await Client.connect(listener)
        await client.send(b"PUT /big HTTP/1.1\r\ncontent-length: %d\r\n\r\n" % total)
        block = bytes(1024 * 1024)
        for _ in range(total // len(block)):
            client.writer.write(block)
            await client.writer.drain()
        response = await asyncio.wait_for(read_response(client.reader), 30)
        assert response.status == 201
        assert recorder.bodies == [total]
        # "Expect: 100-continue": the client waits for our go-ahead, which comes only when
        # the app reads, 0.6 s later; that wait is not the client's slowness either.
        await client.send(
            b"PUT /expect HTTP/1.1\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 ")
        await client.send(b"hello")
        assert (await read_response(client.reader)).status == 201
        assert recorder.bodies == [total, 5]
        await client.close()
        await server.shutdown()

    run(main())


# -- request head and keep-alive deadlines ---------------------------------------------------


def test_slow_request_head_is_cut_off() -> None:
    async def main() -> None:
        server, listener = await serve_with(echo_app, header_timeout=0.3)
        loop = asyncio.get_running_loop()
        # The deadline runs from the accept: start the clock before connecting, so that
        # the elapsed time can only be longer than the server's.
        started = loop.time()
        client = await Client.connect(listener)
        await client.send(b"GET / HTTP/1.1\r\n")

        async def drip() -> None:
            for index in range(100):
                client.writer.write(b"x-%d: y\r\n" % index)  # never the blank line
                await client.writer.drain()
                await asyncio.sleep(0.05)

        dripper = asyncio.create_task(drip())
        response = await asyncio.wait_for(read_response(client.reader), 5)
        elapsed = loop.time() - started
        dripper.cancel()
        assert response.status == 408
        message = json.loads(response.body)["error"]["message"]
        assert message == "request head not complete within 0.3 s"
        # Cut at the deadline, long before the 5 s the drip would last (generous upper
        # bound: CI machines are busy).
        assert 0.3 <= elapsed < 2.0
        await client.close()

        started = loop.time()
        silent = await Client.connect(listener)  # connects and sends nothing at all
        assert await asyncio.wait_for(silent.reader.read(), 5) == b""  # closed, no response
        assert 0.3 <= loop.time() - started < 2.0
        await silent.close()
        await server.shutdown()

    run(main())


def test_idle_keep_alive_is_closed_but_a_slow_answer_is_not() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        await asyncio.sleep(0.5 if scope["path"] == "/slow" else 0)
        await respond(send, 200, b"done")

    async def main() -> None:
        server, listener = await serve_with(app, keepalive_timeout=0.25, header_timeout=30.0)
        client = await Client.connect(listener)
        # The app takes twice the keep-alive timeout: a connection waiting for its answer
        # is not idle.
        assert (await client.request("GET", "/slow")).body == b"done"
        assert (await client.request("GET", "/fast")).body == b"done"
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await client.at_eof()
        # The server's idle clock starts as the answer leaves, a moment before it arrives.
        assert 0.2 <= loop.time() - started < 1.5
        assert server.connections(listener) == [] or all(
            conn.transport.is_closing() for conn in server.connections(listener)
        )
        await client.close()
        await server.shutdown()

    run(main())


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_HEADER_TIMEOUT", "12.5")
    monkeypatch.setenv("AIRLOCK_MIN_BODY_RATE", "0")
    monkeypatch.setenv("AIRLOCK_KEEPALIVE_TIMEOUT", "7")
    config = HttpServer().config
    assert (config.header_timeout, config.min_body_rate, config.keepalive_timeout) == (
        12.5,
        0,
        7.0,
    )
    assert config.body_timeout == 30.0 and config.body_rate_window == 10.0  # defaults
    assert HttpServer(header_timeout=1.0).config.header_timeout == 1.0  # options win
    monkeypatch.setenv("AIRLOCK_BODY_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="AIRLOCK_BODY_TIMEOUT must be a number of seconds"):
        HttpServer()
    monkeypatch.setenv("AIRLOCK_BODY_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="greater than 0"):
        HttpServer()


# -- request body size -----------------------------------------------------------------------


def test_content_length_over_the_limit_gets_413_without_reading_the_body() -> None:
    recorder = Recorder()

    async def main() -> None:
        server, listener = await serve_with(recorder, max_body_size=1000)
        client = await Client.connect(listener)
        assert (await client.request("POST", "/fits", b"a" * 1000)).status == 201
        # Only the head goes out: a 413 that arrives proves the body was never waited for.
        await client.send(b"POST /big HTTP/1.1\r\nhost: t\r\ncontent-length: 5000000000\r\n\r\n")
        response = await asyncio.wait_for(read_response(client.reader), 5)
        assert response.status == 413
        error = json.loads(response.body)["error"]
        assert error["code"] == "PayloadTooLarge"
        assert "5000000000 bytes" in error["message"] and "1000 bytes" in error["message"]
        assert "AIRLOCK_API_MAX_BODY" in error["message"]
        assert response.headers["connection"] == "close"
        assert await client.at_eof()
        assert recorder.calls == ["/fits"]  # the app never saw the refused request
        await client.close()
        await server.shutdown()

    run(main())


def test_chunked_body_over_the_limit_gets_413() -> None:
    recorder = Recorder()

    async def main() -> None:
        server, listener = await serve_with(recorder, max_body_size=1000)
        client = await Client.connect(listener)
        chunks = b"".join(b"64\r\n" + b"c" * 100 + b"\r\n" for _ in range(10)) + b"0\r\n\r\n"
        await client.send(b"POST /fits HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n" + chunks)
        assert (await read_response(client.reader)).status == 201  # exactly the limit
        await client.send(b"POST /big HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(11):  # 1100 bytes: the eleventh chunk crosses the limit
            client.writer.write(b"64\r\n" + b"c" * 100 + b"\r\n")
        await client.writer.drain()
        response = await asyncio.wait_for(read_response(client.reader), 5)
        assert response.status == 413
        assert json.loads(response.body)["error"]["code"] == "PayloadTooLarge"
        assert await client.at_eof()
        assert recorder.bodies == [1000] and recorder.disconnects == 1
        await client.close()
        await server.shutdown()

    run(main())


def test_early_answer_reaches_a_client_that_sends_its_whole_body_first() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await respond(send, 401, b"sign in first")  # without reading the body

    async def main() -> None:
        server, listener = await serve_with(app)
        client = await Client.connect(listener)
        total = 4 * 1024 * 1024
        # Like http.client: the whole body goes out before the response is read. Closing at
        # once with that body unread would reset the connection under the client's writes.
        await client.send(b"PUT /x HTTP/1.1\r\ncontent-length: %d\r\n\r\n" % total)
        await asyncio.sleep(0.1)  # the answer is out before most of the body is sent
        block = bytes(256 * 1024)
        for _ in range(total // len(block)):
            client.writer.write(block)
            await client.writer.drain()
        response = await asyncio.wait_for(read_response(client.reader), 5)
        assert response.status == 401 and response.body == b"sign in first"
        assert response.headers["connection"] == "close"
        assert await client.at_eof()
        await client.close()
        await server.shutdown()

    run(main())


# -- accept() out of file descriptors --------------------------------------------------------

_EXHAUSTED_SERVER = textwrap.dedent(
    """
    import asyncio, json, logging, os, resource, sys
    from airlock.server.http import HttpServer

    async def app(scope, receive, send):
        raise AssertionError("no request is sent")

    async def main():
        server = HttpServer()
        listener = await server.add_listener(app, "127.0.0.1", 0)
        # No descriptor left: every accept() fails with EMFILE, retried once a second.
        in_use = len(os.listdir("/proc/self/fd")) - 1
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use, hard))
        print(listener.port, flush=True)
        await asyncio.sleep(float(sys.argv[1]))
        throttle = asyncio.get_running_loop().get_exception_handler()
        print(json.dumps({"suppressed": throttle.suppressed}), flush=True)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main())
    """
)


def test_accept_failures_for_lack_of_descriptors_are_logged_once() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXHAUSTED_SERVER, "3.6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    clients: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        # The kernel completes these handshakes; the server cannot accept them.
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
        out, err = proc.communicate(timeout=30)
    finally:
        for client in clients:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    logged = [line for line in err.splitlines() if "cannot accept connections" in line]
    assert len(logged) == 1, err
    assert "Too many open files" in logged[0] and "at most once per 60 s" in logged[0]
    assert "Traceback" not in err
    assert json.loads(out.splitlines()[-1])["suppressed"] >= 2  # asyncio kept retrying
