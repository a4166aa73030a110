"""Runs from the CLI against a fake client: ``acr task run|list-runs|logs|show-run|cancel-run``
and ``acr run|build``; what they send, how logs are followed, the run table and exit status."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from airlock.cli import main as main_module
from airlock.cli import quick_run, runs
from airlock.cli.main import main
from airlock.cli.options import Context

R = "/api/registries/myregistry"


class Seq:
    """Answers given in turn, one per request (the last one repeats)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def next(self) -> Any:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeClient:
    """Records (method, path, query, body) and answers from a table keyed by method and path."""

    def __init__(self, answers: dict[tuple[str, str], Any] | None = None) -> None:
        self.answers = answers or {}
        self.requests: list[tuple[str, str, dict[str, Any] | None, Any]] = []

    def request(self, method: str, path: str, query: Any = None, body: Any = None) -> Any:
        query = None if query is None else {k: v for k, v in query.items() if v is not None}
        self.requests.append((method, path, query or None, body))
        answer = self.answers.get((method, path))
        if isinstance(answer, Seq):
            answer = answer.next()
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer()
        return answer

    def get(self, path: str, query: Any = None) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def delete(self, path: str, query: Any = None) -> Any:
        return self.request("DELETE", path, query=query)

    def sent(self, method: str) -> list[tuple[str, str, dict[str, Any] | None, Any]]:
        return [r for r in self.requests if r[0] == method]


def _with_quick_runs() -> argparse.ArgumentParser:
    """The CLI's parser with ``acr run|build`` in it, whether cli/acr.py registers them yet
    or not (they wait for docs/cli.md's generator to render positional arguments)."""
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    (acr,) = (
        a for a in commands.choices["acr"]._actions if isinstance(a, argparse._SubParsersAction)
    )
    if "run" not in acr.choices:
        quick_run.register(acr)
    return parser


build_parser = main_module.build_parser


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr(main_module, "build_parser", _with_quick_runs)
    monkeypatch.setattr(Context, "client", property(lambda self: fake))
    monkeypatch.setattr(runs, "EMPTY_PAUSE_SECONDS", 0)
    monkeypatch.delenv("AIRLOCK_OUTPUT", raising=False)
    return fake


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def a_run(status: str = "Queued", **fields: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "name": "ca3",
        "runId": "ca3",
        "status": status,
        "task": "hello-world",
        "runType": "AutoRun",
        "trigger": "Manual",
        "platform": {"os": "linux", "architecture": "amd64"},
        "startTime": None,
        "finishTime": None,
        "runErrorMessage": None,
    }
    run.update(fields)
    return run


def page(*texts: str, after: int = 0, final: bool = False, status: str = "Running") -> Any:
    lines = [
        {"seq": after + i + 1, "time": "2026-11-30T11:00:00+00:00", "text": text}
        for i, text in enumerate(texts)
    ]
    return {"lines": lines, "next": after + len(texts), "status": status, "final": final}


LOGS = f"{R}/runs/ca3/logs"


def follow_to(client: FakeClient, final: dict[str, Any]) -> None:
    """The run writes two pages of logs, then ends as ``final``."""
    client.answers[("GET", LOGS)] = Seq(
        page("step 1", "step 2"),
        page(after=2),  # the wait ran out with nothing new
        page("Run ID: ca3 was successful after 2s", after=2),
        page(after=3, final=True, status=final["status"]),
    )
    client.answers[("GET", f"{R}/runs/ca3")] = final


# --- acr task run -------------------------------------------------------------------------


