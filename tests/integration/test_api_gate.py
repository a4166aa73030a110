"""The REST API's gate (airlock.server.apigate) over real sockets on 127.0.0.1.

Everything checked here is refused before a route or sign-in runs, so these tests need no
credentials: the real REST app is served in-process by the real HTTP server, and one test
starts a real ``airlock server`` to check that it is wired the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airlock.server import apigate
from airlock.server.api import build_api
from airlock.server.apigate import ApiGate
from airlock.server.http import HttpServer
from airlock.server.listeners import RegistryListeners
from airlock.server.services import Services
from tests.integration.test_http_server import Response, read_response, run
from tests.support.servers import start_airlock

MIB = 1024 * 1024


async def call(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    host: str | None = "default",
    headers: dict[str, str] | None = None,
) -> Response:
    """One request on a fresh connection, with exactly the Host and headers given."""
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"host: {f'127.0.0.1:{port}' if host == 'default' else host}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return await asyncio.wait_for(read_response(reader, head=method == "HEAD"), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def error_of(response: Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/json"
    error: dict[str, str] = json.loads(response.body)["error"]
    assert set(error) == {"code", "message"}  # the shape of every REST API error
    return error


def no_cors(*responses: Response) -> None:
    for response in responses:
        assert not [name for name in response.headers if name.startswith("access-control-")]


@contextlib.asynccontextmanager
async def rest_api(home: Path) -> AsyncIterator[tuple[int, Services]]:
    """The real REST app behind the real HTTP server, wired as ``airlock server`` does."""
    services = Services.open(home)
    http = HttpServer()
    listeners = RegistryListeners(http, services)
    try:
        listener = await http.add_listener(
            build_api(services, listeners),
            "127.0.0.1",
            0,
            name="api",
            max_body_size=MIB,
            error_body=apigate.error_body,
        )
        yield listener.port, services
    finally:
        await http.shutdown(grace=2.0)
        services.close()


def test_foreign_hosts_are_refused_and_loopback_names_are_served(tmp_path: Path) -> None:
    async def main() -> None:
        async with rest_api(tmp_path / "home") as (port, _):
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}"):
                served = await call(port, "GET", "/api/health", host=host)
                assert served.status == 200, host
                no_cors(served)
            served = await call(port, "GET", "/api/health", host=f"[::1]:{port}")
            assert served.status == 200
            for host in (
                f"evil.example:{port}",
                "evil.example",
                "127.0.0.1",  # without the port: only right on port 80
                "localhost",
                "127.0.0.1:1",
                f"localhost.evil.example:{port}",
                f"127.0.0.1:{port}.evil.example",
            ):
                refused = await call(port, "GET", "/api/health", host=host)
                assert refused.status == 421, host
                error = error_of(refused)
                assert error["code"] == "InvalidHost"
                assert repr(host.lower()) in error["message"]
                assert "AIRLOCK_ALLOWED_HOSTS" in error["message"]
                no_cors(refused)
            missing = await call(port, "GET", "/api/health", host=None)
            assert missing.status == 400 and error_of(missing)["code"] == "InvalidHost"
            # A refused Host is refused before anything else, writes included.
            refused_write = await call(
                port,
                "POST",
                "/api/registries",
                b'{"name": "rebound"}',
                host="attacker.example",
                headers={"content-type": "application/json"},
            )
            assert refused_write.status == 421

    run(main())


def test_allowed_hosts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": True})

    app = Starlette(routes=[Route("/", hello)])
    monkeypatch.setenv("AIRLOCK_ALLOWED_HOSTS", " airlock.internal , Proxy.Example:8443,[fd00::1]")
    gate = ApiGate(app)
    port = 5080
    allowed = gate.allowed_hosts(port)
    for host in ("airlock.internal", "airlock.internal:5080", "proxy.example:8443", "[fd00::1]"):
        assert host in allowed
    for host in ("proxy.example", "proxy.example:5080", "airlock.internal:5081", "127.0.0.1"):
        assert host not in allowed
    assert "127.0.0.1" in gate.allowed_hosts(80) and "localhost" in gate.allowed_hosts(80)
    for bad in ("http://airlock.internal", "host:port", "a:1:2", "[::1", "host:70000"):
        monkeypatch.setenv("AIRLOCK_ALLOWED_HOSTS", f"ok.example,{bad}")
        with pytest.raises(ValueError, match="AIRLOCK_ALLOWED_HOSTS") as caught:
            ApiGate(app)
        assert repr(bad) in str(caught.value)


def test_writes_that_are_not_json_are_refused_and_change_nothing(tmp_path: Path) -> None:
    body = b'{"name": "csrfregistry"}'
    attempts: list[tuple[str, str, bytes, dict[str, str]]] = [
        # What a page on another site can send without a CORS preflight:
        ("POST", "/api/registries", body, {"content-type": "text/plain"}),
        ("POST", "/api/registries", body, {"content-type": "text/plain;charset=UTF-8"}),
        ("POST", "/api/registries", b"name=csrfregistry", {"content-type": _FORM}),
        ("POST", "/api/registries", b"--x\r\n\r\n--x--", {"content-type": _MULTIPART}),
        ("POST", "/api/registries", body, {}),  # no type at all
        ("POST", "/api/registries", b"", {}),  # bodiless: a form with no fields
        ("POST", "/api/registries", body, {"content-type": "application/jsonp"}),
        ("PUT", "/api/vaults/v/secrets/s", b'{"value": "x"}', {"content-type": "text/plain"}),
        ("PATCH", "/api/registries/r", b'{"adminUserEnabled": true}', {"content-type": _FORM}),
    ]

    async def main() -> None:
        async with rest_api(tmp_path / "home") as (port, services):
            responses = []
            for method, path, payload, headers in attempts:
                refused = await call(port, method, path, payload, headers=headers)
                assert refused.status == 415, (method, path, headers)
                error = error_of(refused)
                assert error["code"] == "UnsupportedMediaType"
                assert "Content-Type: application/json" in error["message"]
                responses.append(refused)
            no_cors(*responses)
            assert services.registries.all() == []  # none of them created anything
            # JSON, with parameters, passes the gate (whatever sign-in then says).
            passed = await call(
                port,
                "POST",
                "/api/registries",
                body,
                headers={"content-type": "Application/JSON; charset=utf-8"},
            )
            assert passed.status not in (415, 421), passed.body
            no_cors(passed)

    run(main())


_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data; boundary=x"


def test_options_is_405_and_no_response_carries_cors_headers(tmp_path: Path) -> None:
    async def main() -> None:
        async with rest_api(tmp_path / "home") as (port, _):
            preflight = await call(
                port,
                "OPTIONS",
                "/api/registries",
                headers={
                    "origin": "https://attacker.example",
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "content-type",
                },
            )
            assert preflight.status == 405
            assert error_of(preflight)["code"] == "MethodNotAllowed"
            assert "OPTIONS" not in preflight.headers["allow"]
            with_origin = await call(
                port, "GET", "/api/health", headers={"origin": "https://attacker.example"}
            )
            assert with_origin.status == 200
            no_cors(preflight, with_origin)

    run(main())


def test_cors_headers_from_a_route_are_dropped() -> None:
    async def generous(request: Request) -> JSONResponse:
        return JSONResponse({}, headers={"Access-Control-Allow-Origin": "*", "X-Kept": "1"})

    async def main() -> None:
        server = HttpServer()
        app = ApiGate(Starlette(routes=[Route("/", generous)]), allowed_hosts=[])
        listener = await server.add_listener(app, "127.0.0.1", 0)
        response = await call(listener.port, "GET", "/")
        assert response.status == 200 and response.headers["x-kept"] == "1"
        no_cors(response)
        await server.shutdown()

    run(main())


def test_api_body_over_the_limit_is_413_in_the_api_error_shape(tmp_path: Path) -> None:
    async def main() -> None:
        async with rest_api(tmp_path / "home") as (port, services):
            big = json.dumps({"name": "bigregistry", "pad": "x" * (2 * MIB)}).encode()
            refused = await call(
                port,
                "POST",
                "/api/registries",
                big,
                headers={"content-type": "application/json"},
            )
            assert refused.status == 413
            error = error_of(refused)
            assert error["code"] == "PayloadTooLarge"
            assert "AIRLOCK_API_MAX_BODY" in error["message"]
            assert services.registries.all() == []

    run(main())


def test_the_server_process_puts_the_gate_and_limit_on_its_api(tmp_path: Path) -> None:
    server = start_airlock(tmp_path / "home", extra_env={"AIRLOCK_API_MAX_BODY": "4096"})
    try:

        async def main() -> None:
            port = server.api_port
            json_type = {"content-type": "application/json"}
            foreign = await call(port, "GET", "/api/health", host="rebind.example")
            assert foreign.status == 421
            preflight = await call(port, "OPTIONS", "/api/registries")
            assert preflight.status == 405
            form_type = {"content-type": _FORM}
            form = await call(port, "POST", "/api/registries", b"name=x", headers=form_type)
            assert form.status == 415
            padded = b"{" + b" " * 5000 + b"}"
            big = await call(port, "POST", "/api/registries", padded, headers=json_type)
            assert big.status == 413 and error_of(big)["code"] == "PayloadTooLarge"
            health = await call(port, "GET", "/api/health", host=f"localhost:{port}")
            assert health.status == 200
            no_cors(foreign, preflight, form, big, health)

        run(main())
    finally:
        server.stop()
    assert "Traceback" not in server.log()
