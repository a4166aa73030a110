"""Commands against a fake REST server: request shapes, output and error lines.

The fake is a threaded ``http.server`` on 127.0.0.1 that records every request and answers
from a table, so these tests check what the CLI sends without a real Airlock server.
"""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airlock.cli.main import main

REGISTRY: dict[str, Any] = {
    "id": "/subscriptions/local/resourceGroups/demo/providers/Microsoft.ContainerRegistry"
    "/registries/myregistry",
    "name": "myregistry",
    "loginServer": "127.0.0.1:5001",
    "port": 5001,
    "resourceGroup": "demo",
    "location": "local",
    "sku": {"name": "Premium", "tier": "Premium"},
    "creationDate": "2026-11-22T07:00:00.000000+00:00",
    "provisioningState": "Succeeded",
    "adminUserEnabled": False,
    "type": "Airlock/registries",
}
NOT_FOUND = {
    "error": {
        "code": "RegistryNotFound",
        "message": "registry 'nothere1' not found; list registries with 'airlock acr list'",
    }
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeServer:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    routes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)

    def answer(self, method: str, path: str, status: int, body: Any = None) -> None:
        self.routes[(method, path)] = (status, body)


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep stderr for the CLI's own output under test

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            fake.requests.append(Request(self.command, url.path, parse_qs(url.query), body))
            status, answer = fake.routes.get((self.command, url.path), (404, NOT_FOUND))
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

    return Handler


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    server = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("AIRLOCK_URL", server.url)
    monkeypatch.delenv("AIRLOCK_OUTPUT", raising=False)
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_posts_only_the_given_fields(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("POST", "/api/registries", 201, REGISTRY)
    code, out, err = run(
        capsys, "acr", "create", "-g", "demo", "--name", "myregistry", "--sku", "premium"
    )
    assert (code, err) == (0, "")
    assert fake.requests == [
        Request(
            "POST",
            "/api/registries",
            {},
            {"name": "myregistry", "resourceGroup": "demo", "sku": "Premium"},
        )
    ]
    assert json.loads(out) == REGISTRY


def test_create_sends_port_and_location(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("POST", "/api/registries", 201, REGISTRY)
    run(capsys, "acr", "create", "-n", "myregistry", "-l", "local", "--port", "5001")
    assert fake.requests[0].body == {"name": "myregistry", "location": "local", "port": 5001}


def test_show_with_seed_query_prints_login_server(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("GET", "/api/registries/myregistry", 200, REGISTRY)
    code, out, _ = run(
        capsys, "acr", "show", "-n", "myregistry", "--query", "loginServer", "-o", "tsv"
    )
    assert (code, out) == (0, "127.0.0.1:5001\n")
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/registries/myregistry")]


def test_list_table(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer("GET", "/api/registries", 200, [REGISTRY])
    code, out, _ = run(capsys, "acr", "list", "-o", "table")
    assert code == 0
    assert out.splitlines()[0].startswith("NAME        RESOURCE GROUP    LOCATION")
    assert out.splitlines()[2].startswith("myregistry  demo")


def test_list_filters_by_resource_group_case_insensitively(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    other = dict(REGISTRY, name="otherregistry", resourceGroup="elsewhere")
    fake.answer("GET", "/api/registries", 200, [REGISTRY, other])
    _, out, _ = run(capsys, "acr", "list", "-g", "DEMO", "--query", "[].name", "-o", "tsv")
    assert out == "myregistry\n"


def test_output_format_from_environment(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.answer("GET", "/api/registries", 200, [REGISTRY])
    monkeypatch.setenv("AIRLOCK_OUTPUT", "tsv")
    _, out, _ = run(capsys, "acr", "list", "--query", "[].loginServer")
    assert out == "127.0.0.1:5001\n"


def test_bad_output_in_environment_warns_unless_only_errors(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.answer("GET", "/api/registries", 200, [])
    monkeypatch.setenv("AIRLOCK_OUTPUT", "xml")
    code, out, err = run(capsys, "acr", "list")
    assert (code, out) == (0, "[]\n")
    assert err.startswith("WARNING: ignoring AIRLOCK_OUTPUT='xml'")
    assert run(capsys, "acr", "list", "--only-show-errors")[2] == ""


def test_api_error_is_one_error_line_with_the_server_message(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "acr", "show", "-n", "nothere1")
    assert code == 3  # az's exit code for a missing resource
    assert out == ""
    assert err == "ERROR: registry 'nothere1' not found; list registries with 'airlock acr list'\n"


def test_conflict_exits_one(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    message = "registry 'myregistry' already exists; pick another name"
    fake.answer(
        "POST", "/api/registries", 409, {"error": {"code": "AlreadyExists", "message": message}}
    )
    code, _, err = run(capsys, "acr", "create", "-n", "myregistry")
    assert (code, err) == (1, f"ERROR: {message}\n")


def test_non_json_server_error_still_gives_one_line(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("GET", "/api/registries", 500, "boom\nat line 2")
    code, _, err = run(capsys, "acr", "list")
    assert code == 1
    assert err.startswith("ERROR: the Airlock server answered 500")
    assert err.count("\n") == 1


def test_server_unreachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRLOCK_URL", f"http://127.0.0.1:{port}")
    code, out, err = run(capsys, "acr", "list")
    assert (code, out) == (1, "")
    assert err == (
        f"ERROR: cannot reach the Airlock server at http://127.0.0.1:{port} (connection refused); "
        "start it with 'airlock server' or set AIRLOCK_URL\n"
    )


def test_default_url(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRLOCK_URL", raising=False)
    monkeypatch.setattr("airlock.cli.api.Client._send", _refuse)
    _, _, err = run(capsys, "acr", "list")
    assert "cannot reach the Airlock server at http://127.0.0.1:5080 (connection refused)" in err


def _refuse(self: Any, *args: Any) -> Any:
    raise self._unreachable("connection refused")


def test_debug_prints_requests_on_stderr(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("POST", "/api/registries", 201, REGISTRY)
    code, out, err = run(capsys, "acr", "create", "-n", "myregistry", "--debug", "-o", "none")
    assert (code, out) == (0, "")
    assert f"DEBUG: POST {fake.url}/api/registries" in err
    assert 'DEBUG: request body: {"name": "myregistry"}' in err
    assert "DEBUG: response: 201" in err


def test_delete_without_tty_or_yes_fails_without_a_request(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    code, _, err = run(capsys, "acr", "delete", "-n", "myregistry")
    assert code == 1
    assert err == "ERROR: unable to prompt for confirmation as no tty is available; use --yes\n"
    assert fake.requests == []


def test_delete_with_yes(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer("DELETE", "/api/registries/myregistry", 204)
    code, out, err = run(capsys, "acr", "delete", "-n", "myregistry", "--yes")
    assert (code, out, err) == (0, "", "")
    assert [(r.method, r.path) for r in fake.requests] == [("DELETE", "/api/registries/myregistry")]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False)])
def test_delete_asks_on_a_terminal(
    fake: FakeServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    deleted: bool,
) -> None:
    fake.answer("DELETE", "/api/registries/myregistry", 204)
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    code, _, err = run(capsys, "acr", "delete", "-n", "myregistry")
    assert "Are you sure you want to delete the registry 'myregistry'? (y/n): " in err
    assert (code == 0) is deleted
    assert bool(fake.requests) is deleted


def test_delete_checks_the_resource_group_first(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("GET", "/api/registries/myregistry", 200, REGISTRY)
    code, _, err = run(capsys, "acr", "delete", "-n", "myregistry", "-g", "wrong", "-y")
    assert code == 3
    assert err.startswith("ERROR: registry 'myregistry' not found in resource group 'wrong'")
    assert [r.method for r in fake.requests] == ["GET"]


def test_repository_list(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer(
        "GET", "/api/registries/myregistry/repositories", 200, ["base/node", "hello", "node"]
    )
    code, out, _ = run(
        capsys, "acr", "repository", "list", "-n", "myregistry", "--top", "2", "-o", "tsv"
    )
    assert (code, out) == (0, "base/node\nhello\n")


def test_show_tags_query_string(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer("GET", "/api/registries/myregistry/tags", 200, ["20", "18"])
    run(
        capsys,
        "acr", "repository", "show-tags", "-n", "myregistry", "--repository", "base/node",
        "--orderby", "time_desc", "--detail",
    )  # fmt: skip
    assert fake.requests[0].query == {
        "repository": ["base/node"],
        "detail": ["true"],
        "orderby": ["time_desc"],
    }


def test_show_tags_seed_table(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer("GET", "/api/registries/myregistry/tags", 200, ["18", "20"])
    _, out, _ = run(
        capsys,
        "acr",
        "repository",
        "show-tags",
        "-n",
        "myregistry",
        "--repository",
        "node",
        "-o",
        "table",
    )
    assert out == "Result\n--------\n18\n20\n"
    assert fake.requests[0].query == {"repository": ["node"], "detail": ["false"]}


def test_show_manifests_top(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    manifests = [
        {"digest": "sha256:1", "tags": ["20"], "timestamp": "2026-11-22T07:00:00Z"},
        {"digest": "sha256:2", "tags": [], "timestamp": "2026-11-22T06:00:00Z"},
    ]
    fake.answer("GET", "/api/registries/myregistry/manifests", 200, manifests)
    _, out, _ = run(
        capsys, "acr", "repository", "show-manifests", "-n", "myregistry", "--repository", "node",
        "--top", "1", "--query", "[].digest", "-o", "tsv",
    )  # fmt: skip
    assert out == "sha256:1\n"
    assert fake.requests[0].path == "/api/registries/myregistry/manifests"


def test_repository_delete_by_tag(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    deleted = {"manifestsDeleted": ["sha256:1"], "tagsDeleted": ["20", "latest"]}
    fake.answer("DELETE", "/api/registries/myregistry/images", 200, deleted)
    code, out, _ = run(
        capsys, "acr", "repository", "delete", "-n", "myregistry", "--image", "node:20", "-y"
    )
    assert code == 0
    assert json.loads(out) == deleted
    assert fake.requests[0].query == {"repository": ["node"], "reference": ["20"]}


def test_repository_delete_by_digest(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    fake.answer("DELETE", "/api/registries/myregistry/images", 200, {})
    digest = "sha256:" + "b" * 64
    run(
        capsys, "acr", "repository", "delete", "-n", "myregistry", "-t", f"base/node@{digest}", "-y"
    )
    assert fake.requests[0].query == {"repository": ["base/node"], "reference": [digest]}


def test_repository_delete_whole_repository(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.answer("DELETE", "/api/registries/myregistry/repositories", 200, {})
    run(capsys, "acr", "repository", "delete", "-n", "myregistry", "--repository", "node", "--yes")
    assert [(r.method, r.path, r.query) for r in fake.requests] == [
        ("DELETE", "/api/registries/myregistry/repositories", {"repository": ["node"]})
    ]


def test_repository_delete_without_yes_on_a_pipe_sends_nothing(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(
        capsys, "acr", "repository", "delete", "-n", "myregistry", "--repository", "n"
    )
    assert code == 1
    assert err.startswith("ERROR: unable to prompt for confirmation")
    assert fake.requests == []


def test_server_delegates_to_server_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A made-up home rather than tmp_path: the fake run never touches it.
    tmp_path = Path("/nonexistent/airlock-home")
    calls: list[tuple[int, Path]] = []

    def fake_run(port: int, home: Path) -> int:
        calls.append((port, home))
        return 7

    module = types.ModuleType("airlock.server.main")
    module.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airlock.server.main", module)
    monkeypatch.setenv("AIRLOCK_HOME", str(tmp_path))
    assert main(["server", "--port", "6000"]) == 7
    assert main(["server"]) == 7
    assert calls == [(6000, tmp_path), (5080, tmp_path)]
    assert capsys.readouterr().out == ""


def test_server_home_defaults_to_xdg_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.common.paths import default_home

    monkeypatch.delenv("AIRLOCK_HOME", raising=False)
    assert default_home() == Path.home() / ".local" / "share" / "airlock"
