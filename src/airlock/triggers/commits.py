"""Commit triggers: a pushed head of a task's branch runs the task once, with TRIGGER ``Commit``.

Two ways see a push, and both end in ``fire``: the webhook (``POST /api/webhooks/tasks/{id}``,
GitHub-, Gitea- and GitLab-style push payloads, ``airlock.server.routes.webhooks``) and
polling of the branch with ``git ls-remote`` (``airlock.triggers.commit_poller``). ``fire``
claims (task, commit) in ``FiringStore`` first, so whichever sees a commit first queues its
run and the other finds it claimed: one run per pushed head.

The pure parts live here too: the three signature styles (``verify_signature``), the push
payload (``parse_push``), which branch a task follows (``matching_branch``), and reading
``git ls-remote`` output; ``DefaultBranches`` asks a repository for its default branch once
and keeps the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from airlock.common.jsonio import JSONLimitError, loads_bounded
from airlock.errors import InvalidArgumentError, UnauthenticatedError
from airlock.registry.registries import RegistryCatalog, RegistryRecord
from airlock.runner.contexts import ContextKind, ContextSpec, parse_context
from airlock.runner.credentials import as_token
from airlock.runner.errors import ContextError
from airlock.runner.git import GitTimeoutError, git_environment, last_lines, run_git
from airlock.runner.service import RunService
from airlock.runs.tasks import ENABLED, Task, TaskStore
from airlock.triggers.firings import COMMIT, FiringStore
from airlock.triggers.settings import TriggerSettingsStore

log = logging.getLogger(__name__)

COMMIT_TRIGGER = "Commit"
BRANCH_PREFIX = "refs/heads/"
LS_REMOTE_TIMEOUT = 30.0
DEFAULT_BRANCH_TTL = 600.0
MAX_MESSAGE = 1000
MAX_REF = 255
_SHA = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")

# Signature headers, lower case (Starlette's headers are case-insensitive; tests pass dicts).
GITHUB_SIGNATURE = "x-hub-signature-256"
GITEA_SIGNATURE = "x-gitea-signature"
GITLAB_TOKEN = "x-gitlab-token"
EVENT_HEADERS = ("x-github-event", "x-gitea-event", "x-gogs-event", "x-gitlab-event")
PUSH_EVENTS = frozenset({"push", "push hook"})
PING_EVENTS = frozenset({"ping"})


class GitLookupError(Exception):
    """``git ls-remote`` failed or timed out; the message names the context, never a token."""


# --- the webhook's pure parts ---------------------------------------------------------------


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """Check the request is signed with the task's webhook secret; returns the style
    (``github``, ``gitea`` or ``gitlab``). A missing or wrong signature: 401.

    GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``; Gitea:
    ``X-Gitea-Signature: <hex HMAC-SHA256>`` (Gitea also sends GitHub's header, which is
    checked first); GitLab: ``X-Gitlab-Token: <the secret itself>``. Every comparison is
    made in constant time.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    key = secret.encode()
    if GITHUB_SIGNATURE in lower:
        given = lower[GITHUB_SIGNATURE].strip()
        scheme, _, digest = given.partition("=")
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if scheme.lower() == "sha256" and hmac.compare_digest(digest.lower(), expected):
            return "github"
        raise UnauthenticatedError("the webhook signature (X-Hub-Signature-256) is wrong")
    if GITEA_SIGNATURE in lower:
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(lower[GITEA_SIGNATURE].strip().lower(), expected):
            return "gitea"
        raise UnauthenticatedError("the webhook signature (X-Gitea-Signature) is wrong")
    if GITLAB_TOKEN in lower:
        if hmac.compare_digest(lower[GITLAB_TOKEN].strip().encode(), key):
            return "gitlab"
        raise UnauthenticatedError("the webhook token (X-Gitlab-Token) is wrong")
    raise UnauthenticatedError(
        "the webhook call is not signed: send X-Hub-Signature-256 (GitHub), X-Gitea-Signature "
        "(Gitea) or X-Gitlab-Token (GitLab) made with the task's webhook secret"
    )


