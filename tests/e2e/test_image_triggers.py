"""Base-image triggers end to end: a real server, real podman, the CLI as a subprocess.

A "public" registry gets base images from ``acr build``; Dockerfile tasks in another registry
build on them. Moving a tracked tag (a build, an import) runs the dependents with TRIGGER
``Image Update``, once per new digest; chains follow; a cycle stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.engine import EnginePaths, engine_env
from tests.support.cli import cli_json
from tests.support.servers import Airlock, free_port, running_airlock
from tests.support.waiting import wait_for

pytestmark = pytest.mark.podman

BASE = "trigbase"  # plays the public registry
APP = "trigapp"
BASE_FILE = "FROM scratch\nCOPY busybox /bin/busybox\nENV COLOR={color}\n"
APP_FILE = (
    "ARG REGISTRY_NAME\nFROM ${{REGISTRY_NAME}}/{repository}:{tag}\n"
    'CMD ["/bin/busybox", "echo", "app"]\n'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("image-triggers-home")
    with running_airlock(home) as running:
        running.create_registry(BASE, port=free_port())
        running.create_registry(APP, port=free_port())
        yield running
    env = {**os.environ, **engine_env(home)}
    left = subprocess.run(
        ["podman", "ps", "--all", "--quiet"], env=env, capture_output=True, text=True, check=False
    ).stdout.split()
    if left:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *left], env=env, check=False)
    shutil.rmtree(EnginePaths.of(home).run_dir, ignore_errors=True)


def login_server(server: Airlock, registry: str) -> str:
    return str(cli_json(server, "acr", "show", "-n", registry)["loginServer"])


def build_base(server: Airlock, folder: Path, repository: str, tag: str, color: str) -> None:
    """``acr build`` of a busybox base image with ``COLOR`` into the base registry."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", folder / "busybox")
    (folder / "Dockerfile").write_text(BASE_FILE.format(color=color))
    cli_json(server, "acr", "build", "-r", BASE, "--image", f"{repository}:{tag}", "--no-logs",
        str(folder))  # fmt: skip


def app_task(
    server: Airlock,
    folder: Path,
    name: str,
    base: str,
    image: str,
    registry: str = APP,
    role: str = "acrpull",
) -> None:
    """A Dockerfile task building ``image`` on ``base`` (``repository:tag`` in BASE),
    pulling it with its identity's AcrPull, as the seed 004 does (AcrPush for a task that
    pushes into BASE)."""
    repository, tag = base.rsplit(":", 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(APP_FILE.format(repository=repository, tag=tag))
    base_server = login_server(server, BASE)
    cli_json(server, "acr", "task", "create", "-r", registry, "-n", name, "-f", "Dockerfile",
        "-c", str(folder), "--image", image, "--arg", f"REGISTRY_NAME={base_server}",
        "--assign-identity")  # fmt: skip
    principal = cli_json(server, "acr", "task", "show", "-r", registry, "-n", name)["identity"][
        "principalId"
    ]
    scope = cli_json(server, "acr", "show", "-n", BASE)["id"]
    cli_json(server, "role", "assignment", "create", "--assignee", principal, "--scope", scope,
        "--role", role)  # fmt: skip
    cli_json(server, "acr", "task", "credential", "add", "-r", registry, "-n", name,
        "--login-server", base_server, "--use-identity", "[system]")  # fmt: skip


def runs(server: Airlock, task: str, registry: str = APP) -> list[dict[str, Any]]:
    found = cli_json(server, "acr", "task", "list-runs", "-r", registry, "-n", task, "--top", "50")
    return list(found)


def settled(server: Airlock, task: str, count: int, registry: str = APP) -> list[dict[str, Any]]:
    """The task's runs once there are ``count`` and none is queued or running."""

    def check() -> list[dict[str, Any]] | None:
        found = runs(server, task, registry)
        done = all(r["status"] not in ("Queued", "Running") for r in found)
        return found if len(found) >= count and done else None

    return list(wait_for(check, what=f"{count} finished run(s) of {task}", timeout=90))


def run_manually(server: Airlock, task: str, registry: str = APP) -> None:
    done = server.cli("acr", "task", "run", "-r", registry, "-n", task, "--no-logs", check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def quiet_for(server: Airlock, task: str, count: int, seconds: float = 3.0) -> None:
    """Nothing more starts for ``task`` within ``seconds``."""
    time.sleep(seconds)
    assert len(runs(server, task)) == count, runs(server, task)


def test_a_base_push_runs_its_dependents_once_per_new_digest(
    server: Airlock, tmp_path: Path
) -> None:
    build_base(server, tmp_path / "base", "node", "15-alpine", "green")
    app_task(server, tmp_path / "app", "helloworld", "node:15-alpine", "helloworld:{{.Run.ID}}")
    run_manually(server, "helloworld")
    first = settled(server, "helloworld", 1)
    assert [r["trigger"] for r in first] == ["Manual"] and first[0]["status"] == "Succeeded"
    shown = cli_json(server, "acr", "task", "show", "-r", APP, "-n", "helloworld")
    [dependency] = shown["baseImageDependencies"]
    assert (dependency["repository"], dependency["tag"], dependency["type"]) == (
        "node",
        "15-alpine",
        "RunTime",
    )
    assert dependency["digest"].startswith("sha256:")

    # A new base image: one Image Update run, which says what moved.
    build_base(server, tmp_path / "base", "node", "15-alpine", "orange")
    found = settled(server, "helloworld", 2)
    assert found[0]["trigger"] == "Image Update" and found[0]["status"] == "Succeeded", found
    cause = found[0]["imageUpdateTrigger"]
    assert cause["image"] == f"{login_server(server, BASE)}/node:15-alpine", cause
    assert cause["oldDigest"] == dependency["digest"] != cause["newDigest"], cause
    quiet_for(server, "helloworld", 2)
    only_updates = cli_json(
        server, "acr", "task", "list-runs", "-r", APP, "--trigger", "Image Update"
    )
    assert [r["runId"] for r in only_updates] == [found[0]["runId"]]

    # The same digest pushed again (the tag re-put by skopeo): nothing runs.
    base_server = login_server(server, BASE)
    user, password = server.admin_credentials(BASE)
    image = f"{base_server}/node:15-alpine"
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
         "--src-creds", f"{user}:{password}", "--dest-creds", f"{user}:{password}",
         f"docker://{image}", f"docker://{image}"],
        env={**os.environ, **engine_env(server.home)}, check=True, capture_output=True,
    )  # fmt: skip
    quiet_for(server, "helloworld", 2)

    # Two quick pushes of different digests (the second while the first one's run may still
    # be queued or running): one run each, never a duplicate.
    build_base(server, tmp_path / "base", "node", "15-alpine", "red")
    build_base(server, tmp_path / "base", "node", "15-alpine", "blue")
    found = settled(server, "helloworld", 4)
    assert [r["trigger"] for r in found].count("Image Update") == 3, found
    quiet_for(server, "helloworld", 4)


