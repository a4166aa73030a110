"""The seed walkthrough across a server restart (real server, git, podman).

Phase one builds the walkthrough's chain as ``test_walkthrough_chain`` does (node-public on a
commit hook, the seed's gate base-import-node, hello-world), with the seed's hello-world task:
it builds a busybox httpd page coloured by the base's ``$BACKGROUND_COLOR`` and deploys it
itself with ``az container create`` (as the task's identity, its registry credentials from the
key vault). Each task runs once by hand; the page answers Blue.

Then the server restarts twice: once with the instance's container left running (it is kept,
not replaced), once after the container was removed (the instance is brought back). Each
time the page answers Blue at the same address and the runs are all still listed.

Phase two, after the restarts: one commit of Green through the hook runs node-public
(Commit), base-import-node (Image Update) and hello-world (Image Update), which redeploys the
instance; the page answers Green at the same address. That is what "the triggers are still
armed" means here.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_container_instances import containers_of, page, remove_container
from tests.support.cli import cli_json
from tests.support.engine import reset_engine
from tests.support.servers import Airlock, free_port, running_airlock
from tests.support.waiting import wait_for
from tests.support.walkthrough import (
    APP,
    BASE,
    HUB,
    PUBLIC,
    ended,
    login,
    run_by_hand,
    set_up_chain,
    task,
)

pytestmark = pytest.mark.podman

WAIT = 180.0
ACI_RG = "hello-world-aci-rg"
ACI = "hello-world"
KEYVAULT = "acr-task-credentials"

# The app of examples/hello-world: the seed's task file verbatim (it deploys itself with
# `az container create`), and a busybox httpd page coloured by the base's $BACKGROUND_COLOR.
HELLO_WORLD = Path(__file__).resolve().parents[2] / "examples" / "hello-world"
TASKS = ((PUBLIC, "node-public"), (BASE, "base-import-node"), (APP, "hello-world"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("walkthrough-restart-home")
    with running_airlock(home) as running:
        for name in (HUB, PUBLIC, BASE, APP):
            running.create_registry(name, port=free_port())
        yield running
    # Every container of this home's engine: the runs' and the instance's.
    reset_engine(home)


def instance(server: Airlock) -> dict[str, Any]:
    return dict(cli_json(server, "container", "show", "-g", ACI_RG, "-n", ACI))


def colour_of(url: str) -> str:
    """The background colour of the page at ``url`` (it answers within the wait)."""
    found = re.search(r'id="background-color">([A-Za-z]+)<', page(url, timeout=WAIT))
    assert found, f"no background colour in the page at {url}"
    return found.group(1)


def stable_runs(server: Airlock) -> dict[str, list[tuple[str, str, str]]]:
    """Every task's runs (id, trigger, status), all ended."""
    return {
        name: [
            (r["runId"], r["trigger"], r["status"])
            for r in ended(server, registry, name, 1, timeout=WAIT)
        ]
        for registry, name in TASKS
    }


