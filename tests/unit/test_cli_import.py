"""``airlock acr import``: the request it sends, polling, the progress bar, errors."""

from __future__ import annotations

import io
from typing import Any

import pytest

from airlock.cli import acr_import
from airlock.cli.errors import CLIError
from airlock.cli.main import build_parser
from airlock.cli.options import Context


class FakeClient:
    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.posted: list[tuple[str, dict[str, Any]]] = []
        self.polled: list[str] = []

    def post(self, path: str, body: dict[str, Any]) -> Any:
        self.posted.append((path, body))
        return self.jobs.pop(0)

    def get(self, path: str) -> Any:
        self.polled.append(path)
        return self.jobs.pop(0)


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def job(status: str, done: int = 0, error: str | None = None) -> dict[str, Any]:
    progress = {"bytesDone": done, "bytesTotal": 4 << 20, "blobsDone": 1, "blobsTotal": 2}
    return {
        "id": "j1",
        "status": status,
        "progress": progress,
        "error": None if error is None else {"code": "X", "message": error},
    }


def run(argv: list[str], client: FakeClient, stderr: io.StringIO) -> Any:
    args = build_parser().parse_args(argv)
    ctx = Context(stderr=stderr)
    ctx._client = client  # type: ignore[assignment]
    return args.handler(args, ctx)


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acr_import, "POLL_SECONDS", 0)


def test_sends_the_az_arguments_and_polls_until_done() -> None:
    client = FakeClient([job("Running"), job("Running", 2 << 20), job("Succeeded", 4 << 20)])
    result = run(
        ["acr", "import", "-n", "myregistry", "--source", "node:20", "-t", "node:20",
         "-t", "node:lts", "--repository", "mirror", "--force", "-r", "baseimages",
         "-u", "me", "-p", "secret"],
        client,
        io.StringIO(),
    )  # fmt: skip
    assert result is None  # az prints nothing on success
    assert client.posted == [
        (
            "/api/registries/myregistry/imports",
            {
                "source": "node:20",
                "images": ["node:20", "node:lts"],
                "repositories": ["mirror"],
                "force": True,
                "registry": "baseimages",
                "username": "me",
                "password": "secret",
            },
        )
    ]
    assert client.polled == ["/api/imports/j1", "/api/imports/j1"]


def test_output_format_prints_the_finished_job() -> None:
    client = FakeClient([job("Succeeded", 4 << 20)])
    result = run(
        ["acr", "import", "-n", "myregistry", "--source", "x", "-o", "json"], client, io.StringIO()
    )
    assert result["status"] == "Succeeded"


def test_no_wait_returns_the_started_job_without_polling() -> None:
    client = FakeClient([job("Running")])
    result = run(
        ["acr", "import", "-n", "myregistry", "--source", "x", "--no-wait"], client, io.StringIO()
    )
    assert result["status"] == "Running" and client.polled == []


def test_failed_job_is_an_error_line() -> None:
    client = FakeClient([job("Running"), job("Failed", error="image x not found")])
    with pytest.raises(CLIError, match=r"^image x not found$"):
        run(["acr", "import", "-n", "myregistry", "--source", "x"], client, io.StringIO())


def test_username_without_password_is_refused_before_any_request() -> None:
    client = FakeClient([])
    with pytest.raises(CLIError, match="both --username and --password"):
        run(
            ["acr", "import", "-n", "myregistry", "--source", "x", "-u", "me"],
            client,
            io.StringIO(),
        )
    assert client.posted == []


def test_progress_bar_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    run(
        ["acr", "import", "-n", "myregistry", "--source", "x"],
        FakeClient([job("Running"), job("Succeeded", 4 << 20)]),
        quiet,
    )
    assert quiet.getvalue() == ""
    tty = TtyStream()
    run(
        ["acr", "import", "-n", "myregistry", "--source", "x"],
        FakeClient([job("Running", 1 << 20), job("Succeeded", 4 << 20)]),
        tty,
    )
    text = tty.getvalue()
    assert text.startswith("\r[") and text.endswith("\n")
    assert " 25%  1.0/4.0 MiB  1/2 blobs" in text and "100%  4.0/4.0 MiB" in text


def test_render_progress_with_nothing_to_download() -> None:
    assert acr_import.render_progress({"bytesDone": 0, "bytesTotal": 0}).startswith("[" + "#" * 30)
