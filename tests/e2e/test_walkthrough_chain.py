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

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.engine import EnginePaths, engine_env
from tests.support.servers import Airlock, free_port, running_airlock
from tests.support.walkthrough import IMPORT_BASEIMAGE_NODE, IMPORT_DOCKERFILE

pytestmark = pytest.mark.podman

HUB, PUBLIC, BASE, APP = "dockerhubsim", "publicsim", "baseartifacts", "helloregistry"

NODE_IMAGE = (
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
)
BASE_IMAGE_NODE = """\
ARG REGISTRY_NAME=
FROM ${{REGISTRY_NAME}}node:15-alpine
ENV NODE_VERSION 15-alpine
ENV BACKGROUND_COLOR {color}
"""
NODE_PUBLIC_TASK = """\
version: v1.1.0
steps:
  - build: -t {{.Run.Registry}}/node:15-alpine --build-arg REGISTRY_NAME={{.Values.REGISTRY_FROM_URL}} .
  - push: ["{{.Run.Registry}}/node:15-alpine"]
"""
TEST_SH = """\
#!/bin/sh
echo "Validating Image"
echo "NODE_VERSION: $NODE_VERSION"
echo "BACKGROUND_COLOR: $BACKGROUND_COLOR"
EXIT_CODE=0
if [ "$(echo $BACKGROUND_COLOR | tr '[:lower:]' '[:upper:]')" = 'RED' ]; then
    echo "ERROR: Invalid Color: $BACKGROUND_COLOR"
    EXIT_CODE=1
else
  echo "Validation Complete - No Known Errors"
fi
exit ${EXIT_CODE}
"""
HELLO_DOCKERFILE = (
    'ARG REGISTRY_NAME=\nFROM ${REGISTRY_NAME}node:15-alpine\nCMD ["echo", "hello"]\n'
)
HELLO_TASK = """\
version: v1.1.0
steps:
  - build: -t {{.Run.Registry}}/hello-world:{{.Run.ID}} --build-arg REGISTRY_NAME={{.Values.REGISTRY_FROM_URL}} .
  - push: ["{{.Run.Registry}}/hello-world:{{.Run.ID}}"]
"""