def test_an_import_over_a_tracked_tag_triggers_like_a_push(server: Airlock, tmp_path: Path) -> None:
    build_base(server, tmp_path / "pub", "public/alpine", "3", "one")
    base_server = login_server(server, BASE)
    cli_json(server, "acr", "import", "-n", BASE, "--source", f"{base_server}/public/alpine:3",
        "--image", "gated/alpine:3")  # fmt: skip
    app_task(server, tmp_path / "app", "importuser", "gated/alpine:3", "importuser:v1")
    run_manually(server, "importuser")
    settled(server, "importuser", 1)
    build_base(server, tmp_path / "pub", "public/alpine", "3", "two")
    quiet_for(server, "importuser", 1, seconds=2)  # the public tag is not what it tracks
    cli_json(server, "acr", "import", "-n", BASE, "--source", f"{base_server}/public/alpine:3",
        "--image", "gated/alpine:3", "--force")  # fmt: skip
    found = settled(server, "importuser", 2)
    assert found[0]["trigger"] == "Image Update", found


def test_a_chain_runs_on_its_own_and_a_failed_link_stops_it(
    server: Airlock, tmp_path: Path
) -> None:
    """base -> middle (builds mid:latest on it, in BASE) -> leaf (builds on mid:latest)."""
    build_base(server, tmp_path / "base", "chain/root", "1", "green")
    app_task(server, tmp_path / "middle", "chainmiddle", "chain/root:1", "mid:latest",
             registry=BASE)  # fmt: skip
    app_task(server, tmp_path / "leaf", "chainleaf", "mid:latest", "leaf:{{.Run.ID}}")
    run_manually(server, "chainmiddle", BASE)
    settled(server, "chainmiddle", 1, BASE)
    run_manually(server, "chainleaf")
    settled(server, "chainleaf", 1)
    # The impact of a change of the root, before it happens: both links, with their depth.
    root = f"{login_server(server, BASE)}/chain/root:1"
    preview = cli_json(server, "acr", "task", "list", "-r", APP, "--base-image", root)
    assert [(t["depth"], t["registry"], t["name"]) for t in preview] == [
        (1, BASE, "chainmiddle"),
        (2, APP, "chainleaf"),
    ], preview

    build_base(server, tmp_path / "base", "chain/root", "1", "orange")
    middle = settled(server, "chainmiddle", 2, BASE)
    leaf = settled(server, "chainleaf", 2)
    assert middle[0]["trigger"] == leaf[0]["trigger"] == "Image Update"
    assert leaf[0]["status"] == "Succeeded", leaf

    # The middle link fails (its Dockerfile now runs a failing command): nothing downstream.
    (tmp_path / "middle" / "Dockerfile").write_text(
        (tmp_path / "middle" / "Dockerfile").read_text() + 'RUN ["/bin/busybox", "false"]\n'
    )
    build_base(server, tmp_path / "base", "chain/root", "1", "red")
    middle = settled(server, "chainmiddle", 3, BASE)
    assert middle[0]["status"] == "Failed", middle
    quiet_for(server, "chainleaf", 2)


