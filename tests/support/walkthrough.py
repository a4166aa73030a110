# ruff: noqa: E501  (the seed's task files, line for line)
"""The seed walkthrough's pieces for the tests that run its chain (test_walkthrough_chain,
test_walkthrough_restart, test_task_runs): the files of its repositories, helpers for its
tasks and runs, and ``set_up_chain``, which builds everything up to hello-world.

    commit to base-image-node ──> node-public        (builds node:15-alpine into "public")
                                      │ push
                                      v
                                  base-import-node   (the seed's gate task, verbatim)
                                      │ push
                                      v
                                  hello-world        (the test's own: built on base-artifacts)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import cli_json
from tests.support.git import git
from tests.support.servers import Airlock
from tests.support.waiting import wait_for

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
IMPORT_BASEIMAGE_NODE = """\
version: v1.1.0
steps:
  - id: build-test-base-image
    # Build off the base image we'll track
    # Add a test script to do unit test validations
    # Note: the test validation image isn't saved to the registry
    # but the task logs captures log validation results
    build: >
      --build-arg REGISTRY_FROM_URL={{.Values.REGISTRY_FROM_URL}}
      -f ./Dockerfile
      -t {{.Run.Registry}}/node-import:test
      .
  - id: validate-base-image
    # only continues if node-import:test returns a non-zero code
    when: ['build-test-base-image']
    cmd: "{{.Run.Registry}}/node-import:test"
  - id: pull-base-image
    # import the public image to base-artifacts
    # Override the stable tag,
    # and create a unique tag to enable rollback
    # to a previously working image
    when: ['validate-base-image']
    cmd: >
        docker pull {{.Values.REGISTRY_FROM_URL}}node:15-alpine
  - id: retag-base-image
    when: ['pull-base-image']
    cmd: docker tag {{.Values.REGISTRY_FROM_URL}}node:15-alpine {{.Run.Registry}}/node:15-alpine
  - id: retag-base-image-unique-tag
    when: ['pull-base-image']
    cmd: docker tag {{.Values.REGISTRY_FROM_URL}}node:15-alpine {{.Run.Registry}}/node:15-alpine-{{.Run.ID}}
  - id: push-base-image
    when: ['retag-base-image', 'retag-base-image-unique-tag']
    push:
    - "{{.Run.Registry}}/node:15-alpine"
    - "{{.Run.Registry}}/node:15-alpine-{{.Run.ID}}"
"""
IMPORT_DOCKERFILE = """\
ARG REGISTRY_FROM_URL=
FROM ${REGISTRY_FROM_URL}node:15-alpine
WORKDIR /test
COPY ./test.sh .
CMD ./test.sh
"""


def login(server: Airlock, registry: str) -> str:
    return str(cli_json(server, "acr", "show", "-n", registry)["loginServer"])


def task(server: Airlock, registry: str, name: str, file: Path, context: str, source: str) -> None:
    """A task with an identity that pulls from ``source`` through its AcrPull role there."""
    cli_json(server, "acr", "task", "create", "-r", registry, "-n", name, "-f", str(file), "-c",
        context, "--set", f"REGISTRY_FROM_URL={login(server, source)}/",
        "--assign-identity")  # fmt: skip
    principal = cli_json(server, "acr", "task", "show", "-r", registry, "-n", name)["identity"][
        "principalId"
    ]
    scope = cli_json(server, "acr", "show", "-n", source)["id"]
    cli_json(server, "role", "assignment", "create", "--assignee", principal, "--scope", scope,
        "--role", "acrpull")  # fmt: skip
    cli_json(server, "acr", "task", "credential", "add", "-r", registry, "-n", name,
        "--login-server", login(server, source), "--use-identity", "[system]")  # fmt: skip


def runs(server: Airlock, registry: str, name: str) -> list[dict[str, Any]]:
    return list(cli_json(server, "acr", "task", "list-runs", "-r", registry, "-n", name))


def ended(
    server: Airlock, registry: str, name: str, count: int, timeout: float = 120
) -> list[dict[str, Any]]:
    """The task's runs once there are ``count`` and none is queued or running."""

    def check() -> list[dict[str, Any]] | None:
        found = runs(server, registry, name)
        done = len(found) >= count and all(r["status"] not in ("Queued", "Running") for r in found)
        return found if done else None

    return list(wait_for(check, what=f"{count} ended run(s) of {name}", timeout=timeout))


def run_by_hand(server: Airlock, registry: str, name: str) -> None:
    done = server.cli("acr", "task", "run", "-r", registry, "-n", name, "--no-logs", check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass(frozen=True)
class BaseRepository:
    """base-image-node: a bare repository (the task's context) and a working clone."""

    bare: Path
    work: Path

    def commit(self, color: str) -> None:
        """The seed's edit: BACKGROUND_COLOR, committed and pushed (the hook fires)."""
        (self.work / "Dockerfile").write_text(BASE_IMAGE_NODE.format(color=color))
        git(self.work, "add", "Dockerfile")
        git(self.work, "commit", "--quiet", "-m", f"background {color}")
        git(self.work, "push", "--quiet", "origin", "HEAD:refs/heads/main")


def set_up_chain(server: Airlock, folder: Path, color: str) -> BaseRepository:
    """The Docker Hub stand-in's node image, base-image-node at ``color`` with node-public on
    its commit hook, and the seed's gate base-import-node (the registries exist already)."""
    hub = folder / "hub"
    hub.mkdir()
    shutil.copy2("/bin/busybox", hub / "busybox")
    (hub / "Dockerfile").write_text(NODE_IMAGE)
    cli_json(server, "acr", "build", "-r", HUB, "--image", "node:15-alpine", "--no-logs", str(hub))

    base = BaseRepository(folder / "base-image-node.git", folder / "base-image-node")
    git(folder, "init", "--quiet", "--bare", "--initial-branch=main", str(base.bare))
    git(folder, "clone", "--quiet", str(base.bare), str(base.work))
    git(base.work, "checkout", "--quiet", "-B", "main")
    base.commit(color)
    files = folder / "files"
    files.mkdir()
    (files / "node-public.yaml").write_text(NODE_PUBLIC_TASK)
    task(server, PUBLIC, "node-public", files / "node-public.yaml", f"file://{base.bare}#main", HUB)
    cli_json(server, "acr", "task", "hook", "install", "-r", PUBLIC, "-n", "node-public",
        "--repository", str(base.bare))  # fmt: skip

    importer = folder / "import-baseimage-node"
    importer.mkdir()
    (importer / "Dockerfile").write_text(IMPORT_DOCKERFILE)
    (importer / "test.sh").write_text(TEST_SH)
    (importer / "test.sh").chmod(0o755)
    (importer / "acr-task.yaml").write_text(IMPORT_BASEIMAGE_NODE)
    task(server, BASE, "base-import-node", importer / "acr-task.yaml", str(importer), PUBLIC)
    return base