def test_task_run_posts_values_follows_the_logs_and_prints_the_run(
    client: FakeClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("a: from-file\nb: kept\n")
    client.answers[("POST", f"{R}/tasks/hello-world/runs")] = a_run()
    done = a_run("Succeeded", startTime="2026-11-30T11:00:00+00:00")
    follow_to(client, done)
    code, out, err = cli(
        capsys, "acr", "task", "run", "-n", "hello-world", "-r", "myregistry",
        "--set", "a=1", "--values", str(values),
    )  # fmt: skip
    assert code == 0
    assert client.requests[0] == (
        "POST", f"{R}/tasks/hello-world/runs", None, {"values": {"a": "1", "b": "kept"}}
    )  # fmt: skip
    assert [q for _, p, q, _ in client.sent("GET") if p == LOGS] == [
        {"after": 0, "wait": 20},
        {"after": 2, "wait": 20},
        {"after": 2, "wait": 20},
        {"after": 3, "wait": 20},
    ]
    text, sep, rest = out.partition("{")
    assert text == "step 1\nstep 2\nRun ID: ca3 was successful after 2s\n"
    assert json.loads(sep + rest) == done
    assert "Queued a run with ID: ca3" in err and "ERROR" not in err


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (
            "Failed",
            "failed to run step ID: validate-base-image: exit status 1",
            "ERROR: run ca3 ended Failed: failed to run step ID: validate-base-image: "
            "exit status 1\n",
        ),
        ("Canceled", None, "ERROR: run ca3 ended Canceled\n"),
        ("Timeout", "the run timed out after 60s", "ERROR: run ca3 ended Timeout: the run "
         "timed out after 60s\n"),
        ("Error", None, "ERROR: run ca3 ended Error\n"),
    ],
)  # fmt: skip
def test_a_run_that_does_not_succeed_exits_1_after_printing_the_run(
    client: FakeClient,
    capsys: pytest.CaptureFixture[str],
    status: str,
    message: str | None,
    expected: str,
) -> None:
    client.answers[("POST", f"{R}/tasks/gate/runs")] = a_run()
    ended = a_run(status, runErrorMessage=message)
    follow_to(client, ended)
    code, out, err = cli(capsys, "acr", "task", "run", "-n", "gate", "-r", "myregistry")
    assert code == 1
    assert json.loads(out[out.index("{") :]) == ended
    assert err.endswith(expected)


def test_no_wait_prints_the_queued_run_and_returns(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("POST", f"{R}/tasks/t1/runs")] = a_run()
    code, out, _ = cli(capsys, "acr", "task", "run", "-n", "t1", "-r", "myregistry", "--no-wait")
    assert (code, json.loads(out)) == (0, a_run())
    assert [r[0] for r in client.requests] == ["POST"]


def test_no_logs_waits_for_the_end_without_printing_lines(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("POST", f"{R}/tasks/t1/runs")] = a_run()
    follow_to(client, a_run("Succeeded"))
    code, out, _ = cli(capsys, "acr", "task", "run", "-n", "t1", "-r", "myregistry", "--no-logs")
    assert code == 0
    assert json.loads(out) == a_run("Succeeded")  # nothing but the run
    assert client.requests[-1][:2] == ("GET", f"{R}/runs/ca3")