def event_kind(headers: Mapping[str, str]) -> str:
    """``push`` or ``ping``; any other event, or none: 400."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name in EVENT_HEADERS:
        if name in lower:
            event = lower[name].strip().lower()
            if event in PUSH_EVENTS:
                return "push"
            if event in PING_EVENTS:
                return "ping"
            raise InvalidArgumentError(
                f"the webhook event {lower[name][:40]!r} is not a push; "
                "send push events only ('push', or GitLab's 'Push Hook')"
            )
    raise InvalidArgumentError(
        "the webhook call names no event: send X-GitHub-Event, X-Gitea-Event or X-Gitlab-Event"
    )


@dataclass(frozen=True, slots=True)
class Push:
    """What a push payload says: the ref, the new head (``after``), the head commit."""

    ref: str
    after: str
    message: str | None = None
    author: str | None = None

    @property
    def branch(self) -> str | None:
        """The branch pushed, or None for a tag or another kind of ref."""
        if self.ref.startswith(BRANCH_PREFIX) and len(self.ref) > len(BRANCH_PREFIX):
            return self.ref[len(BRANCH_PREFIX) :]
        return None

    @property
    def deleted(self) -> bool:
        """A deleted branch: the new head is all zeros (nothing to run)."""
        return set(self.after) == {"0"}


def parse_push(body: bytes) -> Push:
    """The push payload of GitHub, Gitea or GitLab (the same fields: ``ref``, ``after``; the
    head commit as ``head_commit`` or the entry of ``commits`` whose id is ``after``).
    Anything else: 400 naming what is wrong."""
    try:
        document = loads_bounded(body)
    except JSONLimitError as exc:
        raise InvalidArgumentError(f"the push payload is refused: {exc}") from None
    except ValueError:
        raise InvalidArgumentError("the push payload must be a JSON object") from None
    if not isinstance(document, dict):
        raise InvalidArgumentError("the push payload must be a JSON object")
    ref = document.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/") or len(ref) > MAX_REF:
        raise InvalidArgumentError("the push payload has no 'ref' such as refs/heads/main")
    if not ref.isprintable() or any(c.isspace() for c in ref):
        raise InvalidArgumentError("the push payload's 'ref' holds a space or control character")
    after = document.get("after")
    if not isinstance(after, str) or not _SHA.match(after.lower()):
        raise InvalidArgumentError(
            "the push payload has no 'after' commit (40 or 64 hexadecimal digits)"
        )
    after = after.lower()
    head = _head_commit(document, after)
    return Push(ref=ref, after=after, message=_message(head), author=_author(head))


def _head_commit(document: dict[str, Any], after: str) -> dict[str, Any] | None:
    head = document.get("head_commit")
    if isinstance(head, dict):
        return head
    commits = document.get("commits")
    if isinstance(commits, list):
        entries = [c for c in commits if isinstance(c, dict)]
        for entry in entries:
            if str(entry.get("id", "")).lower() == after:
                return entry
        if entries:
            return entries[-1]
    return None


def _message(head: dict[str, Any] | None) -> str | None:
    message = None if head is None else head.get("message")
    return message[:MAX_MESSAGE] if isinstance(message, str) else None


def _author(head: dict[str, Any] | None) -> str | None:
    author = None if head is None else head.get("author")
    if isinstance(author, dict):
        name = author.get("name") or author.get("username")
        return name[:200] if isinstance(name, str) else None
    return None


def matching_branch(followed: str, push: Push) -> bool:
    """Whether a push is to the branch a task follows (its ``#branch``, or the default one)."""
    return push.branch is not None and push.branch == followed


# --- asking the repository ----------------------------------------------------------------


def git_context(task: Task) -> ContextSpec | None:
    """The task's context when it is a git repository, else None."""
    try:
        spec = parse_context(task.context)
    except ContextError:
        return None
    return spec if spec.kind is ContextKind.GIT else None


def ls_remote(
    spec: ContextSpec, token: str | None, args: list[str], timeout: float = LS_REMOTE_TIMEOUT
) -> str:
    """``git ls-remote <args>`` of the context, without the user's configuration and with the
    task's token scoped to the URL; blocking (call it in a thread, with no database access)."""
    secret = as_token(token) if spec.is_http else None
    with tempfile.TemporaryDirectory(prefix="airlock-git-home-") as home:
        env = git_environment(Path(home), spec.git_url, secret)
        try:
            result = run_git(["ls-remote", *args[:-1], spec.git_url, args[-1]], env, timeout)
        except GitTimeoutError:
            raise GitLookupError(
                f"git ls-remote of {spec} did not answer within {timeout:g} s"
            ) from None
    if result.returncode != 0:
        raise GitLookupError(f"git ls-remote of {spec} failed: {last_lines(result.stderr)}")
    return result.stdout


def parse_symref_head(output: str) -> tuple[str | None, str | None]:
    """(default branch, its head) from ``git ls-remote --symref <url> HEAD``."""
    branch = head = None
    for line in output.splitlines():
        left, _, name = line.partition("\t")
        if name.strip() != "HEAD":
            continue
        if left.startswith("ref: "):
            target = left[len("ref: ") :].strip()
            if target.startswith(BRANCH_PREFIX):
                branch = target[len(BRANCH_PREFIX) :]
        elif _SHA.match(left.strip()):
            head = left.strip()
    return branch, head


def parse_branch_head(output: str, branch: str) -> str | None:
    """The head of ``refs/heads/<branch>`` in ``git ls-remote`` output, or None."""
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if name.strip() == BRANCH_PREFIX + branch and _SHA.match(sha.strip()):
            return sha.strip()
    return None


def remote_head(spec: ContextSpec, token: str | None) -> tuple[str, str | None]:
    """(branch, head) of the branch a context follows, in one ``ls-remote``; blocking."""
    if spec.branch:
        output = ls_remote(spec, token, [BRANCH_PREFIX + spec.branch])
        return spec.branch, parse_branch_head(output, spec.branch)
    branch, head = parse_symref_head(ls_remote(spec, token, ["--symref", "HEAD"]))
    if branch is None:
        raise GitLookupError(f"the git context {spec} has no default branch (an empty repository?)")
    return branch, head


class DefaultBranches:
    """Repositories' default branches, asked once (``ls-remote --symref <url> HEAD``) and kept
    for ``ttl`` seconds. ``lookup`` blocks: call it in a thread. Thread-safe."""

    def __init__(self, ttl: float = DEFAULT_BRANCH_TTL) -> None:
        self.ttl = ttl
        self._known: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def remember(self, url: str, branch: str) -> None:
        with self._lock:
            self._known[url] = (branch, time.monotonic())

    def cached(self, url: str) -> str | None:
        with self._lock:
            entry = self._known.get(url)
        if entry is None or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[0]

    def lookup(self, spec: ContextSpec, token: str | None) -> str:
        known = self.cached(spec.git_url)
        if known is not None:
            return known
        branch, _ = remote_head(spec, token)
        self.remember(spec.git_url, branch)
        return branch


# --- firing -------------------------------------------------------------------------------


class CommitServices(Protocol):
    """What commit triggers use of the server's services (``airlock.server.services``)."""

    registries: RegistryCatalog
    tasks: TaskStore
    runner: RunService
    trigger_settings: TriggerSettingsStore
    firings: FiringStore


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a seen commit did: the run queued, or why none was."""

    run_id: str | None
    reason: str | None = None


def not_firing(services: CommitServices, task: Task) -> str | None:
    """Why a task takes no commit trigger now, or None when it does."""
    if task.status != ENABLED:
        return "the task is disabled"
    if git_context(task) is None:
        return "the task's context is not a git repository"
    if not services.trigger_settings.get(task.id).commit_enabled:
        return "the task's commit trigger is off"
    return None


def fire(
    services: CommitServices,
    registry: RegistryRecord,
    task: Task,
    commit: str,
    branch: str,
    source: str,
    *,
    author: str | None = None,
    message: str | None = None,
) -> Outcome:
    """Queue the task's run for ``commit`` unless it fired for it already (exactly once per
    (task, commit), whoever sees it first); the commit becomes the task's last one."""
    if not services.firings.claim(task.id, COMMIT, commit):
        services.trigger_settings.set_last_commit(task.id, commit)
        return Outcome(None, f"commit {commit[:12]} already fired the task")
    try:
        run = services.runner.queue_task(
            registry,
            task,
            trigger=COMMIT_TRIGGER,
            commit=commit,
            branch=branch,
            cause={"kind": "commit", "source": source, "author": author, "message": message},
        )
    except BaseException:
        services.firings.release(task.id, COMMIT, commit)
        raise
    services.firings.attach(task.id, COMMIT, commit, run.id)
    services.trigger_settings.set_last_commit(task.id, commit)
    log.info(
        "commit %s on %s queued run %s of task %s/%s (%s)",
        commit[:12],
        branch,
        run.run_id,
        registry.name,
        task.name,
        source,
    )
    return Outcome(run.run_id)


def find_task(services: CommitServices, task_id: str) -> tuple[RegistryRecord, Task] | None:
    """The task with this id and its registry, or None."""
    if not task_id or len(task_id) > 64:
        return None
    for registry in services.registries.all():
        for task in services.tasks.all(registry.id):
            if task.id == task_id:
                return registry, task
    return None
