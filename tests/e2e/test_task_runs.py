"""Task runs end to end: a real server, real podman, the CLI as a subprocess.

Every image here is built from this machine's /bin/busybox (there is no Docker Hub): a
"public" registry gets its base images from ``acr build``, tasks in another registry build,
test, run and push on top of them, and every step property the runner honours (``when``,
``detach``, ``ignoreErrors``, ``retries``, ``timeout``, ``repeat``, key vault secrets) is
checked by what the run's log, its steps and the registry show afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airlock.engine import EnginePaths, engine_env
from tests.support.cli import ok
from tests.support.engine import reset_engine
from tests.support.servers import Airlock, free_port, running_airlock
from tests.support.waiting import wait_for
from tests.support.walkthrough import IMPORT_BASEIMAGE_NODE, IMPORT_DOCKERFILE

pytestmark = pytest.mark.podman

APP = "appregistry"  # where the tasks live (ACR's $REGISTRY)
PUBLIC = "publicregistry"  # plays Docker Hub: base images are built into it
BUSYBOX = Path("/bin/busybox")
BUSYBOX_IMAGE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""
TABLE_COLUMNS = ["RUN ID", "TASK", "PLATFORM", "STATUS", "TRIGGER", "STARTED", "DURATION"]
TERMINAL = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")


# --- the server, and small helpers around the CLI -------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("task-runs-home")
    with running_airlock(home) as running:
        running.create_registry(APP, port=free_port())
        running.create_registry(PUBLIC, port=free_port())
        yield running
    reset_engine(home)


def as_json(server: Airlock, *args: str) -> Any:
    return json.loads(ok(server, *args, "-o", "json").stdout)


def tsv(server: Airlock, *args: str) -> str:
    return ok(server, *args, "-o", "tsv").stdout.strip()


def login_server(server: Airlock, registry: str) -> str:
    return server.registries[registry].removeprefix("http://")


def context(folder: Path, files: dict[str, str], *, busybox: bool = True) -> Path:
    """A context folder with ``files`` (shell scripts made executable) and /bin/busybox."""
    folder.mkdir(parents=True, exist_ok=True)
    if busybox:
        shutil.copy2(BUSYBOX, folder / "busybox")
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name.endswith(".sh"):
            path.chmod(0o755)
    return folder


def create_task(
    server: Airlock, name: str, text: str, folder: Path, *extra: str, registry: str = APP
) -> dict[str, Any]:
    task_file = folder.parent / f"{name}.yaml"
    task_file.write_text(text)
    made: dict[str, Any] = as_json(
        server, "acr", "task", "create", "-n", name, "-r", registry,
        "-f", str(task_file), "-c", str(folder), *extra,
    )  # fmt: skip
    return made


def split_output(stdout: str) -> tuple[str, dict[str, Any]]:
    """``acr task run -o json`` prints the log, then the run: (log, run)."""
    start = 0 if stdout.startswith("{") else stdout.rfind("\n{\n") + 1
    assert start >= 0 and stdout[start:].startswith("{"), stdout
    run: dict[str, Any] = json.loads(stdout[start:])
    return stdout[:start], run


def run_task(
    server: Airlock, name: str, *extra: str, registry: str = APP
) -> tuple[int, str, dict[str, Any], str]:
    """``acr task run``: (exit status, log, run, stderr)."""
    done = server.cli("acr", "task", "run", "-n", name, "-r", registry, *extra, "-o", "json",
                      check=False)  # fmt: skip
    log, run = split_output(done.stdout)
    return done.returncode, log, run, done.stderr


def tags(server: Airlock, registry: str, repository: str) -> list[str]:
    """The repository's tags; [] when it does not exist."""
    done = server.cli("acr", "repository", "show-tags", "-n", registry,
                      "--repository", repository, "-o", "json", check=False)  # fmt: skip
    if done.returncode != 0:
        assert "not found" in done.stderr, done.stderr
        return []
    found: list[str] = json.loads(done.stdout)
    return found


def show_run(server: Airlock, run_id: str, registry: str = APP) -> dict[str, Any]:
    run: dict[str, Any] = as_json(server, "acr", "task", "show-run", "-r", registry,
                                  "--run-id", run_id)  # fmt: skip
    return run


def steps_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in run["steps"]}


def table_rows(text: str) -> list[dict[str, str]]:
    """An ``-o table`` output as rows, cut where the dashes under the header are cut (a
    quick run's TASK cell is blank)."""
    lines = [line for line in text.splitlines() if line.strip()]
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    assert [lines[0][a:b].strip() for a, b in spans] == TABLE_COLUMNS, lines[0]
    cut = [(a, spans[i + 1][0] if i + 1 < len(spans) else None) for i, (a, _) in enumerate(spans)]
    return [
        {name: line[a:b].strip() for name, (a, b) in zip(TABLE_COLUMNS, cut, strict=True)}
        for line in lines[2:]
    ]