def git(cwd: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Walk Through",
        "GIT_AUTHOR_EMAIL": "walk@example.invalid",
        "GIT_COMMITTER_NAME": "Walk Through",
        "GIT_COMMITTER_EMAIL": "walk@example.invalid",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return (done.stdout + done.stderr).strip()


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


def cli(server: Airlock, *args: str) -> Any:
    done = server.cli(*args, "-o", "json", check=False)
    assert done.returncode == 0, f"airlock {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else None


def login(server: Airlock, registry: str) -> str:
    return str(cli(server, "acr", "show", "-n", registry)["loginServer"])


def task(server: Airlock, registry: str, name: str, file: Path, context: str, source: str) -> None:
    """A task with an identity that pulls from ``source`` through its AcrPull role there."""
    cli(server, "acr", "task", "create", "-r", registry, "-n", name, "-f", str(file), "-c",
        context, "--set", f"REGISTRY_FROM_URL={login(server, source)}/",
        "--assign-identity")  # fmt: skip
    principal = cli(server, "acr", "task", "show", "-r", registry, "-n", name)["identity"][
        "principalId"
    ]
    scope = cli(server, "acr", "show", "-n", source)["id"]
    cli(server, "role", "assignment", "create", "--assignee", principal, "--scope", scope,
        "--role", "acrpull")  # fmt: skip
    cli(server, "acr", "task", "credential", "add", "-r", registry, "-n", name,
        "--login-server", login(server, source), "--use-identity", "[system]")  # fmt: skip


def runs(server: Airlock, registry: str, name: str) -> list[dict[str, Any]]:
    return list(cli(server, "acr", "task", "list-runs", "-r", registry, "-n", name))


def wait_for(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def ended(server: Airlock, registry: str, name: str, count: int) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        found = runs(server, registry, name)
        done = len(found) >= count and all(r["status"] not in ("Queued", "Running") for r in found)
        return found if done else None

    return list(wait_for(check, f"{count} ended run(s) of {name}"))


def run_by_hand(server: Airlock, registry: str, name: str) -> None:
    done = server.cli("acr", "task", "run", "-r", registry, "-n", name, "--no-logs", check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_commit_runs_the_chain_and_a_red_base_stops_it_at_the_gate(
    server: Airlock, tmp_path: Path
) -> None:
    # "Docker Hub": node:15-alpine, built from busybox.
    hub = tmp_path / "hub"
    hub.mkdir()
    shutil.copy2("/bin/busybox", hub / "busybox")
    (hub / "Dockerfile").write_text(NODE_IMAGE)
    cli(server, "acr", "build", "-r", HUB, "--image", "node:15-alpine", "--no-logs", str(hub))

    # base-image-node, a git repository the node-public task builds from.
    bare = tmp_path / "base-image-node.git"
    work = tmp_path / "base-image-node"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    git(work, "checkout", "--quiet", "-B", "main")

    def commit(color: str) -> None:
        (work / "Dockerfile").write_text(BASE_IMAGE_NODE.format(color=color))
        git(work, "add", "Dockerfile")
        git(work, "commit", "--quiet", "-m", f"background {color}")
        git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main")

    commit("Green")
    files = tmp_path / "files"
    files.mkdir()
    (files / "node-public.yaml").write_text(NODE_PUBLIC_TASK)
    task(server, PUBLIC, "node-public", files / "node-public.yaml", f"file://{bare}#main", HUB)
    cli(server, "acr", "task", "hook", "install", "-r", PUBLIC, "-n", "node-public",
        "--repository", str(bare))  # fmt: skip

    importer = tmp_path / "import-baseimage-node"
    importer.mkdir()
    (importer / "Dockerfile").write_text(IMPORT_DOCKERFILE)
    (importer / "test.sh").write_text(TEST_SH)
    (importer / "test.sh").chmod(0o755)
    (importer / "acr-task.yaml").write_text(IMPORT_BASEIMAGE_NODE)
    task(server, BASE, "base-import-node", importer / "acr-task.yaml", str(importer), PUBLIC)

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
    commit("Orange")
    public = ended(server, PUBLIC, "node-public", baseline["node-public"] + 1)
    gate = ended(server, BASE, "base-import-node", baseline["base-import-node"] + 1)
    app = ended(server, APP, "hello-world", baseline["hello-world"] + 1)
    assert (public[0]["trigger"], public[0]["status"]) == ("Commit", "Succeeded"), public[0]
    assert (gate[0]["trigger"], gate[0]["status"]) == ("Image Update", "Succeeded"), gate[0]
    assert (app[0]["trigger"], app[0]["status"]) == ("Image Update", "Succeeded"), app[0]
    tags = cli(server, "acr", "repository", "show-tags", "-n", BASE, "--repository", "node")
    assert "15-alpine" in tags and f"15-alpine-{gate[0]['runId']}" in tags, tags

    # Red: the gate fails at validate-base-image, pushes nothing, and hello-world stays.
    commit("Red")
    public = ended(server, PUBLIC, "node-public", baseline["node-public"] + 2)
    gate = ended(server, BASE, "base-import-node", baseline["base-import-node"] + 2)
    assert public[0]["status"] == "Succeeded" and gate[0]["status"] == "Failed", gate[0]
    log = server.cli("acr", "task", "logs", "-r", BASE, "--run-id", gate[0]["runId"],
                     check=False).stdout  # fmt: skip
    assert "ERROR: Invalid Color: Red" in log
    assert "failed to run step ID: validate-base-image: exit status 1" in log
    time.sleep(3)
    assert len(runs(server, APP, "hello-world")) == baseline["hello-world"] + 1
    after = cli(server, "acr", "repository", "show-tags", "-n", BASE, "--repository", "node")
    assert f"15-alpine-{gate[0]['runId']}" not in after, after
