"""``airlock acr task``: ``validate`` runs without a server and prints the steps or a located
error; ``create|update`` send the kind of task (file, cmd, dockerfile); ``credential`` and
``identity`` requests, against a fake client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airlock.cli.main import main
from airlock.cli.options import Context
from tests.unit.test_cli_runs import FakeClient

GOOD = """version: v1.1.0
steps:
  - id: build
    build: -t {{.Run.Registry}}/hello:{{.Values.tag}} .
  - id: test
    cmd: "{{.Run.Registry}}/hello:{{.Values.tag}}"
    when: ["build"]
  - id: lint
    cmd: busybox echo lint
    when: ["-"]
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_valid_file_prints_its_steps_and_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["acr", "task", "validate", "-f", write(tmp_path, "t.yaml", GOOD)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] is True and shown["rendered"] is False
    assert [s["id"] for s in shown["steps"]] == ["build", "test", "lint"]
    assert set(shown["executionOrder"]) == {"build", "test", "lint"}
    assert shown["executionOrder"].index("build") < shown["executionOrder"].index("test")


def test_values_render_the_file_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = write(tmp_path, "values.yaml", "tag: v1\n")
    path = write(tmp_path, "t.yaml", GOOD)
    assert main(["acr", "task", "validate", "-f", path, "--values", values]) == 0
    assert json.loads(capsys.readouterr().out)["rendered"] is True
    assert main(["acr", "task", "validate", "-f", path, "--set", "novalue"]) == 1
    assert "--set expects NAME=value" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("version: 1.0.0-preview\nsteps:\n  - cmd: x\n", "t.yaml:1:10: invalid version"),
        (
            "steps:\n  - id: a\n    cmd: x\n    when: [b]\n  - id: b\n    cmd: y\n    when: [a]\n",
            "t.yaml:",
        ),
        ("steps:\n  - id: a\n    cmd: x\n    when: [nope]\n", "nope"),
        ("steps: [\n", "t.yaml:"),
    ],
    ids=["version", "cycle", "unknown when", "yaml"],
)
def test_a_bad_file_is_refused_with_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    path = write(tmp_path, "t.yaml", text)
    assert main(["acr", "task", "validate", "-f", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: ") and reason in err


def test_a_missing_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acr", "task", "validate", "-f", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read the task file" in capsys.readouterr().err


# --- create and update: the kind of task each sends ----------------------------------------

T = "/api/registries/myregistry/tasks"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr(Context, "client", property(lambda self: fake))
    monkeypatch.delenv("AIRLOCK_OUTPUT", raising=False)
    return fake


def sent(client: FakeClient) -> tuple[str, str, Any]:
    (request,) = client.requests
    return request[0], request[1], request[3]


def test_create_with_a_task_file_reads_it_and_says_file(
    client: FakeClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "acb.yaml", GOOD)
    argv = ["acr", "task", "create", "-n", "t1", "-r", "myregistry", "-f", path, "-c", "/dev/null"]
    assert main(argv) == 0
    assert sent(client) == (
        "POST",
        T,
        {"kind": "file", "file": GOOD, "fileName": "acb.yaml", "context": "/dev/null",
         "name": "t1"},
    )  # fmt: skip


def test_create_with_a_cmd_says_cmd(client: FakeClient) -> None:
    argv = ["acr", "task", "create", "-n", "t1", "-r", "myregistry", "--cmd", "busybox true",
            "-c", "/dev/null", "--set", "a=1", "--set-secret", "s=2",
            "--timeout", "60"]  # fmt: skip
    assert main(argv) == 0
    assert sent(client)[2] == {
        "kind": "cmd",
        "cmd": "busybox true",
        "context": "/dev/null",
        "values": {"a": "1"},
        "secretValues": {"s": "2"},
        "timeout": 60,
        "name": "t1",
    }


@pytest.mark.parametrize(
    "name",
    ["Dockerfile", "Containerfile", "app.dockerfile", "prod.Dockerfile", "docker/Dockerfile"],
)
def test_create_with_a_dockerfile_sends_its_name_and_reads_nothing(
    client: FakeClient, tmp_path: Path, name: str
) -> None:
    # The Dockerfile lives in the context: it is not read here, so it need not exist here.
    argv = ["acr", "task", "create", "-n", "hello-world", "-r", "myregistry", "-f", name,
            "-c", "https://example.com/app.git#main", "-t", "hello:{{.Run.ID}}",
            "--image", "hello:latest", "--arg", "NODE=20", "--secret-arg", "TOKEN=t",
            "--target", "final"]  # fmt: skip
    assert main(argv) == 0
    assert sent(client) == (
        "POST",
        T,
        {
            "kind": "dockerfile",
            "fileName": name,
            "images": ["hello:{{.Run.ID}}", "hello:latest"],
            "buildArgs": {"NODE": "20"},
            "secretBuildArgs": {"TOKEN": "t"},
            "target": "final",
            "noPush": False,
            "context": "https://example.com/app.git#main",
            "name": "hello-world",
        },
    )


def test_any_file_with_an_image_is_a_dockerfile(client: FakeClient) -> None:
    argv = ["acr", "task", "create", "-n", "t1", "-r", "myregistry", "-f", "build.txt",
            "-c", "/dev/null", "-t", "a:1", "--no-push"]  # fmt: skip
    assert main(argv) == 0
    body = sent(client)[2]
    assert (body["kind"], body["fileName"], body["noPush"]) == ("dockerfile", "build.txt", True)
    assert (body["buildArgs"], body["secretBuildArgs"], body["target"]) == ({}, {}, None)


def test_a_dockerfile_in_a_local_context_is_named_from_the_context(
    client: FakeClient, tmp_path: Path
) -> None:
    dockerfile = str(tmp_path / "sub" / "Dockerfile")
    argv = ["acr", "task", "create", "-n", "t1", "-r", "myregistry", "-f", dockerfile,
            "-c", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    body = sent(client)[2]
    assert (body["fileName"], body["context"]) == ("sub/Dockerfile", str(tmp_path))


def test_update_sends_only_the_dockerfile_fields_given(client: FakeClient) -> None:
    argv = ["acr", "task", "update", "-n", "t1", "-r", "myregistry", "-t", "a:2",
            "--no-push", "false"]  # fmt: skip
    assert main(argv) == 0
    assert sent(client) == ("PATCH", f"{T}/t1", {"images": ["a:2"], "noPush": False})
    client.requests.clear()
    assert main(["acr", "task", "update", "-n", "t1", "-r", "myregistry", "--arg", "A=1"]) == 0
    assert sent(client)[2] == {"buildArgs": {"A": "1"}}


def test_update_with_a_task_file_says_file(client: FakeClient, tmp_path: Path) -> None:
    path = write(tmp_path, "acb.yaml", GOOD)
    assert main(["acr", "task", "update", "-n", "t1", "-r", "myregistry", "-f", path]) == 0
    assert sent(client) == (
        "PATCH", f"{T}/t1", {"kind": "file", "file": GOOD, "fileName": "acb.yaml"}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cmd", "true", "--arg", "A=1"], "are for Dockerfile tasks"),
        (["--cmd", "true", "--target", "x"], "are for Dockerfile tasks"),
        (["-f", "Dockerfile", "--arg", "A"], "--arg expects NAME=VALUE, not 'A'"),
        (["-f", "Dockerfile", "--secret-arg", "=x"], "--secret-arg expects NAME=VALUE"),
        (["-f", "Dockerfile", "--cmd", "true"], "give --file or --cmd, not both"),
        ([], "give --file (a task file or a Dockerfile) or --cmd"),
    ],
)
def test_create_refusals(
    client: FakeClient, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["acr", "task", "create", "-n", "t1", "-r", "myregistry", "-c", "/dev/null", *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert client.requests == []


def test_a_yaml_file_with_dockerfile_options_is_refused(
    client: FakeClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "acb.yaml", GOOD)
    argv = ["acr", "task", "create", "-n", "t1", "-r", "myregistry", "-c", "/dev/null",
            "-f", path, "--target", "x"]  # fmt: skip
    assert main(argv) == 1
    assert "are for Dockerfile tasks" in capsys.readouterr().err


# --- credential and identity --------------------------------------------------------------

CREDENTIALS = {"docker.io": {"username": "u", "passwordSet": True, "identity": None}}


def test_credential_add_update_remove_list(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    task = ["-n", "hello-world", "-r", "myregistry"]
    client.answers = {
        ("POST", f"{T}/hello-world/credentials"): CREDENTIALS,
        ("PATCH", f"{T}/hello-world/credentials/127.0.0.1%3A5001"): CREDENTIALS,
        ("DELETE", f"{T}/hello-world/credentials/docker.io"): {},
        ("GET", f"{T}/hello-world/credentials"): CREDENTIALS,
    }
    assert main(["acr", "task", "credential", "add", *task, "--login-server", "docker.io",
                 "-u", "u", "-p", "https://myvault.vault.local/secrets/pw"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) == CREDENTIALS
    assert main(["acr", "task", "credential", "update", *task, "--login-server",
                 "127.0.0.1:5001", "--use-identity"]) == 0  # fmt: skip
    assert main(["acr", "task", "credential", "remove", *task, "--login-server",
                 "docker.io"]) == 0  # fmt: skip
    assert main(["acr", "task", "credential", "list", *task]) == 0
    assert [(m, p, b) for m, p, _, b in client.requests] == [
        ("POST", f"{T}/hello-world/credentials",
         {"loginServer": "docker.io", "username": "u",
          "password": "https://myvault.vault.local/secrets/pw"}),
        ("PATCH", f"{T}/hello-world/credentials/127.0.0.1%3A5001",
         {"loginServer": "127.0.0.1:5001", "useIdentity": "[system]"}),
        ("DELETE", f"{T}/hello-world/credentials/docker.io", None),
        ("GET", f"{T}/hello-world/credentials", None),
    ]  # fmt: skip


def test_credential_add_with_the_identity_as_the_seed_does(client: FakeClient) -> None:
    assert main(["acr", "task", "credential", "add", "-n", "t1", "-r", "myregistry",
                 "--login-server", "127.0.0.1:5002",
                 "--use-identity", "[system]"]) == 0  # fmt: skip
    assert sent(client)[2] == {"loginServer": "127.0.0.1:5002", "useIdentity": "[system]"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "--login-server", "docker.io", "-u", "u"], "give --username and --password"),
        (["add", "--login-server", "docker.io", "--use-identity", "0000-1111"],
         "--use-identity takes [system]"),
        (["update", "--login-server", "docker.io"], "nothing to update"),
    ],
)  # fmt: skip
def test_credential_refusals(
    client: FakeClient, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["acr", "task", "credential", argv[0], "-n", "t1", "-r", "myregistry",
                 *argv[1:]]) == 1  # fmt: skip
    assert message in capsys.readouterr().err
    assert client.requests == []


def test_identity_assign_show_remove(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = {"principalId": "p1", "tenantId": "local", "type": "SystemAssigned"}
    client.answers = {
        ("POST", f"{T}/t1/identity"): identity,
        ("GET", f"{T}/t1/identity"): identity,
        ("DELETE", f"{T}/t1/identity"): None,
    }
    task = ["-n", "t1", "-r", "myregistry"]
    assert main(["acr", "task", "identity", "assign", *task, "--identities", "[system]"]) == 0
    assert main(["acr", "task", "identity", "show", *task, "--query", "principalId"]) == 0
    assert main(["acr", "task", "identity", "remove", *task]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(identity, indent=2, sort_keys=True) + '\n"p1"\n'
    assert [(m, p, b) for m, p, _, b in client.requests] == [
        ("POST", f"{T}/t1/identity", {}),
        ("GET", f"{T}/t1/identity", None),
        ("DELETE", f"{T}/t1/identity", None),
    ]
    assert main(["acr", "task", "identity", "assign", *task, "--identities", "me"]) == 1
    assert "--identities takes [system]" in capsys.readouterr().err


def test_a_group_without_a_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acr", "task", "credential"]) == 0
    assert "add" in capsys.readouterr().out