def test_run_table_output(client: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.answers[("POST", f"{R}/tasks/t1/runs")] = a_run()
    code, out, _ = cli(
        capsys, "acr", "task", "run", "-n", "t1", "-r", "myregistry", "--no-wait", "-o", "table"
    )
    assert code == 0
    assert out.splitlines()[0].split() == [
        "RUN", "ID", "TASK", "PLATFORM", "STATUS", "TRIGGER", "STARTED", "DURATION"
    ]  # fmt: skip


def test_only_show_errors_keeps_stderr_quiet_but_for_the_error(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("POST", f"{R}/tasks/t1/runs")] = a_run()
    follow_to(client, a_run("Failed", runErrorMessage="boom"))
    code, _, err = cli(
        capsys, "acr", "task", "run", "-n", "t1", "-r", "myregistry", "--only-show-errors"
    )
    assert (code, err) == (1, "ERROR: run ca3 ended Failed: boom\n")


# --- list-runs and the run table ----------------------------------------------------------

RUNS = [
    a_run("Succeeded", runId="ca4", task="hub-node", trigger="Commit",
          startTime="2020-10-24T05:02:29.123456+00:00",
          finishTime="2020-10-24T05:02:51.999+00:00"),
    a_run("Running", runId="ca5", task=None, runType="QuickRun",
          startTime="2020-10-24T07:02:29+02:00"),
    a_run("Queued", runId="ca6", trigger="Image Update"),
]  # fmt: skip


TABLE = """\
RUN ID    TASK         PLATFORM    STATUS     TRIGGER       STARTED               DURATION
--------  -----------  ----------  ---------  ------------  --------------------  ----------
ca4       hub-node     linux       Succeeded  Commit        2020-10-24T05:02:29Z  00:00:22
ca5                    linux       Running    Manual        2020-10-24T05:02:29Z
ca6       hello-world  linux       Queued     Image Update
"""


def test_list_runs_sends_the_filters(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", f"{R}/runs")] = []
    code, _, _ = cli(
        capsys, "acr", "task", "list-runs", "-r", "myregistry", "-n", "hub-node",
        "--run-status", "succeeded", "--top", "5",
    )  # fmt: skip
    assert code == 0
    assert client.requests == [
        ("GET", f"{R}/runs", {"task": "hub-node", "status": "Succeeded", "top": 5}, None)
    ]
    cli(capsys, "acr", "task", "list-runs", "-r", "myregistry")
    assert client.requests[-1] == ("GET", f"{R}/runs", None, None)


def test_list_runs_refuses_an_unknown_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["acr", "task", "list-runs", "-r", "myregistry", "--run-status", "Done"])
    assert "invalid run status 'Done'" in capsys.readouterr().err


def test_list_runs_table_is_the_seeds(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", f"{R}/runs")] = RUNS
    code, out, _ = cli(capsys, "acr", "task", "list-runs", "-r", "myregistry", "-o", "table")
    assert code == 0
    assert out == TABLE


def test_one_run_reads_as_in_the_seed(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", f"{R}/runs")] = RUNS[:1]
    _, out, _ = cli(capsys, "acr", "task", "list-runs", "-r", "myregistry", "-o", "table")
    # reference/seeds/000: the table of 'az acr task list-runs' after a commit.
    assert out == (
        "RUN ID    TASK      PLATFORM    STATUS     TRIGGER    STARTED               DURATION\n"
        "--------  --------  ----------  ---------  ---------  --------------------  ----------\n"
        "ca4       hub-node  linux       Succeeded  Commit     2020-10-24T05:02:29Z  00:00:22\n"
    )


def test_run_table_columns() -> None:
    (row,) = runs.run_table(RUNS[0])
    assert list(row) == [
        "RUN ID", "TASK", "PLATFORM", "STATUS", "TRIGGER", "STARTED", "DURATION"
    ]  # fmt: skip
    assert row == {
        "RUN ID": "ca4",
        "TASK": "hub-node",
        "PLATFORM": "linux",
        "STATUS": "Succeeded",
        "TRIGGER": "Commit",
        "STARTED": "2020-10-24T05:02:29Z",
        "DURATION": "00:00:22",
    }


@pytest.mark.parametrize(
    ("start", "finish", "expected"),
    [
        ("2020-10-24T05:02:29+00:00", "2020-10-24T05:02:51+00:00", "00:00:22"),
        ("2020-10-24T05:02:29.9+00:00", "2020-10-24T05:02:30.1+00:00", "00:00:00"),
        ("2020-10-24T05:00:00Z", "2020-10-25T06:01:02Z", "25:01:02"),
        ("2020-10-24T07:00:00+02:00", "2020-10-24T05:00:09+00:00", "00:00:09"),
        ("2020-10-24T05:00:00", "2020-10-24T05:10:00", "00:10:00"),
        ("2020-10-24T05:00:00+00:00", None, " "),
        (None, None, " "),
        ("2020-10-24T05:00:10+00:00", "2020-10-24T05:00:00+00:00", " "),
        ("yesterday", "today", " "),
    ],
)
def test_duration(start: str | None, finish: str | None, expected: str) -> None:
    assert runs.format_duration(start, finish) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T11:00:00.123456+00:00", "2026-11-30T11:00:00Z"),
        ("2026-11-30T12:00:00.999+01:00", "2026-11-30T11:00:00Z"),
        ("2026-11-30T11:00:00Z", "2026-11-30T11:00:00Z"),
        ("2026-11-30T11:00:00", "2026-11-30T11:00:00Z"),
        (None, " "),
        ("", " "),
    ],
)
def test_started(value: str | None, expected: str) -> None:
    assert runs.format_started(value) == expected


# --- logs, show-run, cancel-run -----------------------------------------------------------


def test_logs_of_the_latest_run_of_a_task(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", f"{R}/runs/latest")] = a_run("Running")
    client.answers[("GET", LOGS)] = Seq(page("one"), page("two", after=1, final=True), page(
        after=2, final=True, status="Succeeded"))  # fmt: skip
    code, out, err = cli(capsys, "acr", "task", "logs", "-r", "myregistry", "-n", "hello-world")
    assert (code, out) == (0, "one\ntwo\n")
    assert client.requests[0] == ("GET", f"{R}/runs/latest", {"task": "hello-world"}, None)
    assert [r[2] for r in client.requests[1:]] == [
        {"after": 0, "wait": 20},
        {"after": 1, "wait": 20},
        {"after": 2, "wait": 20},
    ]
    assert "Run ID: ca3" in err


def test_logs_of_a_given_run_of_the_registry(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", f"{R}/runs/cb1/logs")] = page(final=True, status="Failed")
    code, out, _ = cli(capsys, "acr", "task", "logs", "-r", "myregistry", "--run-id", "cb1")
    assert (code, out) == (0, "")
    assert client.requests == [("GET", f"{R}/runs/cb1/logs", {"after": 0, "wait": 20}, None)]


def test_logs_without_a_run_id_asks_for_the_registrys_latest(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", f"{R}/runs/latest")] = a_run("Succeeded")
    client.answers[("GET", LOGS)] = page(final=True)
    cli(capsys, "acr", "task", "logs", "-r", "myregistry")
    assert client.requests[0] == ("GET", f"{R}/runs/latest", None, None)


def test_each_line_is_flushed_as_it_comes() -> None:
    class Recording(io.StringIO):
        flushed: list[str]

        def flush(self) -> None:
            self.flushed.append(self.getvalue())

    out = Recording()
    out.flushed = []
    fake = FakeClient({("GET", LOGS): Seq(page("a", "b"), page(after=2, final=True))})
    ctx = Context(stderr=io.StringIO())
    ctx._client = fake  # type: ignore[assignment]
    assert runs.LogFollower(ctx, "myregistry", "ca3", out).follow() is True
    assert out.flushed == ["a\n", "a\nb\n"]


def test_ctrl_c_stops_following_with_130_and_no_traceback(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("GET", LOGS)] = Seq(page("started"), KeyboardInterrupt())
    code, out, err = cli(capsys, "acr", "task", "logs", "-r", "myregistry", "--run-id", "ca3")
    assert (code, out) == (130, "started\n")
    assert "Traceback" not in err
    assert "Stopped following run ca3" in err and "cancel-run -r myregistry --run-id ca3" in err


def test_a_reader_that_leaves_stops_the_printing_not_the_wait() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    fake = FakeClient(
        {
            ("GET", LOGS): Seq(page("a"), page("b", after=1), page(after=2, final=True)),
            ("GET", f"{R}/runs/ca3"): a_run("Succeeded"),
        }
    )
    ctx = Context(stderr=io.StringIO())
    ctx._client = fake  # type: ignore[assignment]
    result = runs.wait(ctx, "myregistry", "ca3", show_logs=True, out=Closed())
    assert (result.exit_code, result["status"]) == (0, "Succeeded")
    assert fake.requests[-1][:2] == ("GET", f"{R}/runs/ca3")


def test_show_run(client: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.answers[("GET", f"{R}/runs/ca3")] = a_run("Failed")
    code, out, _ = cli(capsys, "acr", "task", "show-run", "-r", "myregistry", "--run-id", "ca3")
    assert (code, json.loads(out)) == (0, a_run("Failed"))  # showing a failed run is no error


def test_cancel_run_prints_nothing_unless_asked(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.answers[("POST", f"{R}/runs/ca3/cancel")] = a_run("Canceled")
    argv = ("acr", "task", "cancel-run", "-r", "myregistry", "--run-id", "ca3")
    assert cli(capsys, *argv) == (0, "", "")
    assert client.requests == [("POST", f"{R}/runs/ca3/cancel", None, {})]
    _, out, _ = cli(capsys, *argv, "-o", "json")
    assert json.loads(out)["status"] == "Canceled"


# --- acr run ------------------------------------------------------------------------------

QUICK = a_run(task=None, runType="QuickRun")


def quick(client: FakeClient) -> None:
    client.answers[("POST", f"{R}/runs")] = QUICK
    follow_to(client, {**QUICK, "status": "Succeeded"})


def posted(client: FakeClient) -> Any:
    (request,) = client.sent("POST")
    assert request[1] == f"{R}/runs"
    return request[3]


def test_acr_run_cmd_defaults_to_no_context(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    quick(client)
    code, out, _ = cli(
        capsys, "acr", "run", "-r", "myregistry", "--cmd", "busybox echo hi",
        "--set", "a=1", "--set-secret", "s=x", "--timeout", "60", "--platform", "linux",
    )  # fmt: skip
    assert code == 0
    assert posted(client) == {
        "kind": "cmd",
        "cmd": "busybox echo hi",
        "context": "/dev/null",
        "values": {"a": "1"},
        "secretValues": {"s": "x"},
        "timeout": 60,
        "platform": "linux",
    }
    assert out.startswith("step 1\nstep 2\n")


def test_acr_run_reads_the_file_here_and_sends_the_context_absolute(
    client: FakeClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quick(client)
    (tmp_path / "src").mkdir()
    (tmp_path / "acb.yaml").write_text("steps:\n  - cmd: busybox true\n")
    monkeypatch.chdir(tmp_path)
    code, _, _ = cli(capsys, "acr", "run", "-r", "myregistry", "-f", "acb.yaml", "src")
    assert code == 0
    assert posted(client) == {
        "kind": "file",
        "file": "steps:\n  - cmd: busybox true\n",
        "fileName": "acb.yaml",
        "context": str(tmp_path / "src"),
        "values": {},
        "secretValues": {},
    }


def test_acr_run_reads_the_file_from_inside_a_local_context(
    client: FakeClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quick(client)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "acb.yaml").write_text("steps: []\n")
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "acr", "run", "-r", "myregistry", "-f", "acb.yaml", "app")[0] == 0
    body = posted(client)
    assert (body["file"], body["fileName"]) == ("steps: []\n", "acb.yaml")
    assert body["context"] == str(tmp_path / "app")


def test_acr_run_file_from_stdin(
    client: FakeClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick(client)
    monkeypatch.setattr("sys.stdin", io.StringIO("steps: []\n"))
    assert cli(capsys, "acr", "run", "-r", "myregistry", "-f", "-", "/dev/null")[0] == 0
    assert posted(client)["file"] == "steps: []\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-f", "nope.yaml", "."], "cannot read the task file nope.yaml"),
        (["-f", "a.yaml", "--cmd", "x", "."], "give --file or --cmd, not both"),
        (["."], "give --file (a task file) or --cmd (a command)"),
        (["-f", "acb.yaml"], "give the context"),
        (["--cmd", "x", "--set", "novalue"], "--set expects NAME=value"),
    ],
)
def test_acr_run_refusals(
    client: FakeClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "acr", "run", "-r", "myregistry", *argv)
    assert code == 1 and message in err
    assert client.requests == []


def test_acr_run_failure_exits_1(client: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.answers[("POST", f"{R}/runs")] = QUICK
    follow_to(client, {**QUICK, "status": "Failed", "runErrorMessage": "exit status 2"})
    code, _, err = cli(capsys, "acr", "run", "-r", "myregistry", "--cmd", "false")
    assert code == 1 and err.endswith("ERROR: run ca3 ended Failed: exit status 2\n")


# --- acr build ----------------------------------------------------------------------------


def test_acr_build_sends_the_dockerfile_by_name(
    client: FakeClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quick(client)
    monkeypatch.chdir(tmp_path)
    code, _, _ = cli(
        capsys, "acr", "build", "-r", "myregistry", "-t", "hello:{{.Run.ID}}",
        "--image", "hello:latest", "-f", "docker/app.Dockerfile", "--build-arg", "A=1",
        "--build-arg", "B=x=y", "--secret-build-arg", "TOKEN=s", "--target", "final",
        "--no-push", "--timeout", "600", ".",
    )  # fmt: skip
    assert code == 0
    assert posted(client) == {
        "kind": "dockerfile",
        "fileName": "docker/app.Dockerfile",
        "context": str(tmp_path),
        "images": ["hello:{{.Run.ID}}", "hello:latest"],
        "buildArgs": {"A": "1", "B": "x=y"},
        "secretBuildArgs": {"TOKEN": "s"},
        "target": "final",
        "noPush": True,
        "timeout": 600,
    }


def test_acr_build_defaults(client: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.answers[("POST", f"{R}/runs")] = {**QUICK, "runType": "QuickBuild"}
    url = "https://example.com/app.git#main:src"
    code, out, _ = cli(capsys, "acr", "build", "-r", "myregistry", "-t", "app:v1", "--no-wait", url)
    assert code == 0 and json.loads(out)["runType"] == "QuickBuild"
    assert posted(client) == {
        "kind": "dockerfile",
        "fileName": "Dockerfile",
        "context": url,
        "images": ["app:v1"],
        "buildArgs": {},
        "secretBuildArgs": {},
        "target": None,
        "noPush": False,
    }


def test_acr_build_refuses_a_build_arg_without_a_value(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "acr", "build", "-r", "myregistry", "-t", "a:1", "--build-arg", "A", "."
    )
    assert code == 1 and "--build-arg expects NAME=VALUE, not 'A'" in err
    assert client.requests == []


def test_acr_build_makes_an_absolute_dockerfile_relative_to_the_context(
    client: FakeClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    client.answers[("POST", f"{R}/runs")] = QUICK
    dockerfile = str(tmp_path / "sub" / "Dockerfile")
    argv = ("acr", "build", "-r", "myregistry", "--no-wait", "-f", dockerfile, str(tmp_path))
    cli(capsys, *argv)
    assert posted(client)["fileName"] == "sub/Dockerfile"


def test_quick_runs_print_progress_on_stderr_only(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    quick(client)
    _, out, err = cli(capsys, "acr", "run", "-r", "myregistry", "--cmd", "true", "-o", "tsv")
    assert "Queued a run with ID: ca3" in err and "Queued" not in out
