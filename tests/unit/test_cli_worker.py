"""``airlock worker`` and ``account get-access-token``: options, and the worker API client
(``RemoteHost``) against an in-memory transport."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.cli.errors import CLIError
from airlock.cli.main import build_parser
from airlock.cli.options import Context
from airlock.cli.worker import _argv
from airlock.runner.executor import RunResult, StepReport
from airlock.runner.plan import RunPlan
from airlock.runner.remote import (
    RemoteHost,
    ServicePrincipal,
    WorkerRefusedError,
    _check,
    parse_args,
)

RUN = "6f1c2e9a-0d4b-4c51-9a53-2f5e8d1b7c00"
PLAN = RunPlan(
    run=RUN,
    run_id="ca7",
    registry="127.0.0.1:5001",
    registry_name="myregistry",
    kind="cmd",
    definition="steps: []",
    source="acb.yaml",
    context="/dev/null",
    created_at="2026-11-30T12:00:00+00:00",
)


class Server:
    """Answers as the worker API would, and keeps what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.url.path, json.loads(request.content)))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def host(server: Server) -> RemoteHost:
    return RemoteHost(
        "http://127.0.0.1:5080",
        "als_x",
        retry_pause=0,
        retry_for=5,
        transport=httpx.MockTransport(server),
    )


def test_the_cli_passes_only_the_options_given_to_the_worker() -> None:
    args = build_parser().parse_args(["worker", "--server", "http://h:1", "--concurrency", "3"])
    argv = _argv(args)
    assert argv == ["--concurrency", "3", "--server", "http://h:1"]
    parsed = parse_args([*argv, "--token", "als_t"])
    assert (parsed.server, parsed.token, parsed.concurrency) == ("http://h:1", "als_t", 3)
    assert parsed.name  # <hostname>-<pid>


def test_the_worker_reads_its_server_and_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRLOCK_URL", "http://127.0.0.1:6000")
    monkeypatch.setenv("AIRLOCK_WORKER_TOKEN", "als_env")
    parsed = parse_args([])
    assert (parsed.server, parsed.token) == ("http://127.0.0.1:6000", "als_env")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"server": None}, "give --server"),
        ({"server": "127.0.0.1:5080"}, "http:// or https://"),
        ({"token": None}, "--service-principal APPID"),
        ({"service_principal": "app-1"}, "not both"),
        ({"service_principal": "app-1", "token": None}, "AIRLOCK_WORKER_SECRET"),
        ({"concurrency": 0}, "--concurrency"),
        ({"name": "a/b"}, "--name"),
        ({"name": "x" * 61}, "--name"),
    ],
)
def test_bad_options_are_refused_with_what_to_give(
    options: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRLOCK_WORKER_SECRET", raising=False)
    values = {"server": "http://h:1", "token": "als_t", "concurrency": 1, "name": "ok-1",
              "service_principal": None}  # fmt: skip
    problem = _check(argparse.Namespace(**{**values, **options}))
    assert problem is not None and message in problem


def test_a_claim_gets_the_plan_and_the_heartbeat_interval() -> None:
    server = Server(httpx.Response(200, json={"plan": PLAN.to_json(), "heartbeatSeconds": 0.5}))
    remote = host(server)
    assert remote.claim("w-0", 5) == PLAN
    assert remote.heartbeat_interval == 0.5
    assert server.sent == [("/api/workers/claim", {"worker": "w-0", "wait": 5})]


def test_an_empty_queue_is_none() -> None:
    assert host(Server(httpx.Response(204))).claim("w-0", 1) is None


def test_reports_name_the_run_and_the_worker() -> None:
    server = Server(httpx.Response(200, json={"accepted": True, "continue": True}))
    remote = host(server)
    assert remote.heartbeat(RUN, "w-0")
    report = StepReport("acb_step_0", "Succeeded", 0, images=(("r:1", "sha256:ab"),))
    assert remote.record_step(RUN, "w-0", report)
    assert remote.finish(RUN, "w-0", RunResult("Failed", "no"))
    paths = [path.rsplit("/", 1)[-1] for path, _ in server.sent]
    assert paths == ["heartbeat", "steps", "finish"]
    step = server.sent[1][1]
    assert step["worker"] == "w-0" and step["step_id"] == "acb_step_0"
    assert step["images"] == [["r:1", "sha256:ab"]]
    assert server.sent[2][1] == {
        "worker": "w-0",
        "status": "Failed",
        "error": "no",
        "dependencies": [],
    }


def test_log_lines_go_in_calls_of_at_most_1000() -> None:
    server = Server(httpx.Response(200, json={"accepted": True}))
    lines = [(f"t{n}", f"line {n}") for n in range(2500)]
    assert host(server).append_log(RUN, "w-0", lines)
    sizes = [len(body["lines"]) for _, body in server.sent]
    assert sizes == [1000, 1000, 500]
    assert server.sent[0][1]["lines"][0] == {"time": "t0", "text": "line 0"}


def test_a_server_that_cannot_be_reached_is_tried_again() -> None:
    server = Server(
        httpx.ConnectError("refused"),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"accepted": True}),
    )
    assert host(server).finish(RUN, "w-0", RunResult("Succeeded"))
    assert len(server.sent) == 3


