"""``cmd: az ...`` in a task: Airlock's CLI signed in as the task's identity, within what its
role assignments allow (a real server, the CLI as a subprocess; no container is started)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_json
from tests.support.servers import Airlock, free_port, running_airlock

pytestmark = pytest.mark.podman

HOME_REGISTRY = "azhome"
OTHER_REGISTRY = "azother"
TASK_FILE = """\
version: v1.1.0
steps:
  - cmd: az login --identity > /dev/null
  - cmd: >-
      az acr token create --name {token} --registry {{{{.Values.target}}}}
      --scope-map _repositories_pull -o none
  - cmd: az acr token list --registry {{{{.Values.target}}}} --query "[].name" -o tsv
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    with running_airlock(tmp_path_factory.mktemp("az-home")) as running:
        running.create_registry(HOME_REGISTRY, port=free_port())
        running.create_registry(OTHER_REGISTRY, port=free_port())
        yield running


def run(server: Airlock, target: str) -> tuple[int, str, dict[str, Any]]:
    done = server.cli("acr", "task", "run", "-r", HOME_REGISTRY, "-n", "aztokens",
                      "--set", f"target={target}", "-o", "json", check=False)  # fmt: skip
    log, _, rest = done.stdout.rpartition("\n{")
    return done.returncode, log, json.loads("{" + rest)


def test_az_steps_act_as_the_task_identity_within_its_roles(
    server: Airlock, tmp_path: Path
) -> None:
    path = tmp_path / "az.yaml"
    path.write_text(TASK_FILE.format(token="made-by-task"))
    cli_json(server, "acr", "task", "create", "-r", HOME_REGISTRY, "-n", "aztokens", "-f",
        str(path), "-c", "/dev/null", "--set", f"target={HOME_REGISTRY}",
        "--assign-identity")  # fmt: skip
    principal = cli_json(server, "acr", "task", "show", "-r", HOME_REGISTRY, "-n", "aztokens")[
        "identity"
    ]["principalId"]

    # No role anywhere: az login --identity works, the token create is refused with the fix.
    code, log, ended = run(server, HOME_REGISTRY)
    assert code != 0 and ended["status"] == "Failed", log
    assert "Successfully executed container: acb_step_0" in log
    assert "does not have authorization to perform action" in log, log
    assert f"role assignment create --assignee {principal}" in log, log
    assert all(
        t["name"] != "made-by-task"
        for t in cli_json(server, "acr", "token", "list", "-r", HOME_REGISTRY)
    )

    # Contributor on its own registry: the token is made there, and listed by the next step.
    scope = cli_json(server, "acr", "show", "-n", HOME_REGISTRY)["id"]
    cli_json(server, "role", "assignment", "create", "--assignee", principal, "--role",
        "Contributor", "--scope", scope)  # fmt: skip
    code, log, ended = run(server, HOME_REGISTRY)
    assert code == 0 and ended["status"] == "Succeeded", log
    names = [t["name"] for t in cli_json(server, "acr", "token", "list", "-r", HOME_REGISTRY)]
    assert "made-by-task" in names
    assert "made-by-task" in log  # the list step's output

    # The other registry is outside the role's scope: refused, nothing made there.
    code, log, ended = run(server, OTHER_REGISTRY)
    assert code != 0 and ended["status"] == "Failed", log
    assert f"registries/{OTHER_REGISTRY}" in log, log
    others = cli_json(server, "acr", "token", "list", "-r", OTHER_REGISTRY)
    assert all(t["name"] != "made-by-task" for t in others), others


def test_a_quick_run_has_no_identity_for_az(server: Airlock) -> None:
    done = server.cli("acr", "run", "-r", HOME_REGISTRY, "--cmd", "az acr list", "/dev/null",
                      check=False)  # fmt: skip
    assert done.returncode != 0
    assert "quick runs have no identity" in done.stdout + done.stderr


CONTAINER_TASK = """\
version: v1.1.0
steps:
  - cmd: az login --identity > /dev/null
  - cmd: >-
      az container create --resource-group {{.Values.group}} --name web
      --image 127.0.0.1:9/nowhere/web:1 --ports 80 --no-wait -o none
"""


def test_az_container_create_needs_a_role_on_the_instances_group(
    server: Airlock, tmp_path: Path
) -> None:
    """The seed grants the hello-world task owner on the instances' resource group; without
    that grant its ``az container create`` is refused, naming the fix, and nothing is made."""
    for group in ("aci-home-rg", "aci-other-rg"):
        cli_json(server, "group", "create", "-n", group)
    path = tmp_path / "aci.yaml"
    path.write_text(CONTAINER_TASK)
    cli_json(server, "acr", "task", "create", "-r", HOME_REGISTRY, "-n", "azaci", "-f", str(path),
        "-c", "/dev/null", "--set", "group=aci-home-rg", "--assign-identity")  # fmt: skip
    principal = cli_json(server, "acr", "task", "show", "-r", HOME_REGISTRY, "-n", "azaci")[
        "identity"
    ]["principalId"]

    def deploy() -> tuple[int, str]:
        done = server.cli("acr", "task", "run", "-r", HOME_REGISTRY, "-n", "azaci", check=False)
        return done.returncode, done.stdout + done.stderr

    def instances() -> list[str]:
        return [c["name"] for c in cli_json(server, "container", "list", "-g", "aci-home-rg")]

    code, log = deploy()
    assert code != 0 and "does not have authorization to perform action" in log, log
    assert f"role assignment create --assignee {principal}" in log, log
    assert instances() == []

    # Owner on another group does not reach this one.
    other = cli_json(server, "group", "show", "-n", "aci-other-rg")["id"]
    cli_json(server, "role", "assignment", "create", "--assignee", principal, "--role", "owner",
        "--scope", other)  # fmt: skip
    code, log = deploy()
    assert code != 0 and "aci-home-rg" in log, log
    assert instances() == []

    # Owner on the instances' group, as the seed grants: the instance is made.
    home = cli_json(server, "group", "show", "-n", "aci-home-rg")["id"]
    cli_json(server, "role", "assignment", "create", "--assignee", principal, "--role", "owner",
        "--scope", home)  # fmt: skip
    code, log = deploy()
    assert code == 0, log
    assert instances() == ["web"]
    cli_json(server, "container", "delete", "-g", "aci-home-rg", "-n", "web", "--yes")
