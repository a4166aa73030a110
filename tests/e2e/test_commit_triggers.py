"""Commit triggers end to end: a real server, real bare git repositories, the CLI as a
subprocess, the installed post-receive hook calling the webhook with curl.

- through the hook: a pushed commit gives exactly one ``Commit`` run whose log shows the sha
  (real podman), and the webhook seeing the commit again starts nothing;
- bad calls start nothing: a wrong or missing signature 401, a malformed payload or another
  event 400, an unknown task 404; a push to another branch or a deleted branch: 200 and no run;
- polling alone (``AIRLOCK_COMMIT_POLL_SECONDS=1``, no hook): nothing for the commit that was
  there when the task was made, one run for a new commit;
- the webhook and polling seeing one commit, in either order: one run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import ok
from tests.support.git import git
from tests.support.servers import Airlock, free_port, start_airlock
from tests.support.waiting import wait_for

APP = "commitregistry"
TERMINAL = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")


# --- git ----------------------------------------------------------------------------------


class Repository:
    """A bare repository (branch main) and a working copy that pushes to it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        self.bare = folder / "repo.git"
        self.work = folder / "work"
        git(folder, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        git(folder, "clone", "--quiet", str(self.bare), str(self.work))
        git(self.work, "checkout", "--quiet", "-B", "main")
        self.count = 0

    def commit(self, message: str = 'change "quoted" \\ and more') -> str:
        self.count += 1
        (self.work / "file.txt").write_text(f"change {self.count}\n")
        git(self.work, "add", "file.txt")
        git(self.work, "commit", "--quiet", "-m", message)
        return git(self.work, "rev-parse", "HEAD")

    def push(self, ref: str = "main") -> str:
        """Push HEAD to ``ref``; returns what git printed (the hook's lines: 'remote: ...')."""
        return git(self.work, "push", "--quiet", "origin", f"HEAD:refs/heads/{ref}")

    @property
    def context(self) -> str:
        return f"file://{self.bare}#main"


# --- the server ---------------------------------------------------------------------------


def make_task(server: Airlock, name: str, repo: Repository) -> dict[str, str]:
    """A task on the repository's main branch; returns its webhook (url, secret)."""
    ok(server, "acr", "task", "create", "-n", name, "-r", APP,
       "--cmd", "bash echo commit={{.Run.Commit}} branch={{.Run.Branch}}",
       "-c", repo.context)  # fmt: skip
    status, webhook = server.api("GET", f"/api/registries/{APP}/tasks/{name}/webhook")
    assert status == 200, webhook
    assert isinstance(webhook, dict)
    return {"url": str(webhook["url"]), "secret": str(webhook["secret"])}


def runs_of(server: Airlock, task: str) -> list[dict[str, Any]]:
    status, listed = server.api("GET", f"/api/registries/{APP}/runs?top=100")
    assert status == 200 and isinstance(listed, list), listed
    return [run for run in listed if run["task"] == task]


def signed(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={digest}"}


def call(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def push_payload(sha: str, ref: str = "refs/heads/main") -> bytes:
    return json.dumps(
        {"ref": ref, "before": "0" * 40, "after": sha, "head_commit": {"id": sha, "message": "m"}}
    ).encode()


def start(home: Path, **env: str) -> Iterator[Airlock]:
    server = start_airlock(home, extra_env=env)
    try:
        server.create_registry(APP, port=free_port())
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    """No polling: what runs here came through the webhook."""
    yield from start(tmp_path_factory.mktemp("commit-hook-home"), AIRLOCK_COMMIT_POLL_SECONDS="0")


@pytest.fixture(scope="module")
def polling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    """Polling every second; no workers, so that runs stay Queued (and are only counted)."""
    yield from start(
        tmp_path_factory.mktemp("commit-poll-home"),
        AIRLOCK_COMMIT_POLL_SECONDS="1",
        AIRLOCK_WORKERS="0",
    )


# --- through the installed hook -----------------------------------------------------------


@pytest.mark.podman
def test_a_push_through_the_installed_hook_runs_the_task_once(
    server: Airlock, tmp_path: Path
) -> None:
    repo = Repository(tmp_path / "git")
    repo.commit("first")
    repo.push()
    webhook = make_task(server, "hooktask", repo)
    install = ("acr", "task", "hook", "install", "--name", "hooktask", "-r", APP,
               "--repository", str(repo.bare))  # fmt: skip
    installed = json.loads(ok(server, *install, "-o", "json").stdout)
    hook = repo.bare / "hooks" / "post-receive"
    assert installed["hook"] == str(hook)
    assert hook.stat().st_mode & 0o777 == 0o700
    assert webhook["secret"] not in json.dumps(installed)
    again = server.cli(*install, check=False)
    assert again.returncode != 0 and "--force" in again.stderr, again.stderr
    assert runs_of(server, "hooktask") == []

    sha = repo.commit()
    started = time.monotonic()
    printed = repo.push()
    assert time.monotonic() - started < 10
    assert "did not take" not in printed, printed  # the hook's only line is its failure
    run = wait_for(lambda: runs_of(server, "hooktask"), what="the hook's run")[0]
    assert run["trigger"] == "Commit", run

    def finished() -> dict[str, Any] | None:
        status, shown = server.api("GET", f"/api/registries/{APP}/runs/{run['runId']}")
        assert status == 200 and isinstance(shown, dict)
        return shown if shown["status"] in TERMINAL else None

    shown = wait_for(finished, what="the run to finish", timeout=180)
    logs = ok(server, "acr", "task", "logs", "-r", APP, "--run-id", run["runId"]).stdout
    assert shown["status"] == "Succeeded", logs
    assert f"commit={sha} branch=main" in logs, logs

    # The webhook seeing the same commit again starts nothing.
    body = push_payload(sha)
    status, answer = call(webhook["url"], body, signed(body, webhook["secret"]))
    assert status == 200 and answer["queued"] is None, answer
    assert "already fired" in answer["reason"]
    assert len(runs_of(server, "hooktask")) == 1
    assert webhook["secret"] not in server.log()


# --- refusals and pushes that run nothing -------------------------------------------------


def test_bad_webhook_calls_are_refused_and_start_nothing(server: Airlock, tmp_path: Path) -> None:
    repo = Repository(tmp_path / "git")
    sha = repo.commit()
    repo.push()
    webhook = make_task(server, "refusetask", repo)
    url, secret = webhook["url"], webhook["secret"]
    body = push_payload(sha)

    status, answer = call(url, body, signed(body, "not-the-secret"))
    assert status == 401, answer
    status, answer = call(url, body, {"X-GitHub-Event": "push"})
    assert status == 401, answer
    status, answer = call(url, body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"})
    assert status == 401, answer

    malformed = b'{"ref": "refs/heads/main", "after": "nope"}'
    status, answer = call(url, malformed, signed(malformed, secret))
    assert status == 400, answer
    not_json = b"ref=refs/heads/main"
    status, answer = call(url, not_json, signed(not_json, secret))
    assert status == 400, answer
    status, answer = call(url, body, {**signed(body, secret), "X-GitHub-Event": "issues"})
    assert status == 400, answer

    unknown = url.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    status, answer = call(unknown, body, signed(body, secret))
    assert status == 404, answer

    other = push_payload(sha, "refs/heads/develop")
    status, answer = call(url, other, signed(other, secret))
    assert (status, answer["queued"]) == (200, None), answer
    assert "develop" in answer["reason"]
    deleted = push_payload("0" * 40)
    status, answer = call(url, deleted, signed(deleted, secret))
    assert (status, answer["queued"]) == (200, None) and "deleted" in answer["reason"], answer
    tag = push_payload(sha, "refs/tags/v1")
    status, answer = call(url, tag, signed(tag, secret))
    assert (status, answer["queued"]) == (200, None), answer

    assert runs_of(server, "refusetask") == []
    assert secret not in server.log()


def test_gitea_and_gitlab_styles_and_a_disabled_trigger(server: Airlock, tmp_path: Path) -> None:
    repo = Repository(tmp_path / "git")
    repo.commit()
    repo.push()
    webhook = make_task(server, "stylestask", repo)
    url, secret = webhook["url"], webhook["secret"]

    ok(server, "acr", "task", "update", "-n", "stylestask", "-r", APP, "--status", "Disabled")
    first = push_payload(repo.commit())
    status, answer = call(url, first, signed(first, secret))
    assert (status, answer["queued"]) == (200, None) and "disabled" in answer["reason"], answer
    ok(server, "acr", "task", "update", "-n", "stylestask", "-r", APP, "--status", "Enabled")

    gitea = {"X-Gitea-Event": "push", "X-Gitea-Signature": signed(first, secret)[
        "X-Hub-Signature-256"].removeprefix("sha256=")}  # fmt: skip
    status, answer = call(url, first, gitea)
    assert status == 202 and answer["queued"], answer
    second = push_payload(repo.commit())
    status, answer = call(url, second, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret})
    assert status == 202 and answer["queued"], answer
    listed = runs_of(server, "stylestask")
    assert answer["queued"] in {r["runId"] for r in listed}
    assert len(listed) == 2 and {r["trigger"] for r in listed} == {"Commit"}
    # show-run says which commit started it, with the payload's message.
    shown = next(r for r in listed if r["runId"] == answer["queued"])["sourceTrigger"]
    assert shown["commitId"] == json.loads(second)["after"] and shown["branchName"] == "main"
    assert shown["message"] == "m", shown


# --- polling ------------------------------------------------------------------------------


def test_polling_alone_runs_a_new_commit_once(polling: Airlock, tmp_path: Path) -> None:
    repo = Repository(tmp_path / "git")
    repo.commit("already there")
    repo.push()
    make_task(polling, "polltask", repo)
    time.sleep(3)  # three polls: the commit that was there runs nothing
    assert runs_of(polling, "polltask") == []

    repo.commit("new")
    repo.push()
    runs = wait_for(
        lambda: runs_of(polling, "polltask"), what="the polled commit's run", timeout=30
    )
    time.sleep(3)  # three more polls: still one run
    runs = runs_of(polling, "polltask")
    assert len(runs) == 1 and runs[0]["trigger"] == "Commit", runs


def test_the_webhook_and_polling_seeing_one_commit_give_one_run(
    polling: Airlock, tmp_path: Path
) -> None:
    repo = Repository(tmp_path / "git")
    repo.commit()
    repo.push()
    webhook = make_task(polling, "bothtask", repo)
    url, secret = webhook["url"], webhook["secret"]
    time.sleep(2)  # polling has seen the first commit

    # The webhook first, then polling sees the same head.
    sha = repo.commit()
    repo.push()
    body = push_payload(sha)
    status, answer = call(url, body, signed(body, secret))
    if status == 200:  # polling was quicker this time: it queued the run
        assert "already fired" in answer["reason"], answer
    else:
        assert status == 202, answer
    time.sleep(3)
    assert len(runs_of(polling, "bothtask")) == 1

    # Polling first, then the webhook for the same head.
    sha = repo.commit()
    repo.push()
    wait_for(lambda: len(runs_of(polling, "bothtask")) == 2, what="the polled run", timeout=30)
    body = push_payload(sha)
    status, answer = call(url, body, signed(body, secret))
    assert (status, answer["queued"]) == (200, None) and "already fired" in answer["reason"]
    time.sleep(2)
    assert len(runs_of(polling, "bothtask")) == 2
