"""``acr task create -f FILE --context GIT`` reads FILE from the context, as ACR does, when it
is not a file on this machine (a real server, real git repositories, the CLI as a subprocess).

- a task file in a bare repository's branch makes the task; the file is checked as loaded
  from there (an error names the file and line); a file that is not there is refused naming
  the file and the context, and nothing is stored;
- ``task update -f`` reads it again (the commit's new file replaces the stored one);
- a local file still wins when it exists, and /dev/null has no files to read.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.git import git
from tests.support.servers import Airlock, airlock_executable, free_port, running_airlock

REGISTRY = "ctxfileregistry"
GOOD = "version: v1.1.0\nsteps:\n  - cmd: busybox echo {{.Values.GREETING}}\n"
BROKEN = "version: v1.1.0\nsteps:\n  - cmd: busybox echo hi\n    when: ['nowhere']\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    with running_airlock(tmp_path_factory.mktemp("ctxfile-home")) as running:
        running.create_registry(REGISTRY, port=free_port())
        yield running


def repository(folder: Path, files: dict[str, str]) -> tuple[Path, Path]:
    bare, work = folder / "repo.git", folder / "work"
    git(folder, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(folder, "clone", "--quiet", str(bare), str(work))
    git(work, "checkout", "--quiet", "-B", "main")
    commit(work, files)
    return bare, work


def commit(work: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "files")
    git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main")


def create(server: Airlock, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_airlock(), "acr", "task", "create", "-r", REGISTRY, *args, "-o", "json"],
        cwd=cwd, env=server.env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _airlock() -> list[str]:
    return list(airlock_executable())


def tasks(server: Airlock) -> list[str]:
    done = server.cli("acr", "task", "list", "-r", REGISTRY, "-o", "json")
    return [t["name"] for t in json.loads(done.stdout)]


def test_the_task_file_is_read_from_the_git_context(server: Airlock, tmp_path: Path) -> None:
    bare, work = repository(tmp_path, {"ci/acr-task.yaml": GOOD, "broken.yaml": BROKEN})
    elsewhere = tmp_path / "elsewhere"  # the CLI runs where no such file exists
    elsewhere.mkdir()
    context = f"file://{bare}#main"

    made = create(server, elsewhere, "-n", "fromgit", "-f", "ci/acr-task.yaml", "--context",
                  context, "--set", "GREETING=hello")  # fmt: skip
    assert made.returncode == 0, made.stderr
    step = json.loads(made.stdout)["step"]
    assert step["type"] == "FileTask" and step["taskFilePath"] == "ci/acr-task.yaml", step

    broken = create(server, elsewhere, "-n", "broken", "-f", "broken.yaml", "--context", context)
    assert broken.returncode != 0
    assert "broken.yaml" in broken.stderr and "nowhere" in broken.stderr, broken.stderr

    missing = create(server, elsewhere, "-n", "missing", "-f", "nope.yaml", "--context", context)
    assert missing.returncode != 0
    assert "the task file 'nope.yaml' is not in the context" in missing.stderr, missing.stderr
    assert str(bare) in missing.stderr

    escaping = create(server, elsewhere, "-n", "escaping", "-f", "../x.yaml", "--context", context)
    assert escaping.returncode != 0 and "'..'" in escaping.stderr, escaping.stderr
    assert tasks(server) == ["fromgit"]

    # update -f reads the file again: the new commit's broken file is refused, the fixed one
    # is taken.
    commit(work, {"ci/acr-task.yaml": BROKEN})
    update = [*_airlock(), "acr", "task", "update", "-r", REGISTRY, "-n", "fromgit",
              "-f", "ci/acr-task.yaml"]  # fmt: skip
    refused = subprocess.run(update, cwd=elsewhere, env=server.env(), capture_output=True,
                             text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode != 0 and "nowhere" in refused.stderr, refused.stderr
    commit(work, {"ci/acr-task.yaml": GOOD.replace("echo", "echo again")})
    taken = subprocess.run(update, cwd=elsewhere, env=server.env(), capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
    assert taken.returncode == 0, taken.stderr


def test_a_local_file_wins_and_dev_null_has_no_files(server: Airlock, tmp_path: Path) -> None:
    bare, _ = repository(tmp_path, {"acr-task.yaml": BROKEN})
    local = tmp_path / "local"
    local.mkdir()
    (local / "acr-task.yaml").write_text(GOOD)
    made = create(server, local, "-n", "localwins", "-f", "acr-task.yaml", "--context",
                  f"file://{bare}#main", "--set", "GREETING=hi")  # fmt: skip
    assert made.returncode == 0, made.stderr  # the context's copy is broken: the local one

    nothing = create(server, tmp_path, "-n", "devnull", "-f", "absent.yaml", "--context",
                     "/dev/null")  # fmt: skip
    assert nothing.returncode != 0 and "absent.yaml" in nothing.stderr, nothing.stderr
    assert "devnull" not in tasks(server)
