"""Tasks kept on a real server through the CLI and the REST API: create, show, list, update,
delete; every bad input refused before anything is stored; secrets sealed; contexts on this
machine only for the owner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cli_json
from tests.support.servers import Airlock, free_port, running_airlock

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "acr-tasks"
TASK_FILE = "steps:\n  - id: hello\n    cmd: busybox echo {{.Values.greeting}}\n"
SECRET = "task-api-secret-Qm27"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    with running_airlock(tmp_path_factory.mktemp("tasks-home")) as running:
        running.create_registry("taskapireg", port=free_port())
        yield running


def tasks(server: Airlock) -> list[str]:
    return [t["name"] for t in cli_json(server, "acr", "task", "list", "-r", "taskapireg")]


def test_create_show_update_delete(server: Airlock, tmp_path: Path) -> None:
    path = tmp_path / "acb.yaml"
    path.write_text(TASK_FILE)
    made = cli_json(
        server, "acr", "task", "create", "-n", "hello-task", "-r", "taskapireg",
        "-f", str(path), "-c", "/dev/null", "--set", "greeting=hi",
        "--set-secret", f"password={SECRET}", "--assign-identity",
    )  # fmt: skip
    assert made["name"] == "hello-task" and made["status"] == "Enabled"
    assert made["step"]["type"] == "FileTask" and made["step"]["taskFilePath"] == "acb.yaml"
    values = {v["name"]: v for v in made["step"]["values"]}
    assert values["greeting"]["value"] == "hi"
    assert values["password"] == {"name": "password", "isSecret": True}  # never the value
    principal = made["identity"]["principalId"]
    assert made["id"].endswith("/registries/taskapireg/tasks/hello-task")

    updated = cli_json(
        server, "acr", "task", "update", "-n", "hello-task", "-r", "taskapireg",
        "--set", "other=x", "--status", "disabled",
    )  # fmt: skip
    assert updated["status"] == "Disabled"
    assert {v["name"] for v in updated["step"]["values"]} == {"greeting", "other", "password"}
    assert (
        cli_json(server, "acr", "task", "show", "-n", "HELLO-TASK", "-r", "taskapireg")["status"]
        == "Disabled"
    )
    assert "hello-task" in tasks(server)

    server.cli("acr", "task", "delete", "-n", "hello-task", "-r", "taskapireg")
    assert "hello-task" not in tasks(server)
    # Its identity went with it: nothing can be granted to it any more.
    gone = server.cli(
        "role", "assignment", "create", "--assignee", principal, "--role", "AcrPull",
        "--scope", "/subscriptions/local", check=False,
    )  # fmt: skip
    assert gone.returncode != 0 and "no principal" in gone.stderr
    for path in server.home.glob("airlock.db*"):
        assert SECRET.encode() not in path.read_bytes()


def test_a_command_task_and_a_corpus_file(server: Airlock) -> None:
    made = cli_json(
        server, "acr", "task", "create", "-n", "cmd-task", "-r", "taskapireg",
        "--cmd", "busybox echo hello", "-c", "/dev/null",
    )  # fmt: skip
    assert (
        made["step"]["type"] == "EncodedTask"
        and "busybox echo hello" in made["step"]["encodedTaskContent"]
    )
    if CORPUS.is_dir():
        corpus = CORPUS / "importing-public-content__import-baseimage-node__acr-task.yaml"
        made = cli_json(
            server, "acr", "task", "create", "-n", "import-node", "-r", "taskapireg",
            "-f", str(corpus), "-c", "/dev/null",
        )  # fmt: skip
        assert made["name"] == "import-node"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cmd", "busybox echo a\nb", "-c", "/dev/null"), "one command line"),
        (("--cmd", "x", "-c", "ssh://host/repo"), "context"),
        (("--cmd", "x", "-c", "http://127.0.0.1:1/repo.git"), "does not answer"),
        (("--cmd", "x", "-c", "/dev/null", "--platform", "windows"), "linux containers"),
        (("-c", "/dev/null"), "give --file"),
    ],
    ids=["two lines", "ssh", "unreachable git", "windows", "nothing to run"],
)
def test_bad_input_is_refused_and_stores_nothing(
    server: Airlock, args: tuple[str, ...], message: str
) -> None:
    before = tasks(server)
    done = server.cli("acr", "task", "create", "-n", "bad-task", "-r", "taskapireg", *args,
                      check=False)  # fmt: skip
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert tasks(server) == before


def test_a_bad_task_file_is_refused_with_its_location(server: Airlock, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: v1.1.0\nsteps:\n  - id: a\n    cmd: x\n    when: [nope]\n")
    done = server.cli(
        "acr", "task", "create", "-n", "bad-file", "-r", "taskapireg", "-f", str(path),
        "-c", "/dev/null", check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "bad.yaml:" in done.stderr and "nope" in done.stderr
    assert "bad-file" not in tasks(server)


def test_only_the_owner_names_a_context_on_this_machine(server: Airlock, tmp_path: Path) -> None:
    """The server reads a local context with its own rights: a Contributor of the registry
    may not make it read this machine's folders."""
    status, _ = server.api(
        "POST", "/api/ad/users", {"userPrincipalName": "taskuser", "password": "task-user-pass-1"}
    )
    assert status == 201
    _, registry = server.api("GET", "/api/registries/taskapireg")
    assert isinstance(registry, dict)
    status, _ = server.api(
        "POST",
        "/api/role-assignments",
        {"assignee": "taskuser", "role": "Contributor", "scope": registry["id"]},
    )
    assert status == 201
    status, session = server.api(
        "POST", "/api/login", {"username": "taskuser", "password": "task-user-pass-1"}, token=""
    )
    assert status == 200 and isinstance(session, dict)
    user = str(session["accessToken"])
    folder = tmp_path / "context"
    folder.mkdir()
    body = {"name": "localctx", "cmd": "busybox ls", "context": str(folder)}
    status, answer = server.api("POST", "/api/registries/taskapireg/tasks", body, token=user)
    assert status == 403, answer
    body["context"] = "/dev/null"
    status, answer = server.api("POST", "/api/registries/taskapireg/tasks", body, token=user)
    assert status == 201, answer
    body["name"], body["context"] = "localctx2", str(folder)
    status, answer = server.api("POST", "/api/registries/taskapireg/tasks", body)  # the owner
    assert status == 201, answer
