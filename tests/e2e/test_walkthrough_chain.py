# ruff: noqa: E501  (the task files are the seed's, line for line)
"""The seed walkthrough's chain, on its own after one commit (real server, git, podman).

    commit to base-image-node ──> node-public        (builds node:15-alpine into "public")
                                      │ push
                                      v
                                  base-import-node   (the seed's gate task, verbatim: builds a
                                      │ push          test image, runs it, imports the base
                                      v               into "base-artifacts" if it passes)
                                  hello-world        (builds on base-artifacts' node)

Each task runs once by hand first (so that it records what it builds on, as in the seed);
then one commit that changes the base's colour runs all three, in order, with the triggers the
seed shows (Commit, then Image Update twice); a red colour stops the chain at
``validate-base-image`` and nothing downstream runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.engine import EnginePaths, engine_env
from tests.support.cli import cli_json
from tests.support.servers import Airlock, free_port, running_airlock
from tests.support.walkthrough import (
    APP,
    BASE,
    HUB,
    PUBLIC,
    ended,
    run_by_hand,
    runs,
    set_up_chain,
    task,
)

pytestmark = pytest.mark.podman

HELLO_DOCKERFILE = (
    'ARG REGISTRY_NAME=\nFROM ${REGISTRY_NAME}node:15-alpine\nCMD ["echo", "hello"]\n'
)
HELLO_TASK = """\
version: v1.1.0
steps:
  - build: -t {{.Run.Registry}}/hello-world:{{.Run.ID}} --build-arg REGISTRY_NAME={{.Values.REGISTRY_FROM_URL}} .
  - push: ["{{.Run.Registry}}/hello-world:{{.Run.ID}}"]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("walkthrough-home")
    with running_airlock(home) as running:
        for name in (HUB, PUBLIC, BASE, APP):
            running.create_registry(name, port=free_port())
        yield running
    env = {**os.environ, **engine_env(home)}
    left = subprocess.run(["podman", "ps", "--all", "--quiet"], env=env, capture_output=True,
                          text=True, check=False).stdout.split()  # fmt: skip
    if left:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *left], env=env, check=False)
    shutil.rmtree(EnginePaths.of(home).run_dir, ignore_errors=True)


def test_one_commit_runs_the_chain_and_a_red_base_stops_it_at_the_gate(
    server: Airlock, tmp_path: Path
) -> None:
    # Docker Hub's node, base-image-node on a commit hook, node-public and the seed's gate.
    base = set_up_chain(server, tmp_path, "Green")

    hello = tmp_path / "hello-world"
    hello.mkdir()
    (hello / "Dockerfile").write_text(HELLO_DOCKERFILE)
    (hello / "acr-task.yaml").write_text(HELLO_TASK)
    task(server, APP, "hello-world", hello / "acr-task.yaml", str(hello), BASE)

    # Once by hand, in order, as the seed does: each records what it builds on.
    for registry, name in ((PUBLIC, "node-public"), (BASE, "base-import-node"),
                           (APP, "hello-world")):  # fmt: skip
        run_by_hand(server, registry, name)
        assert ended(server, registry, name, 1)[0]["status"] == "Succeeded"
    # node-public's push started base-import-node again? No: it had not run yet then.
    time.sleep(2)
    baseline = {n: len(runs(server, r, n)) for r, n in
                ((PUBLIC, "node-public"), (BASE, "base-import-node"), (APP, "hello-world"))}  # fmt: skip

    # One commit (Orange: a valid change) runs the whole chain on its own.
    base.commit("Orange")
    public = ended(server, PUBLIC, "node-public", baseline["node-public"] + 1)
    gate = ended(server, BASE, "base-import-node", baseline["base-import-node"] + 1)
    app = ended(server, APP, "hello-world", baseline["hello-world"] + 1)
    assert (public[0]["trigger"], public[0]["status"]) == ("Commit", "Succeeded"), public[0]
    assert (gate[0]["trigger"], gate[0]["status"]) == ("Image Update", "Succeeded"), gate[0]
    assert (app[0]["trigger"], app[0]["status"]) == ("Image Update", "Succeeded"), app[0]
    tags = cli_json(server, "acr", "repository", "show-tags", "-n", BASE, "--repository", "node")
    assert "15-alpine" in tags and f"15-alpine-{gate[0]['runId']}" in tags, tags

    # Red: the gate fails at validate-base-image, pushes nothing, and hello-world stays.
    base.commit("Red")
    public = ended(server, PUBLIC, "node-public", baseline["node-public"] + 2)
    gate = ended(server, BASE, "base-import-node", baseline["base-import-node"] + 2)
    assert public[0]["status"] == "Succeeded" and gate[0]["status"] == "Failed", gate[0]
    log = server.cli("acr", "task", "logs", "-r", BASE, "--run-id", gate[0]["runId"],
                     check=False).stdout  # fmt: skip
    assert "ERROR: Invalid Color: Red" in log
    assert "failed to run step ID: validate-base-image: exit status 1" in log
    time.sleep(3)
    assert len(runs(server, APP, "hello-world")) == baseline["hello-world"] + 1
    after = cli_json(server, "acr", "repository", "show-tags", "-n", BASE, "--repository", "node")
    assert f"15-alpine-{gate[0]['runId']}" not in after, after