def test_a_cycle_between_two_tasks_is_stopped_with_a_message(
    server: Airlock, tmp_path: Path
) -> None:
    """cyclea builds cyc/a on cyc/b; cycleb builds cyc/b on cyc/a."""
    build_base(server, tmp_path / "seed", "cyc/b", "latest", "seed")
    base = login_server(server, BASE)
    app_task(server, tmp_path / "a", "cyclea", "cyc/b:latest", f"{base}/cyc/a:latest",
             role="acrpush")  # fmt: skip
    app_task(server, tmp_path / "b", "cycleb", "cyc/a:latest", f"{base}/cyc/b:latest",
             role="acrpush")  # fmt: skip
    run_manually(server, "cyclea")
    settled(server, "cyclea", 1)
    run_manually(server, "cycleb")
    # cycleb's push starts cyclea, whose push starts cycleb once more; then the cycle is seen.
    a_runs = settled(server, "cyclea", 2)
    b_runs = settled(server, "cycleb", 2)
    time.sleep(4)
    assert len(runs(server, "cyclea")) == 2 and len(runs(server, "cycleb")) == 2
    assert a_runs[0]["trigger"] == b_runs[0]["trigger"] == "Image Update"

    def stopped() -> bool:
        logs = server.cli("acr", "task", "logs", "-r", APP, "--run-id", b_runs[0]["runId"],
                          check=False).stdout  # fmt: skip
        return "Image Update trigger of task 'cyclea' stopped" in logs

    wait_for(stopped, what="the cycle message in the last run's log", timeout=10)


def test_schedule_on_create_and_trigger_settings_show_and_bad_input_stores_nothing(
    server: Airlock, tmp_path: Path
) -> None:
    folder = tmp_path / "ctx"
    folder.mkdir()
    cli_json(server, "acr", "task", "create", "-r", APP, "-n", "nightlyjob", "--cmd",
        "bash echo hi", "-c", "/dev/null", "--schedule", "0 3 * * *",
        "--base-image-trigger-type", "all", "--base-image-trigger-enabled", "false")  # fmt: skip
    shown = cli_json(server, "acr", "task", "show", "-r", APP, "-n", "nightlyjob")["trigger"]
    assert shown["baseImageTrigger"]["baseImageTriggerType"] == "All"
    assert shown["baseImageTrigger"]["status"] == "Disabled"
    [timer] = shown["timerTriggers"]
    assert (timer["name"], timer["schedule"], timer["status"]) == ("t1", "0 3 * * *", "Enabled")
    cli_json(
        server, "acr", "task", "update", "-r", APP, "-n", "nightlyjob", "--schedule", "0 4 * * *"
    )
    [timer] = cli_json(server, "acr", "task", "show", "-r", APP, "-n", "nightlyjob")["trigger"][
        "timerTriggers"
    ]
    assert timer["schedule"] == "0 4 * * *"
    for bad in (("--schedule", "61 * * * *"), ("--base-image-trigger-name", "bad name!")):
        done = server.cli("acr", "task", "create", "-r", APP, "-n", "refusedjob", "--cmd",
                          "bash echo hi", "-c", "/dev/null", *bad, check=False)  # fmt: skip
        assert done.returncode != 0, done.stdout
        assert "ERROR" in done.stderr, done.stderr
        missing = server.cli("acr", "task", "show", "-r", APP, "-n", "refusedjob", check=False)
        assert missing.returncode != 0, "a refused create stored the task"


def test_tracked_bases_survive_a_restart_and_a_kill_and_nothing_fires_twice(
    server: Airlock, tmp_path: Path
) -> None:
    build_base(server, tmp_path / "base", "restart/node", "1", "green")
    app_task(server, tmp_path / "app", "restartapp", "restart/node:1", "restartapp:{{.Run.ID}}")
    run_manually(server, "restartapp")
    settled(server, "restartapp", 1)

    # A clean restart: the tracked base is still there and a push runs the task once.
    server.restart()
    build_base(server, tmp_path / "base", "restart/node", "1", "orange")
    found = settled(server, "restartapp", 2)
    assert found[0]["trigger"] == "Image Update", found

    # kill -9 right after a push was handled: the new server reads the event log from its
    # cursor, and the firing already recorded keeps it from running the task again.
    build_base(server, tmp_path / "base", "restart/node", "1", "red")
    settled(server, "restartapp", 3)
    server.kill9()
    server.restart()
    quiet_for(server, "restartapp", 3, seconds=4)
    build_base(server, tmp_path / "base", "restart/node", "1", "blue")
    found = settled(server, "restartapp", 4)
    assert [r["trigger"] for r in found].count("Image Update") == 3, found
