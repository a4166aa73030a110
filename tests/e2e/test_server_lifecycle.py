"""`airlock server` as a process: clean stop on SIGTERM and SIGINT, state kept across
restarts, registries created at run time, and the CLI against it."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import Airlock, free_port, start_airlock

BLOB = b"lifecycle blob"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def _auth(server: Airlock, registry: str) -> RegistryTokenAuth:
    return RegistryTokenAuth(*server.admin_credentials(registry))


def _push_blob(url: str, auth: RegistryTokenAuth) -> None:
    with httpx.Client(base_url=url, timeout=30, auth=auth) as client:
        answer = client.post(f"/v2/keep/blobs/uploads/?digest={DIGEST}", content=BLOB)
        assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_state_survives(tmp_path: Path, sig: signal.Signals) -> None:
    server = start_airlock(tmp_path / "home")
    try:
        port = free_port()
        url = server.create_registry("keepregistry", port=port)
        auth = _auth(server, "keepregistry")
        _push_blob(url, auth)
        assert server.stop(sig) == 0
        assert "stopped" in server.log()
        server.restart()
        with httpx.Client(base_url=url, timeout=30, auth=auth) as client:
            answer = client.get(f"/v2/keep/blobs/{DIGEST}")
        assert answer.status_code == 200
        assert answer.content == BLOB
        shown = json.loads(server.cli("acr", "show", "--name", "keepregistry").stdout)
        assert shown["loginServer"] == f"127.0.0.1:{port}"
    finally:
        server.stop()


def test_registry_created_and_deleted_while_running(tmp_path: Path) -> None:
    server = start_airlock(tmp_path / "home")
    try:
        port = free_port()
        created = server.cli(
            "acr",
            "create",
            "--name",
            "liveregistry",
            "--port",
            str(port),
            "--query",
            "loginServer",
            "-o",
            "tsv",
        )
        assert created.stdout.strip() == f"127.0.0.1:{port}"
        auth = _auth(server, "liveregistry")
        assert httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=10, auth=auth).status_code == 200
        server.cli("acr", "delete", "--name", "liveregistry", "--yes")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=10)
        listed = json.loads(server.cli("acr", "list").stdout)
        assert listed == []
    finally:
        server.stop()


def test_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    server = start_airlock(tmp_path / "home")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        try:
            result = server.cli(
                "acr", "create", "--name", "busyregistry", "--port", str(taken), check=False
            )
            assert result.returncode != 0
            assert result.stderr.startswith("ERROR: ")
            assert str(taken) in result.stderr
            assert json.loads(server.cli("acr", "list").stdout) == []
        finally:
            server.stop()


def test_api_port_in_use_fails_at_start(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        with pytest.raises(RuntimeError, match="cannot listen"):
            start_airlock(tmp_path / "home", api_port=blocker.getsockname()[1])