def build_public_base(server: Airlock, folder: Path, color: str) -> None:
    """The simulated public ``node:15-alpine``, built into the public registry."""
    dockerfile = BUSYBOX_IMAGE + f"ENV NODE_VERSION 15-alpine\nENV BACKGROUND_COLOR {color}\n"
    context(folder, {"Dockerfile": dockerfile})
    done = server.cli("acr", "build", "-r", PUBLIC, "--image", "node:15-alpine", str(folder),
                      "-o", "json", check=False)  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


# --- 1. build, test, push ------------------------------------------------------------------

HELLO_WORLD_TASK = """\
version: v1.1.0
steps:
  # build website and func-test images, concurrently
  - id: build-hello-world
    build: -t $Registry/hello-world:$ID -f hello-world.dockerfile .
    when: ["-"]
  - id: build-hello-world-test
    build: -t hello-world-test -f hello-world-test.dockerfile .
    when: ["-"]
  # run built images to be tested (as in acr-builder, a step without `when` waits for the
  # step before it only: the sample's hello-world would race its own build)
  - id: hello-world
    cmd: $Registry/hello-world:$ID
    when: ["build-hello-world", "build-hello-world-test"]
  - id: func-tests
    cmd: hello-world-test
    env:
      - test-target=hello-world
  # push hello-world if func-tests are successful
  - push:
    - $Registry/hello-world:$ID
"""
HELLO_WORLD_FILES = {
    "hello-world.dockerfile": BUSYBOX_IMAGE + 'CMD ["echo", "Hello from the hello-world image"]\n',
    "hello-world-test.dockerfile": BUSYBOX_IMAGE + 'COPY test.sh /test.sh\nCMD ["/test.sh"]\n',
    # A shell exports no variable whose name has a hyphen: read the container's own.
    "test.sh": "#!/bin/sh\ntarget=$(tr '\\0' '\\n' < /proc/1/environ | grep ^test-target=)\n"
    '[ "$target" = test-target=hello-world ] || exit 3\necho "func-tests passed against $target"\n',
}


def test_build_test_push_task(server: Airlock, tmp_path: Path) -> None:
    folder = context(tmp_path / "hello-world", HELLO_WORLD_FILES)
    create_task(server, "build-test-push", HELLO_WORLD_TASK, folder)

    code, log, run, stderr = run_task(server, "build-test-push")

    assert code == 0, f"{log}\n{stderr}"
    run_id = run["runId"]
    assert run["status"] == "Succeeded" and run["task"] == "build-test-push"
    assert "Hello from the hello-world image" in log
    assert "func-tests passed against test-target=hello-world" in log
    assert tags(server, APP, "hello-world") == [run_id]
    pushed = [(i["registry"], i["repository"], i["tag"]) for i in run["outputImages"]]
    assert pushed == [(login_server(server, APP), "hello-world", run_id)], run["outputImages"]
    assert all(i["digest"].startswith("sha256:") for i in run["outputImages"])

    table = ok(server, "acr", "task", "list-runs", "-r", APP, "-o", "table").stdout
    row = next(r for r in table_rows(table) if r["RUN ID"] == run_id)
    assert row["TASK"] == "build-test-push"
    assert (row["PLATFORM"], row["STATUS"], row["TRIGGER"]) == ("linux", "Succeeded", "Manual")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["STARTED"]), row
    assert re.fullmatch(r"\d\d:\d\d:\d\d", row["DURATION"]), row


# --- 2. the seed's gated import ------------------------------------------------------------

IMPORT_FILES = {
    "Dockerfile": IMPORT_DOCKERFILE,
    "test.sh": """#!/bin/sh
echo "Validating Image"
echo "NODE_VERSION: $NODE_VERSION"
echo "BACKGROUND_COLOR: $BACKGROUND_COLOR"
EXIT_CODE=0
if [ ""$(echo $BACKGROUND_COLOR | tr '[:lower:]' '[:upper:]') = 'RED' ]; then
    echo -e "\\e[31mERROR: Invalid Color:\\e[0m" ${BACKGROUND_COLOR}
    EXIT_CODE=1
else
  echo -e "\\e[32mValidation Complete - No Known Errors\\e[0m"
fi
exit ${EXIT_CODE}
""",
}


