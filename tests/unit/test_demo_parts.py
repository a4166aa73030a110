"""The pieces of ``airlock demo`` that decide what it prints and whether it passes: masking,
printed commands, the page's colour, the base image edit, the run-table check."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from airlock.demo import page
from airlock.demo.commands import AirlockCLI, Git, Hidden, _shown
from airlock.demo.console import Console, strip_ansi
from airlock.demo.errors import DemoError
from airlock.demo.repos import Repository, set_background
from airlock.demo.runs import Expected, RunWatcher

PAGE = (
    '<body style="background-color: Green"><b id="background-color">Green</b>'
    '<code id="base-image-digest">sha256:abc</code></body>'
)


def test_secret_values_print_masked_and_hidden_arguments_print_as_variables() -> None:
    out = io.StringIO()
    console = Console(out, color=False)
    console.hide("s3cr3t-value")
    console.command("airlock x --value s3cr3t-value")
    console.output("the token is s3cr3t-value\n")
    console.hide("abc")  # too short to mask safely: ignored, or every 'abc' would go
    console.note("abc")
    assert "s3cr3t-value" not in out.getvalue()
    assert out.getvalue().count("***") == 2
    assert "# abc" in out.getvalue()
    assert _shown(("--value", Hidden("s3cr3t-value", "$PASSWORD"), "a b")) == (
        "--value $PASSWORD 'a b'"
    )
    assert strip_ansi("\x1b[31mERROR: Invalid Color:\x1b[0m Red") == "ERROR: Invalid Color: Red"


@pytest.fixture
def served_page() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_colour_is_read_over_http(served_page: str) -> None:
    assert page.color_of(served_page) == "Green"
    assert page.wait_for_color(served_page, "green", timeout=5) == page.Look("Green", "sha256:abc")
    with pytest.raises(DemoError, match=r"shows Green after 0\.5 s, not Red"):
        page.wait_for_color(served_page, "Red", timeout=0.5)
    assert page.color_of("http://127.0.0.1:9/") is None  # nothing listens on port 9


def test_set_background_edits_commits_and_pushes(tmp_path: Path) -> None:
    console = Console(io.StringIO(), color=False)
    git = Git(console, tmp_path)
    bare, work = tmp_path / "repo.git", tmp_path / "work"
    git.run(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git.run(tmp_path, "clone", "--quiet", str(bare), str(work))
    (work / "Dockerfile").write_text("FROM x\nENV BACKGROUND_COLOR Blue\n")
    git.run(work, "add", "Dockerfile")
    git.run(work, "commit", "--quiet", "-m", "first")
    git.run(work, "push", "--quiet", "origin", "HEAD:main")
    repository = Repository("base-image-node", bare, work)

    set_background(git, repository, "Orange")
    shown = git.run(tmp_path, "--git-dir", str(bare), "show", "main:Dockerfile")
    assert "ENV BACKGROUND_COLOR Orange" in shown and "Blue" not in shown

    (work / "Dockerfile").write_text("FROM x\n")
    with pytest.raises(DemoError, match="no 'ENV BACKGROUND_COLOR' line"):
        set_background(git, repository, "Red")


class FakeRuns(RunWatcher):
    """The run list a server would give, without one (the table check is what is tested)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__(AirlockCLI(Console(io.StringIO(), color=False), {}),
                         Console(io.StringIO(), color=False))  # fmt: skip
        self.rows = rows

    def runs(self, registry: str) -> list[dict[str, Any]]:
        return self.rows


def test_the_run_table_must_be_the_expected_sequence_and_nothing_else() -> None:
    rows = [
        {"runId": "ca1", "task": "node-public", "trigger": "Manual", "status": "Succeeded"},
        {"runId": "ca2", "task": "node-public", "trigger": "Commit", "status": "Succeeded"},
    ]
    watcher = FakeRuns(rows)
    expected = [Expected("node-public", "Manual", "Succeeded"),
                Expected("node-public", "Commit", "Succeeded")]  # fmt: skip
    watcher.check_table("publicregistry", expected)
    with pytest.raises(DemoError, match="expected"):
        watcher.check_table("publicregistry", expected[:1])
    rows[1]["status"] = "Failed"
    with pytest.raises(DemoError, match="node-public Commit Failed"):
        watcher.check_table("publicregistry", expected)
    # A run of the wrong trigger is named with the command that shows its log.
    with pytest.raises(DemoError, match="acr task logs -r publicregistry --run-id ca2"):
        watcher.wait("publicregistry", Expected("node-public", "Image Update", "Failed"),
                     since={"ca1"}, timeout=2)  # fmt: skip
