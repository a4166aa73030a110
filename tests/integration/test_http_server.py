"""airlock.server.http over real sockets on 127.0.0.1 (each test bounded by a timeout)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from airlock.server.http import HttpServer, Listener

Scope = dict[str, Any]
App = Callable[[Any, Any, Any], Awaitable[None]]
TIMEOUT = 10.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, TIMEOUT))


# -- a tiny raw HTTP client: tests must see the exact bytes on the wire ----------------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


async def read_response(reader: asyncio.StreamReader, *, head: bool = False) -> Response:
    raw = await reader.readuntil(b"\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 "), raw[:80]  # catches stray body bytes of an earlier reply
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if head or status in (100, 204, 304):
        body = b""
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        body = await read_chunked(reader)
    else:
        body = await reader.read()
    return Response(status, headers, body)


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        if size == 0:
            await reader.readexactly(2)
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, listener: Listener) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
        lines = [f"{method} {path} HTTP/1.1", "host: test", f"content-length: {len(body)}"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return await read_response(self.reader, head=method == "HEAD")

    async def at_eof(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 5) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def serve(app: App, **options: Any) -> tuple[HttpServer, Listener]:
    server = HttpServer(**options)
    return server, await server.add_listener(app, "127.0.0.1", 0, name="test")


# -- apps ------------------------------------------------------------------------------------


async def read_body(receive: Any) -> bytes:
    parts = []
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        parts.append(message["body"])
        if not message["more_body"]:
            return b"".join(parts)


async def respond(send: Any, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    all_headers = [(b"content-length", b"%d" % len(body)), *headers]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    body = await read_body(receive)
    info = {
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "client_port": scope["client"][1],
        "server": list(scope["server"]),
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    await respond(send, 200, json.dumps(info).encode(), (b"content-type", b"application/json"))


# -- tests -----------------------------------------------------------------------------------


def test_keep_alive_reuses_the_connection() -> None:
    async def main() -> None:
        server, listener = await serve(echo_app)
        client = await Client.connect(listener)
        first = json.loads((await client.request("GET", "/a%20b?x=1")).body)
        second = json.loads((await client.request("GET", "/c")).body)
        assert first["path"] == "/a b"
        assert first["raw_path"] == "/a%20b"
        assert first["query"] == "x=1"
        assert first["server"] == ["127.0.0.1", listener.port]
        assert first["client_port"] == second["client_port"]
        assert len(server.connections(listener)) == 1
        last = await client.request("GET", "/", connection="close")
        assert last.headers["connection"] == "close"
        assert await client.at_eof()
        await client.close()
        await server.shutdown()

    run(main())


def test_pipelined_requests_are_answered_in_order() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        number = int(scope["path"][1:])
        await asyncio.sleep((5 - number) * 0.01)  # the first request is the slowest
        await respond(send, 200, scope["path"].encode())

    async def main() -> None:
        server, listener = await serve(app)
        client = await Client.connect(listener)
        await client.send(b"".join(b"GET /%d HTTP/1.1\r\nhost: t\r\n\r\n" % i for i in range(5)))
        bodies = [(await read_response(client.reader)).body for _ in range(5)]
        assert bodies == [b"/0", b"/1", b"/2", b"/3", b"/4"]
        await client.close()
        await server.shutdown()

    run(main())


def test_content_length_and_chunked_request_bodies() -> None:
    payload = os.urandom(3 * 1024 * 1024 + 7)

    async def main() -> None:
        server, listener = await serve(echo_app)
        client = await Client.connect(listener)
        sized = json.loads((await client.request("PUT", "/sized", payload)).body)
        assert sized["length"] == len(payload)
        assert sized["sha256"] == hashlib.sha256(payload).hexdigest()
        chunks = [payload[i : i + 100_000] for i in range(0, len(payload), 100_000)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        await client.send(b"PUT /chunked HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n" + framed)
        chunked = json.loads((await read_response(client.reader)).body)
        assert chunked["length"] == len(payload)
        assert chunked["sha256"] == sized["sha256"]
        await client.close()
        await server.shutdown()

    run(main())


def test_expect_100_continue_is_sent_when_the_app_reads() -> None:
    async def main() -> None:
        server, listener = await serve(echo_app)
        client = await Client.connect(listener)
        await client.send(b"PUT /x HTTP/1.1\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        await client.send(b"hello")
        final = await read_response(client.reader)
        assert final.status == 200
        assert json.loads(final.body)["length"] == 5
        await client.close()
        await server.shutdown()

    run(main())


def test_response_without_length_is_chunked_and_head_has_no_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        if scope["path"] == "/head":
            await respond(send, 200, b"0123456789")
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"", b"two " * 50_000):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"end"})

    async def main() -> None:
        server, listener = await serve(app)
        client = await Client.connect(listener)
        streamed = await client.request("GET", "/stream")
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert streamed.body == b"one " + b"two " * 50_000 + b"end"
        assert streamed.headers["server"] == "airlock"
        assert "date" in streamed.headers
        head = await client.request("HEAD", "/head")
        assert head.headers["content-length"] == "10"
        # No stray body bytes: the next response on the connection parses cleanly.
        after = await client.request("GET", "/head")
        assert after.body == b"0123456789"
        await client.close()
        await server.shutdown()

    run(main())


def test_zerocopysend_with_offset_and_count_and_pathsend(tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    path = tmp_path / "blob"
    path.write_bytes(data)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        if scope["path"] == "/path":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.pathsend", "path": str(path)})
            return
        start, count = 1000, 4 * 1024 * 1024
        with path.open("rb") as file:
            headers = [(b"content-length", b"%d" % (count + 3))]
            await send({"type": "http.response.start", "status": 206, "headers": headers})
            message = {"type": "http.response.zerocopysend", "file": file}
            await send({**message, "offset": start, "count": count, "more_body": True})
            file.seek(0)  # no offset: the file's own position is where sending starts
            await send({**message, "count": 3, "more_body": False})

    async def main() -> None:
        server, listener = await serve(app)
        client = await Client.connect(listener)
        ranged = await client.request("GET", "/range")
        assert ranged.status == 206
        assert ranged.body == data[1000 : 1000 + 4 * 1024 * 1024] + data[:3]
        whole = await client.request("GET", "/path")
        assert whole.headers["transfer-encoding"] == "chunked"
        assert whole.body == data
        again = await client.request("GET", "/path")  # keep-alive survives sendfile
        assert again.body == data
        await client.close()
        await server.shutdown()

    run(main())


def test_slow_app_bounds_the_buffered_request_body() -> None:
    limit = 256 * 1024
    release = asyncio.Event()
    received: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        body = await read_body(receive)
        received.append(len(body))
        await respond(send, 201, b"")

    async def main() -> None:
        server, listener = await serve(app, max_body_buffer=limit)
        client = await Client.connect(listener)
        total = 64 * 1024 * 1024
        head = b"PUT /slow HTTP/1.1\r\ncontent-length: %d\r\n\r\n" % total
        client.writer.write(head)
        uploader = asyncio.create_task(_write_zeros(client.writer, total))
        conn = (await _wait_for_connections(server, listener))[0]
        for _ in range(200):
            if conn.reading_paused:
                break
            await asyncio.sleep(0.01)
        assert conn.reading_paused
        await asyncio.sleep(0.2)  # the client keeps pushing; the server must not read on
        # One socket read (256 KiB in asyncio) may land after the limit is crossed.
        assert conn.buffered_body_bytes <= limit + 256 * 1024
        assert not uploader.done()
        release.set()
        await uploader
        response = await read_response(client.reader)
        assert response.status == 201
        assert received == [total]
        await client.close()
        await server.shutdown()

    run(main())


def test_send_waits_for_a_slow_reader() -> None:
    chunk = 1024 * 1024
    sent: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        headers = [(b"content-length", b"%d" % (64 * chunk))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index in range(64):
            more = index < 63
            await send({"type": "http.response.body", "body": bytes(chunk), "more_body": more})
            sent.append(index)

    async def main() -> None:
        server, listener = await serve(app)
        client = await Client.connect(listener)
        await client.send(b"GET /big HTTP/1.1\r\n\r\n")
        conn = (await _wait_for_connections(server, listener))[0]
        await asyncio.sleep(0.3)  # the client reads nothing meanwhile
        assert len(sent) < 32  # kernel buffers hold a few MiB at most; send() must have waited
        assert conn.transport.get_write_buffer_size() <= 2 * chunk
        response = await read_response(client.reader)
        assert len(response.body) == 64 * chunk
        assert len(sent) == 64
        await client.close()
        await server.shutdown()

    run(main())


async def _write_zeros(writer: asyncio.StreamWriter, total: int) -> None:
    block = bytes(1024 * 1024)
    for _ in range(total // len(block)):
        writer.write(block)
        await writer.drain()


async def _wait_for_connections(server: HttpServer, listener: Listener) -> list[Any]:
    for _ in range(200):
        if server.connections(listener):
            return server.connections(listener)
        await asyncio.sleep(0.01)
    raise AssertionError("no connection appeared")


def test_client_disconnect_surfaces_as_http_disconnect() -> None:
    seen: asyncio.Future[list[str]] | None = None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert seen is not None
        kinds = [(await receive())["type"]]
        kinds.append((await receive())["type"])
        seen.set_result(kinds)

    async def main() -> None:
        nonlocal seen
        seen = asyncio.get_running_loop().create_future()
        server, listener = await serve(app)
        client = await Client.connect(listener)
        await client.send(b"PUT /x HTTP/1.1\r\ncontent-length: 1000\r\n\r\nabc")
        await asyncio.sleep(0.05)
        await client.close()
        assert await asyncio.wait_for(seen, 5) == ["http.request", "http.disconnect"]
        await server.shutdown()

    run(main())


def test_malformed_request_gets_400_and_close() -> None:
    async def main() -> None:
        server, listener = await serve(echo_app)
        client = await Client.connect(listener)
        await client.send(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
        response = await read_response(client.reader)
        assert response.status == 400
        assert response.headers["connection"] == "close"
        assert await client.at_eof()
        await client.close()
        await server.shutdown()

    run(main())


def test_oversized_headers_get_431() -> None:
    async def main() -> None:
        server, listener = await serve(echo_app, max_header_bytes=8 * 1024)
        for big in (b"x-big: " + b"a" * 20_000 + b"\r\n", b"x-many: a\r\n" * 2000):
            client = await Client.connect(listener)
            await client.send(b"GET / HTTP/1.1\r\n" + big + b"\r\n")
            assert (await read_response(client.reader)).status == 431
            assert await client.at_eof()
            await client.close()
        await server.shutdown()

    run(main())


def test_app_exception_gives_500_json_and_logs_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("kaboom")

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def main() -> None:
        server = HttpServer()
        for app in (failing, silent):
            listener = await server.add_listener(app)
            client = await Client.connect(listener)
            response = await client.request("GET", "/")
            assert response.status == 500
            assert json.loads(response.body) == {
                "errors": [{"code": "UNKNOWN", "message": "internal server error"}]
            }
            await client.close()
        await server.shutdown()

    with caplog.at_level(logging.ERROR, logger="airlock.http"):
        run(main())
    failures = [r for r in caplog.records if r.exc_info and "kaboom" in str(r.exc_info[1])]
    assert failures, caplog.text
    assert any("without a response" in r.getMessage() for r in caplog.records)


def test_app_failure_after_start_closes_the_connection() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("late failure")

    async def main() -> None:
        server, listener = await serve(app)
        client = await Client.connect(listener)
        await client.send(b"GET / HTTP/1.1\r\n\r\n")
        data = await asyncio.wait_for(client.reader.read(), 5)
        assert b"partial" in data
        assert not data.endswith(b"0\r\n\r\n")  # no last chunk: the client sees a broken body
        await client.close()
        await server.shutdown()

    logging.getLogger("airlock.http").disabled = True
    try:
        run(main())
    finally:
        logging.getLogger("airlock.http").disabled = False


def test_remove_listener_stops_accepting_but_finishes_in_flight() -> None:
    async def main() -> None:
        entered = asyncio.Event()
        release = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await read_body(receive)
            entered.set()
            await release.wait()
            await respond(send, 200, b"done")

        server, listener = await serve(app)
        busy = await Client.connect(listener)
        idle = await Client.connect(listener)
        await busy.send(b"GET /slow HTTP/1.1\r\n\r\n")
        await entered.wait()
        removal = asyncio.create_task(server.remove_listener(listener, grace=5.0))
        await asyncio.sleep(0.1)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", listener.port)
        assert await idle.at_eof()  # idle connections are closed at once
        assert not removal.done()
        release.set()
        response = await read_response(busy.reader)
        assert response.body == b"done"
        assert response.headers["connection"] == "close"
        await asyncio.wait_for(removal, 5)
        assert server.listeners == []
        await busy.close()
        await idle.close()

    run(main())


def test_remove_listener_aborts_after_grace() -> None:
    async def stuck(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(60)

    async def main() -> None:
        server, listener = await serve(stuck)
        client = await Client.connect(listener)
        await client.send(b"GET / HTTP/1.1\r\n\r\n")
        await _wait_for_connections(server, listener)
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.remove_listener(listener, grace=0.2)
        assert loop.time() - started < 2.0
        assert await client.at_eof()
        await client.close()

    run(main())


def test_two_listeners_answer_with_their_own_apps() -> None:
    def named(text: bytes) -> App:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await read_body(receive)
            await respond(send, 200, text)

        return app

    async def main() -> None:
        server = HttpServer()
        first = await server.add_listener(named(b"one"), name="one")
        second = await server.add_listener(named(b"two"), name="two")
        assert first.port != second.port
        assert [item.name for item in server.listeners] == ["one", "two"]
        for listener, expected in ((first, b"one"), (second, b"two")):
            client = await Client.connect(listener)
            assert (await client.request("GET", "/")).body == expected
            await client.close()
        await server.shutdown()

    run(main())


def test_add_listener_on_a_busy_port_raises() -> None:
    async def main() -> None:
        server, listener = await serve(echo_app)
        with pytest.raises(OSError, match=f"127.0.0.1:{listener.port}"):
            await server.add_listener(echo_app, "127.0.0.1", listener.port)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
                await server.add_listener(echo_app, "127.0.0.1", port)
        await server.shutdown()

    run(main())


def test_idle_keep_alive_connection_times_out() -> None:
    async def main() -> None:
        server, listener = await serve(echo_app, keepalive_timeout=0.2)
        client = await Client.connect(listener)
        assert (await client.request("GET", "/")).status == 200
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await client.at_eof()
        assert 0.1 < loop.time() - started < 2.0
        await client.close()
        await server.shutdown()

    run(main())


def test_http10_without_length_is_close_delimited() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        if scope["path"] == "/sized":
            await respond(send, 200, b"sized")
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"old client"})

    async def main() -> None:
        server, listener = await serve(app)
        client = await Client.connect(listener)
        for _ in range(2):  # HTTP/1.0 keeps the connection only when asked, and a length is known
            await client.send(b"GET /sized HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
            kept = await read_response(client.reader)
            assert kept.headers["connection"] == "keep-alive"
            assert kept.body == b"sized"
        await client.send(b"GET / HTTP/1.0\r\n\r\n")
        response = await read_response(client.reader)
        assert "transfer-encoding" not in response.headers
        assert response.body == b"old client"  # read to EOF: the close ends the body
        await client.close()
        await server.shutdown()

    run(main())


def test_access_log_line_hides_query_values(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        server, listener = await serve(echo_app)
        client = await Client.connect(listener)
        await client.request("PUT", "/v2/x/blobs/uploads/abc?digest=sha256:1&_state=secret", b"x")
        await client.close()
        await server.shutdown()
        port = listener.port
        lines = [r.getMessage() for r in caplog.records if r.name == "airlock.http.access"]
        assert len(lines) == 1
        assert lines[0].startswith(
            f'127.0.0.1:{port} "PUT /v2/x/blobs/uploads/abc?digest&_state HTTP/1.1" 200 '
        )
        assert "secret" not in lines[0]
        assert lines[0].endswith("ms")

    with caplog.at_level(logging.INFO, logger="airlock.http.access"):
        run(main())