def test_a_restart_keeps_the_instance_and_the_triggers(server: Airlock, tmp_path: Path) -> None:
    # --- phase one: the walkthrough's setup, each task once by hand ----------------------
    base = set_up_chain(server, tmp_path, "Blue")

    # hello-world deploys itself: its identity reads the registry's credentials from the key
    # vault and may create container groups in the instance's resource group.
    cli_json(server, "group", "create", "-n", ACI_RG)
    cli_json(server, "keyvault", "create", "--name", KEYVAULT)
    user, password = server.admin_credentials(APP)
    for kind, value in (("user", user), ("password", password)):
        cli_json(server, "keyvault", "secret", "set", "--vault-name", KEYVAULT,
            "--name", f"registry-{APP}-{kind}", "--value", value)  # fmt: skip
    hello = tmp_path / "hello-world"
    shutil.copytree(HELLO_WORLD, hello)
    task(server, APP, "hello-world", hello / "acr-task.yaml", str(hello), BASE)
    cli_json(server, "acr", "task", "update", "-r", APP, "-n", "hello-world", "--set",
        f"KEYVAULT={KEYVAULT}", "--set", f"ACI={ACI}", "--set", f"ACI_RG={ACI_RG}")  # fmt: skip
    principal = cli_json(server, "acr", "task", "show", "-r", APP, "-n", "hello-world")["identity"][
        "principalId"
    ]
    cli_json(server, "keyvault", "set-policy", "--name", KEYVAULT, "--object-id", principal,
        "--secret-permissions", "get")  # fmt: skip
    group_id = cli_json(server, "group", "show", "-n", ACI_RG)["id"]
    cli_json(server, "role", "assignment", "create", "--assignee", principal, "--role", "owner",
        "--scope", group_id)  # fmt: skip

    for registry, name in TASKS:
        run_by_hand(server, registry, name)
        first = ended(server, registry, name, 1, timeout=WAIT)[0]
        assert first["status"] == "Succeeded", (name, first)
    before = stable_runs(server)
    assert [len(r) for r in before.values()] == [1, 1, 1], before

    made = instance(server)
    assert made["provisioningState"] == "Succeeded", made
    hello_run = before["hello-world"][0][0]
    assert made["containers"][0]["image"] == f"{login(server, APP)}/hello-world:{hello_run}"
    address, url = made["ipAddress"]["ip"], made["url"]
    assert url.startswith(f"http://{address}")
    assert colour_of(url) == "Blue"

    # --- restart with the instance's container running: it is kept as it is -------------
    kept = containers_of(server, ACI)
    assert len(kept) == 1, kept
    server.restart()
    assert colour_of(url) == "Blue"
    back = instance(server)
    assert (back["ipAddress"]["ip"], back["url"]) == (address, url), back
    assert containers_of(server, ACI) == kept
    assert stable_runs(server) == before

    # --- restart after the container was removed: the instance is brought back ----------
    server.stop()
    for container in containers_of(server, ACI):
        remove_container(server, container)
    assert containers_of(server, ACI) == []
    server.restart()
    assert colour_of(url) == "Blue"

    def succeeded() -> dict[str, Any] | None:
        shown = instance(server)
        return shown if shown["provisioningState"] == "Succeeded" else None

    back = wait_for(succeeded, what="the instance to be Succeeded again", timeout=WAIT)
    assert (back["ipAddress"]["ip"], back["url"]) == (address, url), back
    assert back["containers"][0]["image"] == made["containers"][0]["image"]
    revived = containers_of(server, ACI)
    assert len(revived) == 1 and revived != kept, revived
    assert stable_runs(server) == before

    # --- phase two: one commit runs the chain; hello-world redeploys the page ------------
    base.commit("Green")
    public = ended(server, PUBLIC, "node-public", 2, timeout=WAIT)
    gate = ended(server, BASE, "base-import-node", 2, timeout=WAIT)
    app = ended(server, APP, "hello-world", 2, timeout=WAIT)
    assert (public[0]["trigger"], public[0]["status"]) == ("Commit", "Succeeded"), public[0]
    assert (gate[0]["trigger"], gate[0]["status"]) == ("Image Update", "Succeeded"), gate[0]
    assert (app[0]["trigger"], app[0]["status"]) == ("Image Update", "Succeeded"), app[0]
    # The runs from before the restarts are still there, unchanged, under the new ones.
    for (_, name), found in zip(TASKS, (public, gate, app), strict=True):
        assert [(r["runId"], r["trigger"], r["status"]) for r in found[1:]] == before[name]

    redeployed = instance(server)
    assert redeployed["containers"][0]["image"] == (
        f"{login(server, APP)}/hello-world:{app[0]['runId']}"
    )
    assert (redeployed["ipAddress"]["ip"], redeployed["url"]) == (address, url), redeployed
    # deploy-aci waited for the replacement to answer before the run ended.
    assert colour_of(url) == "Green"
    assert len(containers_of(server, ACI)) == 1
