"""The SSRF guard also holds where a source sends the client next.

A registry that is allowed may still point its token realm (or a blob redirect) at an
internal address; the import must refuse to connect there, and nothing may reach it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.servers import free_port, start_airlock


class _Counting(ThreadingHTTPServer):
    hits: int = 0


def _serve(handler: type[BaseHTTPRequestHandler]) -> _Counting:
    server = _Counting(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Trap(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, _Counting)
        self.server.hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trap() -> Iterator[_Counting]:
    server = _serve(_Trap)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_token_realm_on_an_unlisted_internal_port_is_refused(
    tmp_path: Path, trap: _Counting
) -> None:
    realm = f"http://127.0.0.1:{trap.server_address[1]}/token"

    class Source(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="source"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:
            self.do_GET()

        def log_message(self, *args: object) -> None:
            pass

    source = _serve(Source)
    host = f"127.0.0.1:{source.server_address[1]}"
    airlock = start_airlock(
        tmp_path / "home", extra_env={"AIRLOCK_IMPORT_ALLOWED_REGISTRIES": host}
    )
    try:
        airlock.create_registry("redirecttarget", port=free_port())
        done = airlock.cli(
            "acr", "import", "--name", "redirecttarget", "--source", f"{host}/app:v1",
            check=False,
        )  # fmt: skip
        assert done.returncode != 0
        assert "refused" in done.stderr
        assert f"127.0.0.1:{trap.server_address[1]}" in done.stderr
        assert trap.hits == 0
    finally:
        airlock.stop()
        source.shutdown()
        source.server_close()