def test_gated_import_stops_red_and_promotes_green(server: Airlock, tmp_path: Path) -> None:
    public = login_server(server, PUBLIC)
    build_public_base(server, tmp_path / "base-red", "Red")
    folder = context(tmp_path / "import-baseimage-node", IMPORT_FILES, busybox=False)
    made = create_task(
        server, "base-import-node", IMPORT_BASEIMAGE_NODE, folder,
        "--set", f"REGISTRY_FROM_URL={public}/", "--assign-identity",
    )  # fmt: skip
    principal = made["identity"]["principalId"]
    public_id = tsv(server, "acr", "show", "-n", PUBLIC, "--query", "id")
    ok(server, "role", "assignment", "create", "--assignee", principal,
       "--role", "AcrPull", "--scope", public_id)  # fmt: skip
    ok(server, "acr", "task", "credential", "add", "-n", "base-import-node", "-r", APP,
       "--login-server", public, "--use-identity", "[system]")  # fmt: skip

    code, log, run, _ = run_task(server, "base-import-node")

    assert code != 0 and run["status"] == "Failed", log
    # The seed's log, line for line (the runner's lines carry Go's time prefix).
    expected = [
        "Launching container with name: validate-base-image",
        "Validating Image",
        "NODE_VERSION: 15-alpine",
        "BACKGROUND_COLOR: Red",
        "\x1b[31mERROR: Invalid Color:\x1b[0m Red",
        "Container failed during run: validate-base-image. No retries remaining.",
        "failed to run step ID: validate-base-image: exit status 1",
    ]
    lines = [re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", line) for line in log.splitlines()]
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected, lines[start:]
    steps = steps_of(run)
    assert steps["validate-base-image"]["status"] == "Failed"
    assert steps["validate-base-image"]["exitCode"] == 1
    assert steps["push-base-image"]["status"] == "Skipped"
    assert tags(server, APP, "node") == []

    build_public_base(server, tmp_path / "base-green", "Green")
    code, log, run, stderr = run_task(server, "base-import-node")

    assert code == 0, f"{log}\n{stderr}"
    assert "Validation Complete - No Known Errors" in log
    assert sorted(tags(server, APP, "node")) == ["15-alpine", f"15-alpine-{run['runId']}"]


def test_a_task_without_access_cannot_run_an_image_another_run_pulled(
    server: Airlock, tmp_path: Path
) -> None:
    public = login_server(server, PUBLIC)
    # A task whose identity has AcrPull on the public registry pulls its base image.
    build_public_base(server, tmp_path / "base", "Green")
    probe = f"version: v1.1.0\nsteps:\n  - cmd: docker pull {public}/node:15-alpine\n"
    folder = context(tmp_path / "ctx", {}, busybox=False)
    made = create_task(server, "pull-with-access", probe, folder, "--assign-identity")
    public_id = tsv(server, "acr", "show", "-n", PUBLIC, "--query", "id")
    ok(server, "role", "assignment", "create", "--assignee", made["identity"]["principalId"],
       "--role", "AcrPull", "--scope", public_id)  # fmt: skip
    ok(server, "acr", "task", "credential", "add", "-n", "pull-with-access", "-r", APP,
       "--login-server", public, "--use-identity", "[system]")  # fmt: skip
    assert run_task(server, "pull-with-access")[0] == 0
    # A task with no identity and no credential for the public registry.
    run_base = f"{public}/node:15-alpine sh -c 'echo color=$BACKGROUND_COLOR'"
    task = f"version: v1.1.0\nsteps:\n  - cmd: {run_base}\n"
    create_task(server, "no-access", task, folder)

    code, log, run, _ = run_task(server, "no-access")

    assert "color=Green" not in log
    assert code != 0 and run["status"] == "Failed", log


# --- 3. parallel steps ---------------------------------------------------------------------


def test_parallel_steps_overlap(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  # Each waits (up to 10 s) for the other's mark: run one after the other, both would fail.
  - id: left
    cmd: >
      bash -c 'touch /workspace/left-started; sleep 2; for i in $(seq 50); do
      test -e /workspace/right-started && echo left saw right && exit 0; sleep 0.2; done; exit 1'
    when: ["-"]
  - id: right
    cmd: >
      bash -c 'touch /workspace/right-started; sleep 2; for i in $(seq 50); do
      test -e /workspace/left-started && echo right saw left && exit 0; sleep 0.2; done; exit 1'
    when: ["-"]
  - id: after
    cmd: bash echo after both
    when: ["left", "right"]
  - id: last
    cmd: bash echo last
"""
    create_task(server, "parallel-steps", task, context(tmp_path / "ctx", {}, busybox=False))

    code, log, run, _ = run_task(server, "parallel-steps")

    assert code == 0, log
    assert "left saw right" in log and "right saw left" in log
    steps = steps_of(run)
    times = {
        name: (
            datetime.fromisoformat(steps[name]["startTime"]),
            datetime.fromisoformat(steps[name]["finishTime"]),
        )
        for name in ("left", "right", "after", "last")
    }
    (left_start, left_end), (right_start, right_end) = times["left"], times["right"]
    assert left_start < right_end and right_start < left_end, times
    # `after` names both; `last` (no when) waits for the step before it (acr-builder's rule).
    assert times["after"][0] >= max(left_end, right_end), times
    assert times["last"][0] >= times["after"][1], times


def test_parallel_docker_tags_keep_every_name(server: Airlock, tmp_path: Path) -> None:
    """Podman 4.3 loses one of two names given to an image at once; the runner takes the
    tags one at a time (the seed's two retag steps run side by side)."""
    names = [f"t{n}" for n in range(6)]
    lines = ["version: v1.1.0", "steps:", "  - id: build",
             "    build: -t {{.Run.Registry}}/many-tags:src ."]  # fmt: skip
    for name in names:
        lines += [f"  - id: tag-{name}", "    when: [build]",
                  f"    cmd: docker tag {{{{.Run.Registry}}}}/many-tags:src "
                  f"{{{{.Run.Registry}}}}/many-tags:{name}"]  # fmt: skip
    lines += [f"  - when: [{', '.join(f'tag-{n}' for n in names)}]", "    push:"]
    lines += [f"    - {{{{.Run.Registry}}}}/many-tags:{name}" for name in names]
    folder = context(tmp_path / "ctx", {"Dockerfile": BUSYBOX_IMAGE})
    create_task(server, "parallel-tags", "\n".join(lines) + "\n", folder)

    code, log, _, _ = run_task(server, "parallel-tags")

    assert code == 0, log
    assert sorted(tags(server, APP, "many-tags")) == names


def test_steps_share_the_workspace_and_honour_working_directories(
    server: Airlock, tmp_path: Path
) -> None:
    task = """\
version: v1.1.0
steps:
  - id: write-file
    cmd: bash -c 'echo written-by-the-first-step >> hello.txt'
  - id: read-file
    cmd: bash cat hello.txt
  - id: in-sub
    workingDirectory: sub
    cmd: bash -c 'pwd; cat inside.txt'
  - id: build-in-sub
    workingDirectory: sub
    build: -t sub-image:latest .
  - id: run-sub-image
    cmd: sub-image:latest
  - id: home
    cmd: bash -c 'echo $HOME; ls /acb/home > /dev/null && echo home-is-there'
"""
    files = {"sub/inside.txt": "inside-sub\n", "sub/Dockerfile": BUSYBOX_IMAGE + 'CMD ["pwd"]\n'}
    folder = context(tmp_path / "ctx", files)
    shutil.copy2(BUSYBOX, folder / "sub" / "busybox")
    create_task(server, "working-dirs", task, folder)

    code, log, _, _ = run_task(server, "working-dirs")

    assert code == 0, log
    lines = log.splitlines()
    assert "written-by-the-first-step" in lines
    assert lines[lines.index("/workspace/sub") + 1] == "inside-sub", log
    assert "/acb/home" in lines and "home-is-there" in lines
    assert not (folder / "hello.txt").exists()  # the run wrote in its own copy


# --- 4. a detached step serves a later one -------------------------------------------------


def test_detached_step_answers_by_its_id(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: web
    cmd: bash httpd -f -p 8080 -h /workspace/www
    detach: true
  - id: client
    cmd: >
      bash -c 'for i in 1 2 3 4 5 6 7 8 9 10; do
      wget -q -O - http://web:8080/index.html && exit 0; sleep 0.5; done; exit 1'
"""
    folder = context(tmp_path / "ctx", {"www/index.html": "served-by-the-web-step\n"},
                     busybox=False)  # fmt: skip
    create_task(server, "detached-web", task, folder)

    code, log, run, _ = run_task(server, "detached-web")

    assert code == 0, log
    assert "served-by-the-web-step" in log
    assert steps_of(run)["client"]["status"] == "Succeeded"


def test_two_runs_at_once_each_reach_their_own_web_step(server: Airlock, tmp_path: Path) -> None:
    """Each run has its own network: the host name ``web`` is that run's step."""
    task = """\
version: v1.1.0
steps:
  - id: web
    cmd: bash httpd -f -p 8080 -h /workspace/www
    detach: true
  - id: client
    cmd: >
      bash -c 'sleep 1; for i in 1 2 3 4 5 6 7 8 9 10; do
      wget -q -O - http://web:8080/index.html && exit 0; sleep 0.5; done; exit 1'
"""
    run_ids = {}
    for name in ("isolated-one", "isolated-two"):
        folder = context(tmp_path / name, {"www/index.html": f"page-of-{name}\n"}, busybox=False)
        create_task(server, name, task, folder)
        queued = as_json(server, "acr", "task", "run", "-n", name, "-r", APP, "--no-wait")
        run_ids[name] = queued["runId"]

    for name, run_id in run_ids.items():
        run = wait_for(
            lambda run_id=run_id: (r := show_run(server, run_id))["status"] in TERMINAL and r,
            what=f"run {run_id} ending",
        )
        logs = ok(server, "acr", "task", "logs", "-r", APP, "--run-id", run_id).stdout
        assert run["status"] == "Succeeded", logs
        pages = [line for line in logs.splitlines() if line.startswith("page-of-")]
        assert pages == [f"page-of-{name}"], logs


def test_a_published_port_is_on_loopback_only(server: Airlock, tmp_path: Path) -> None:
    port = free_port()
    task = f"""\
version: v1.1.0
steps:
  - id: site
    cmd: bash httpd -f -p 8080 -h /workspace/www
    detach: true
    ports: ["{port}:8080"]
  - id: hold
    cmd: bash sleep 8
"""
    folder = context(tmp_path / "ctx", {"www/index.html": "published-page\n"}, busybox=False)
    create_task(server, "published-port", task, folder)
    run_id = as_json(server, "acr", "task", "run", "-n", "published-port", "-r", APP,
                     "--no-wait")["runId"]  # fmt: skip

    def page() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return ""

    try:
        assert "published-page" in wait_for(page, what="the page on the published port", timeout=30)
        site = [n for n in podman_names(server.home) if n.endswith("-site")]
        env = {**os.environ, **engine_env(server.home)}
        bound = subprocess.run(["podman", "port", site[0]], env=env, capture_output=True,
                               text=True, timeout=60, check=True)  # fmt: skip
    finally:
        server.cli("acr", "task", "cancel-run", "-r", APP, "--run-id", run_id, check=False)
    assert bound.stdout.split() == ["8080/tcp", "->", f"127.0.0.1:{port}"], bound.stdout


# --- 5. ignoreErrors, retries, timeout, repeat ---------------------------------------------


def test_ignored_failure_lets_the_run_succeed(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: flaky
    cmd: bash -c 'echo about to fail; exit 4'
    ignoreErrors: true
  - id: after
    cmd: bash echo ran after the ignored failure
"""
    create_task(server, "ignore-errors", task, context(tmp_path / "ctx", {}, busybox=False))

    code, log, run, _ = run_task(server, "ignore-errors")

    assert code == 0 and run["status"] == "Succeeded", log
    assert "ran after the ignored failure" in log
    steps = steps_of(run)
    assert steps["flaky"]["status"] == "Failed" and steps["flaky"]["exitCode"] == 4
    assert "set to ignore errors" in log


def test_retries_until_the_step_succeeds(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: third-time-lucky
    cmd: >
      bash -c 'n=$(cat /workspace/count 2>/dev/null || echo 0); n=$((n + 1));
      echo $n > /workspace/count; echo attempt $n; test $n -ge 3'
    retries: 2
    retryDelay: 1
"""
    create_task(server, "retries-task", task, context(tmp_path / "ctx", {}, busybox=False))

    code, log, run, _ = run_task(server, "retries-task")

    assert code == 0 and run["status"] == "Succeeded", log
    assert [line for line in log.splitlines() if line.startswith("attempt ")] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]
    assert log.count("waiting 1 seconds before retrying") == 2, log
    # The counter lives in the run's copy of the context, never in the task's folder.
    assert not (tmp_path / "ctx" / "count").exists()


def test_step_timeout_fails_with_deadline_exceeded(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: too-slow
    cmd: bash sleep 60
    timeout: 2
  - id: never
    cmd: bash echo must not run
"""
    create_task(server, "timeout-task", task, context(tmp_path / "ctx", {}, busybox=False))

    code, log, run, _ = run_task(server, "timeout-task")

    assert code != 0 and run["status"] == "Failed", log
    assert "failed to run step ID: too-slow: context deadline exceeded" in log
    assert "must not run" not in log
    assert steps_of(run)["never"]["status"] == "Skipped"


def test_repeat_runs_the_step_again(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: again
    cmd: bash echo repeat-marker
    repeat: 2
"""
    create_task(server, "repeat-task", task, context(tmp_path / "ctx", {}, busybox=False))

    code, log, _, _ = run_task(server, "repeat-task")

    assert code == 0, log
    assert log.splitlines().count("repeat-marker") == 3, log


def test_run_timeout_ends_the_run_timeout(server: Airlock, tmp_path: Path) -> None:
    task = "version: v1.1.0\nsteps:\n  - id: sleeper\n    cmd: bash sleep 60\n"
    folder = context(tmp_path / "ctx", {}, busybox=False)
    create_task(server, "run-timeout", task, folder, "--timeout", "3")

    code, log, run, _ = run_task(server, "run-timeout")

    assert code != 0 and run["status"] == "Timeout", run
    assert "context deadline exceeded" in run["runErrorMessage"]
    assert f"Run ID: {run['runId']} failed after" in log
    assert steps_of(run)["sleeper"]["status"] == "Timeout"  # stopped by the run's timeout


def test_exited_with_and_exited_without(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: probe
    cmd: bash -c 'exit 3'
  - id: on-three
    when: [probe]
    exitedWith: [3]
    cmd: bash echo saw-three
  - id: not-three
    when: [probe]
    exitedWithout: [3]
    cmd: bash echo not-three
"""
    create_task(server, "exited-with", task, context(tmp_path / "ctx", {}, busybox=False))

    code, log, run, _ = run_task(server, "exited-with")

    assert code == 0 and run["status"] == "Succeeded", log
    steps = steps_of(run)
    assert (steps["probe"]["status"], steps["probe"]["exitCode"]) == ("Failed", 3)
    assert steps["on-three"]["status"] == "Succeeded" and "saw-three" in log.splitlines()
    assert steps["not-three"]["status"] == "Skipped" and "not-three" not in log.splitlines()


def test_set_secret_value_is_masked(server: Airlock, tmp_path: Path) -> None:
    task = "version: v1.1.0\nsteps:\n  - cmd: bash echo pw={{.Values.pw}}\n"
    folder = context(tmp_path / "ctx", {}, busybox=False)
    create_task(server, "set-secret", task, folder, "--set-secret", "pw=set-secret-Vb61")

    code, log, run, _ = run_task(server, "set-secret")

    assert code == 0, log
    assert "pw=***" in log.splitlines()
    assert "set-secret-Vb61" not in log and "set-secret-Vb61" not in json.dumps(run)


# --- 6. key vault secrets ------------------------------------------------------------------

VAULT = "runsvault"
SECRET_VALUE = "vault-secret-Xq83-never-in-clear"


@pytest.fixture(scope="module")
def vault_task(server: Airlock, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A vault with a secret and a task that echoes it; the task identity's principalId."""
    ok(server, "keyvault", "create", "--name", VAULT)
    ok(server, "keyvault", "secret", "set", "--vault-name", VAULT, "--name", "db-password",
       "--value", SECRET_VALUE)  # fmt: skip
    task = f"""\
version: v1.1.0
secrets:
  - id: s
    keyvault: https://{VAULT}.vault.azure.net/secrets/db-password
steps:
  - id: show
    cmd: bash echo "the secret is {{{{.Secrets.s}}}}"
"""
    folder = context(tmp_path_factory.mktemp("vault") / "ctx", {}, busybox=False)
    made = create_task(server, "vault-secret", task, folder, "--assign-identity")
    principal: str = made["identity"]["principalId"]
    return principal


def grant(server: Airlock, principal: str) -> None:
    ok(server, "keyvault", "set-policy", "--name", VAULT, "--object-id", principal,
       "--secret-permissions", "get")  # fmt: skip


def test_vault_secret_needs_a_policy_and_is_masked(server: Airlock, vault_task: str) -> None:
    # Without an access policy the run fails before any step, naming what to grant.
    code, log, run, _ = run_task(server, "vault-secret")
    assert code != 0 and run["status"] == "Failed", log
    assert "set-policy" in run["runErrorMessage"] and "set-policy" in log
    assert "the secret is" not in log

    grant(server, vault_task)
    code, log, run, _ = run_task(server, "vault-secret")

    assert code == 0, log
    assert "the secret is ***" in log
    assert SECRET_VALUE not in log and SECRET_VALUE not in json.dumps(run)
    logs = ok(server, "acr", "task", "logs", "-r", APP, "--run-id", run["runId"]).stdout
    assert "the secret is ***" in logs and SECRET_VALUE not in logs


def test_vault_secret_is_in_no_file_in_clear(server: Airlock, vault_task: str) -> None:
    grant(server, vault_task)
    code, log, _, _ = run_task(server, "vault-secret")
    assert code == 0 and "the secret is ***" in log, log

    in_clear = files_holding(server.home, SECRET_VALUE.encode())

    assert in_clear == [], in_clear


def test_secret_volume_from_the_vault(server: Airlock, vault_task: str, tmp_path: Path) -> None:
    """The acr-tasks sample mounts-secrets.yaml: a vault secret and a --set-secret value,
    base64 in the file, as files of a volume mounted into a step."""
    task = f"""\
version: v1.1.0
secrets:
  - id: sampleSecret
    keyvault: https://{VAULT}.vault.azure.net/secrets/db-password
volumes:
  - name: mysecrets
    secret:
      mysecret1: {{{{.Secrets.sampleSecret | b64enc}}}}
      mysecret2: {{{{.Values.mysecret | b64enc}}}}
steps:
  - cmd: bash -c 'cat /run/test/mysecret1; echo; cat /run/test/mysecret2; echo'
    volumeMounts:
      - name: mysecrets
        mountPath: /run/test
  - cmd: bash sha256sum /run/test/mysecret1 /run/test/mysecret2
    volumeMounts:
      - name: mysecrets
        mountPath: /run/test
"""
    other = "mounted-secret-Kp40"
    folder = context(tmp_path / "ctx", {}, busybox=False)
    made = create_task(server, "mount-secrets", task, folder, "--assign-identity",
                       "--set-secret", f"mysecret={other}")  # fmt: skip
    grant(server, made["identity"]["principalId"])

    code, log, _, _ = run_task(server, "mount-secrets")

    assert code == 0, log
    lines = log.splitlines()
    assert lines.count("***") == 2, log
    assert SECRET_VALUE not in log and other not in log
    for value, name in ((SECRET_VALUE, "mysecret1"), (other, "mysecret2")):
        digest = hashlib.sha256(value.encode()).hexdigest()
        assert f"{digest}  /run/test/{name}" in lines, log


def files_holding(root: Path, needle: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle in data:
            found.append(path)
    return found


# --- 7. --set values are data, never templates ---------------------------------------------


def test_set_value_with_template_text_is_passed_through(server: Airlock, tmp_path: Path) -> None:
    task = """\
version: v1.1.0
steps:
  - id: echo
    cmd: bash echo "created:{{.Values.fromcreate}} run:{{.Values.fromrun}}"
"""
    create_task(server, "literal-values", task, context(tmp_path / "ctx", {}, busybox=False),
                "--set", "fromcreate={{ .Secrets.x }}")  # fmt: skip

    code, log, _, _ = run_task(server, "literal-values", "--set", "fromrun={{.Run.ID}}")

    assert code == 0, log
    assert "created:{{ .Secrets.x }} run:{{.Run.ID}}" in log.splitlines()


# --- 8. what cannot run is refused before anything runs ------------------------------------

FIRST_STEP = "  - id: first\n    cmd: bash echo first-step-ran\n"
BAD_STEPS = {
    "host mount": ("  - build: -v /:/host -t x .\n", "'-v'"),
    "host network": ("  - cmd: bash echo hi\n    network: host\n", "network 'host'"),
    "port on every address": (
        "  - cmd: bash echo hi\n    ports: ['0.0.0.0:8080:80']\n",
        "loopback",
    ),
    "windows isolation": ("  - cmd: bash echo hi\n    isolation: hyperv\n", "Windows"),
    "docker manifest": ("  - cmd: docker manifest inspect x\n", "'docker manifest'"),
    "dockerfile outside the context": ("  - build: -f ../x -t x .\n", "outside the context"),
    "context outside the context": ("  - build: -t x ..\n", "outside the context"),
    "build secret from a host file": (
        "  - build: --secret id=s,src=/etc/shadow -t x .\n",
        "outside the context",
    ),
    "host mount in a cmd": ("  - cmd: -v /:/host bash ls /host\n", "'-v'"),
    "docker run on the host network": ("  - cmd: docker run --network host bash\n", "'--network'"),
    "privileged docker run": ("  - cmd: docker run --privileged bash\n", "'--privileged'"),
}


def runs_of(server: Airlock) -> list[str]:
    listed = as_json(server, "acr", "task", "list-runs", "-r", APP, "--top", "100")
    return [run["runId"] for run in listed]


@pytest.mark.parametrize("case", list(BAD_STEPS), ids=list(BAD_STEPS))
def test_bad_input_is_refused_before_anything_runs(
    server: Airlock, tmp_path: Path, case: str
) -> None:
    step, message = BAD_STEPS[case]
    folder = context(tmp_path / "ctx", {"Dockerfile": BUSYBOX_IMAGE})
    (tmp_path / "x").write_text(BUSYBOX_IMAGE)  # what `-f ../x` would reach
    task_file = tmp_path / "bad.yaml"
    task_file.write_text("version: v1.1.0\nsteps:\n" + FIRST_STEP + step)
    tasks_before = as_json(server, "acr", "task", "list", "-r", APP)
    runs_before = runs_of(server)

    created = server.cli("acr", "task", "create", "-n", "bad-task", "-r", APP,
                         "-f", str(task_file), "-c", str(folder), check=False)  # fmt: skip
    quick = server.cli("acr", "run", "-r", APP, "-f", str(task_file), str(folder), check=False)

    for done in (created, quick):
        assert done.returncode != 0, done.stdout
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "first-step-ran" not in done.stdout
    assert as_json(server, "acr", "task", "list", "-r", APP) == tasks_before
    assert runs_of(server) == runs_before


# --- 9. cancel-run -------------------------------------------------------------------------


def podman_names(home: Path) -> list[str]:
    done = subprocess.run(
        ["podman", "ps", "--all", "--format", "{{.Names}}"],
        env={**os.environ, **engine_env(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


@pytest.fixture(scope="module")
def canceled_run(server: Airlock, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run of ``bash sleep 60`` (and a step after it) canceled while its container runs,
    once the container is gone: the run as show-run gives it then."""
    task = (
        "version: v1.1.0\nsteps:\n  - id: sleeper\n    cmd: bash sleep 60\n"
        "  - id: later\n    cmd: bash echo later-step-ran\n"
    )
    folder = context(tmp_path_factory.mktemp("cancel") / "ctx", {}, busybox=False)
    create_task(server, "cancel-me", task, folder)
    queued = as_json(server, "acr", "task", "run", "-n", "cancel-me", "-r", APP, "--no-wait")
    run_id = queued["runId"]

    def sleeper() -> list[str]:
        return [n for n in podman_names(server.home) if n.endswith("-sleeper")]

    containers = wait_for(sleeper, what="the sleeper container starting")
    ok(server, "acr", "task", "cancel-run", "-r", APP, "--run-id", run_id)
    ended = wait_for(
        lambda: (run := show_run(server, run_id))["status"] in TERMINAL and run,
        what="the run ending",
    )
    assert ended["status"] == "Canceled", ended
    # The server marks the run at once; its worker sees it at its next heartbeat, stops the
    # container and removes it.
    wait_for(
        lambda: not set(containers) & set(podman_names(server.home)),
        what=f"the removal of {containers}",
    )
    return show_run(server, run_id)


def test_cancel_run_stops_the_container(server: Airlock, canceled_run: dict[str, Any]) -> None:
    assert canceled_run["status"] == "Canceled", canceled_run
    assert canceled_run["runErrorMessage"] == "canceled by request"
    logs = ok(server, "acr", "task", "logs", "-r", APP, "--run-id", canceled_run["runId"])
    assert "canceled by request" in logs.stdout, logs.stdout
    assert "later-step-ran" not in logs.stdout, logs.stdout
    assert [n for n in podman_names(server.home) if n.startswith("acb-")] == []


def test_a_canceled_run_leaves_no_step_running(canceled_run: dict[str, Any]) -> None:
    steps = steps_of(canceled_run)
    assert set(steps) == {"sleeper", "later"}, steps
    assert steps["sleeper"]["status"] in ("Canceled", "Failed"), steps
    assert steps["sleeper"]["finishTime"] is not None, steps
    assert steps["later"]["status"] == "Skipped", steps


def test_a_runs_network_stays_in_the_servers_engine_folder(server: Airlock, tmp_path: Path) -> None:
    task = "version: v1.1.0\nsteps:\n  - id: napper\n    cmd: bash sleep 60\n"
    create_task(server, "network-home", task, context(tmp_path / "ctx", {}, busybox=False))
    run_id = as_json(server, "acr", "task", "run", "-n", "network-home", "-r", APP,
                     "--no-wait")["runId"]  # fmt: skip
    try:
        names = wait_for(
            lambda: [n for n in podman_names(server.home) if n.endswith("-napper")],
            what="the napper container starting",
        )
        network = names[0].removesuffix("-napper") + "-acb_default_network.json"
        in_etc = (Path("/etc/containers/networks") / network).exists()
        in_home = (EnginePaths.of(server.home).root / "networks" / network).exists()
    finally:
        ok(server, "acr", "task", "cancel-run", "-r", APP, "--run-id", run_id)

    assert (in_home, in_etc) == (True, False)