def test_a_refused_token_stops_the_worker_with_what_to_do() -> None:
    error = {"error": {"code": "SessionExpired", "message": "the session is unknown"}}
    remote = host(Server(httpx.Response(401, json=error)))
    with pytest.raises(WorkerRefusedError, match="start the worker with --service-principal"):
        remote.claim("w-0", 1)
    assert remote.refused.is_set()
    assert "AIRLOCK_WORKER_SECRET" in remote.refusal


class SigningServer:
    """The worker API with sessions: /api/login hands out als_1, als_2, ...; a call with a
    session in ``expired`` gets a 401."""

    def __init__(self, secret: str = "s3cret") -> None:
        self.secret = secret
        self.sessions = 0
        self.expired: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # (path, bearer)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append((request.url.path, bearer))
        if request.url.path == "/api/login":
            if body != {"appId": "app-1", "secret": self.secret}:
                return httpx.Response(401, json={"error": {"message": "sign-in refused."}})
            self.sessions += 1
            return httpx.Response(200, json={"accessToken": f"als_{self.sessions}"})
        if not bearer or bearer in self.expired:
            return httpx.Response(401, json={"error": {"message": "the session expired"}})
        return httpx.Response(204)


def principal_host(server: SigningServer, secret: str = "s3cret") -> RemoteHost:
    return RemoteHost(
        "http://127.0.0.1:5080",
        principal=ServicePrincipal("app-1", secret),
        retry_pause=0,
        retry_for=5,
        transport=httpx.MockTransport(server),
    )


def test_a_service_principal_signs_in_and_again_when_its_session_ends() -> None:
    server = SigningServer()
    remote = principal_host(server)
    assert remote.claim("w-0", 1) is None
    assert remote.claim("w-0", 1) is None
    assert server.calls == [("/api/login", ""), ("/api/workers/claim", "als_1"),
                            ("/api/workers/claim", "als_1")]  # fmt: skip

    server.expired.add("als_1")
    assert remote.claim("w-0", 1) is None  # 401, sign in again, the same call again
    # Signing in presents no session (the stale one is not sent along).
    assert server.calls[-3:] == [("/api/workers/claim", "als_1"), ("/api/login", ""),
                                 ("/api/workers/claim", "als_2")]  # fmt: skip
    assert remote.sign_ins == 2 and not remote.refused.is_set()
    assert "s3cret" not in repr(ServicePrincipal("app-1", "s3cret"))


def test_a_wrong_secret_stops_the_worker_naming_the_principal() -> None:
    remote = principal_host(SigningServer(), secret="wrong")
    with pytest.raises(WorkerRefusedError, match="service principal app-1"):
        remote.claim("w-0", 1)
    assert remote.refused.is_set() and "AIRLOCK_WORKER_SECRET" in remote.refusal
    assert "wrong" not in remote.refusal


def _context() -> Context:
    return Context(stderr=io.StringIO())


def test_get_access_token_prints_the_stored_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airlock.cli.account import get_access_token

    monkeypatch.setenv("AIRLOCK_URL", "http://127.0.0.1:5080")
    monkeypatch.setenv("AIRLOCK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("AIRLOCK_HOME", str(tmp_path / "home"))
    with pytest.raises(CLIError, match="airlock login"):
        get_access_token(argparse.Namespace(), _context())

    from airlock.cli.signin import store_session

    session = {"accessToken": "als_sp", "expiresOn": "2026-12-01T00:00:00+00:00"}
    store_session("http://127.0.0.1:5080", session)
    assert get_access_token(argparse.Namespace(), _context()) == {
        "accessToken": "als_sp",
        "expiresOn": "2026-12-01T00:00:00+00:00",
        "tokenType": "Bearer",
    }
