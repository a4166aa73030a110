"""The base image update tutorial (seed 004) up to its trigger step, command for command:
``acr build`` of a base image into one registry, a Dockerfile task in another with
``--image``, ``--arg`` and ``--assign-identity``, ``role assignment create --role acrpull``
on the base registry for the task's identity, ``task credential add --use-identity
[system]``, ``task run`` and ``list-runs -o table``. Real server, real podman, the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_task_runs import (
    BUSYBOX_IMAGE,
    TERMINAL,
    as_json,
    context,
    run_task,
    show_run,
    steps_of,
    table_rows,
    tags,
    tsv,
)
from tests.support.cli import ok
from tests.support.engine import reset_engine
from tests.support.servers import Airlock, free_port, running_airlock
from tests.support.waiting import wait_for

pytestmark = pytest.mark.podman

BASE_ACR = "baseimagesacr"
ACR_NAME = "helloworldacr"
NODE_VERSION = "15.2.1"
FILES = {
    "Dockerfile-base": BUSYBOX_IMAGE + f"ENV NODE_VERSION {NODE_VERSION}\n",
    "Dockerfile-app": "ARG REGISTRY_NAME\nFROM ${REGISTRY_NAME}/baseimages/node:15-alpine\n"
    'CMD ["/bin/sh", "-c", "echo Hello from Node.js $NODE_VERSION"]\n',
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("seed-004-home")
    with running_airlock(home) as running:
        running.create_registry(BASE_ACR, port=free_port())
        running.create_registry(ACR_NAME, port=free_port())
        yield running
    reset_engine(home)


@pytest.fixture(scope="module")
def sample(server: Airlock, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The acr-build-helloworld-node sample, with its base image built into BASE_ACR:
    ``az acr build --registry $BASE_ACR --image baseimages/node:15-alpine
    --file Dockerfile-base .``"""
    folder = context(tmp_path_factory.mktemp("sample") / "acr-build-helloworld-node", FILES)
    done = server.cli("acr", "build", "--registry", BASE_ACR, "--image",
                      "baseimages/node:15-alpine", "--file", "Dockerfile-base", str(folder),
                      check=False)  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return folder


def base_login_server(server: Airlock) -> str:
    return server.registries[BASE_ACR].removeprefix("http://")


def create_app_task(server: Airlock, name: str, folder: Path) -> str:
    """``az acr task create ... --image helloworld:{{.Run.ID}} --file Dockerfile-app
    --arg REGISTRY_NAME=$BASE_ACR.azurecr.io --assign-identity``; the principalId."""
    ok(
        server, "acr", "task", "create", "--registry", ACR_NAME, "--name", name,
        "--image", "helloworld:{{.Run.ID}}", "--context", str(folder),
        "--file", "Dockerfile-app", "--arg", f"REGISTRY_NAME={base_login_server(server)}",
        "--assign-identity",
    )  # fmt: skip
    return tsv(server, "acr", "task", "show", "--name", name, "--registry", ACR_NAME,
               "--query", "identity.principalId")  # fmt: skip


def add_identity_credential(server: Airlock, name: str) -> None:
    ok(server, "acr", "task", "credential", "add", "--name", name, "--registry", ACR_NAME,
       "--login-server", base_login_server(server), "--use-identity", "[system]")  # fmt: skip


def test_base_image_update_tutorial_up_to_the_trigger(server: Airlock, sample: Path) -> None:
    principal_id = create_app_task(server, "baseexample2", sample)
    base_reg_id = tsv(server, "acr", "show", "--name", BASE_ACR, "--query", "id")
    ok(server, "role", "assignment", "create", "--assignee", principal_id,
       "--scope", base_reg_id, "--role", "acrpull")  # fmt: skip
    add_identity_credential(server, "baseexample2")

    code, log, run, stderr = run_task(server, "baseexample2", registry=ACR_NAME)

    assert code == 0, f"{log}\n{stderr}"
    run_id = run["runId"]
    assert tags(server, ACR_NAME, "helloworld") == [run_id]
    assert steps_of(run)["push"]["status"] == "Succeeded"

    table = ok(server, "acr", "task", "list-runs", "--registry", ACR_NAME, "--output", "table")
    rows = table_rows(table.stdout)
    assert rows[0]["RUN ID"] == run_id, table.stdout  # newest first
    assert (rows[0]["TASK"], rows[0]["PLATFORM"], rows[0]["STATUS"], rows[0]["TRIGGER"]) == (
        "baseexample2",
        "linux",
        "Succeeded",
        "Manual",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[0]["STARTED"]), rows[0]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", rows[0]["DURATION"]), rows[0]
    # The quick build of the base image is listed in its registry with no task, as `cay`.
    base_rows = table_rows(
        ok(server, "acr", "task", "list-runs", "--registry", BASE_ACR, "-o", "table").stdout
    )
    assert [(r["TASK"], r["STATUS"], r["TRIGGER"]) for r in base_rows] == [
        ("", "Succeeded", "Manual")
    ]

    # The image the task pushed runs on the base image's NODE_VERSION.
    ran = ok(server, "acr", "run", "--registry", ACR_NAME,
             "--cmd", f"{{{{.Run.Registry}}}}/helloworld:{run_id}", "/dev/null")  # fmt: skip
    assert f"Hello from Node.js {NODE_VERSION}" in ran.stdout


def test_without_acrpull_on_the_base_registry_the_run_fails(server: Airlock, sample: Path) -> None:
    create_app_task(server, "baseexample3", sample)
    add_identity_credential(server, "baseexample3")
    queued = as_json(server, "acr", "task", "run", "-n", "baseexample3", "-r", ACR_NAME,
                     "--no-wait")  # fmt: skip
    run_id = queued["runId"]
    try:
        run = wait_for(
            lambda: (found := show_run(server, run_id, ACR_NAME))["status"] in TERMINAL and found,
            what="the run ending",
            timeout=20,
        )
    finally:
        server.cli("acr", "task", "cancel-run", "-r", ACR_NAME, "--run-id", run_id, check=False)

    assert run["status"] == "Failed", run
    assert BASE_ACR in run["runErrorMessage"], run
    assert run_id not in tags(server, ACR_NAME, "helloworld")
