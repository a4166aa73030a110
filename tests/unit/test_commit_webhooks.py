"""Commit webhooks' pure parts: the three signature styles, push payloads of GitHub, Gitea and
GitLab, the branch a task follows, a deleted branch, ``git ls-remote`` of a real repository,
and the post-receive hook's text."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from airlock.cli.errors import CLIError
from airlock.cli.task_hook import bare_repository, hook_script, write_hook
from airlock.errors import InvalidArgumentError, UnauthenticatedError
from airlock.runner.contexts import parse_context
from airlock.triggers.commit_poller import POLL_ENV, poll_interval
from airlock.triggers.commits import (
    DefaultBranches,
    GitLookupError,
    Push,
    event_kind,
    matching_branch,
    parse_branch_head,
    parse_push,
    parse_symref_head,
    remote_head,
    verify_signature,
)
from tests.support.git import git

SECRET = "s3cret-webhook-value-0123456789abcdef"
SHA = "a" * 40
BODY = json.dumps({"ref": "refs/heads/main", "after": SHA}).encode()


def hexmac(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- signatures ---------------------------------------------------------------------------


def test_github_signature() -> None:
    headers = {"X-Hub-Signature-256": "sha256=" + hexmac(BODY)}
    assert verify_signature(headers, BODY, SECRET) == "github"


def test_gitea_signature() -> None:
    assert verify_signature({"X-Gitea-Signature": hexmac(BODY)}, BODY, SECRET) == "gitea"


def test_gitlab_token() -> None:
    assert verify_signature({"X-Gitlab-Token": SECRET}, BODY, SECRET) == "gitlab"


def test_header_names_are_case_insensitive() -> None:
    headers = {"x-hub-signature-256": "SHA256=" + hexmac(BODY).upper()}
    assert verify_signature(headers, BODY, SECRET) == "github"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + hexmac(BODY, "another secret")},
        {"X-Hub-Signature-256": "sha1=" + hexmac(BODY)},
        {"X-Hub-Signature-256": hexmac(BODY)},  # without 'sha256='
        {"X-Hub-Signature-256": ""},
        {"X-Gitea-Signature": hexmac(BODY + b" ")},
        {"X-Gitea-Signature": "sha256=" + hexmac(BODY)},
        {"X-Gitlab-Token": SECRET[:-1]},
        {"X-Gitlab-Token": ""},
        # A signature made with the secret does not pass as GitLab's token, nor the reverse.
        {"X-Gitlab-Token": hexmac(BODY)},
        {"X-Gitea-Signature": SECRET},
    ],
    ids=[
        "none",
        "github-wrong-secret",
        "github-sha1",
        "github-no-scheme",
        "github-empty",
        "gitea-other-body",
        "gitea-with-scheme",
        "gitlab-wrong",
        "gitlab-empty",
        "gitlab-hmac",
        "gitea-plain-secret",
    ],
)
def test_a_missing_or_wrong_signature_is_401(headers: dict[str, str]) -> None:
    with pytest.raises(UnauthenticatedError) as caught:
        verify_signature(headers, BODY, SECRET)
    assert caught.value.status == 401
    assert SECRET not in caught.value.message


def test_a_signature_of_another_body_is_refused() -> None:
    other = json.dumps({"ref": "refs/heads/main", "after": "b" * 40}).encode()
    with pytest.raises(UnauthenticatedError):
        verify_signature({"X-Hub-Signature-256": "sha256=" + hexmac(BODY)}, other, SECRET)


# --- events -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"X-GitHub-Event": "push"}, "push"),
        ({"X-Gitea-Event": "push"}, "push"),
        ({"X-Gitlab-Event": "Push Hook"}, "push"),
        ({"X-GitHub-Event": "ping"}, "ping"),
    ],
)
def test_push_events(headers: dict[str, str], kind: str) -> None:
    assert event_kind(headers) == kind


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-GitHub-Event": "pull_request"}, {"X-Gitlab-Event": "Tag Push Hook"}],
)
def test_other_events_are_400(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidArgumentError):
        event_kind(headers)


# --- payloads -----------------------------------------------------------------------------


def test_github_payload_with_head_commit() -> None:
    body = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "AB" * 20,
        "head_commit": {"id": "ab" * 20, "message": "Fix it", "author": {"name": "Ada"}},
        "repository": {"full_name": "org/repo"},
    }
    push = parse_push(json.dumps(body).encode())
    assert push == Push("refs/heads/main", "ab" * 20, "Fix it", "Ada")
    assert push.branch == "main" and not push.deleted


def test_gitlab_payload_takes_the_commit_named_after() -> None:
    body = {
        "object_kind": "push",
        "ref": "refs/heads/feature/x",
        "after": "c" * 40,
        "commits": [
            {"id": "c" * 40, "message": "head", "author": {"name": "Grace"}},
            {"id": "b" * 40, "message": "older", "author": {"name": "Linus"}},
        ],
    }
    push = parse_push(json.dumps(body).encode())
    assert (push.branch, push.message, push.author) == ("feature/x", "head", "Grace")


def test_a_payload_without_a_head_commit() -> None:
    push = parse_push(BODY)
    assert (push.message, push.author) == (None, None)


def test_sha256_repositories() -> None:
    assert parse_push(json.dumps({"ref": "refs/heads/m", "after": "d" * 64}).encode()).after


def test_a_deleted_branch() -> None:
    push = parse_push(json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode())
    assert push.deleted and push.branch == "main"


def test_a_tag_is_not_a_branch() -> None:
    push = parse_push(json.dumps({"ref": "refs/tags/v1", "after": SHA}).encode())
    assert push.branch is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"refs/heads/main"',
        json.dumps({"after": SHA}).encode(),
        json.dumps({"ref": "main", "after": SHA}).encode(),
        json.dumps({"ref": 5, "after": SHA}).encode(),
        json.dumps({"ref": "refs/heads/main"}).encode(),
        json.dumps({"ref": "refs/heads/main", "after": "xyz"}).encode(),
        json.dumps({"ref": "refs/heads/main", "after": "a" * 39}).encode(),
        json.dumps({"ref": "refs/heads/ma in", "after": SHA}).encode(),
        json.dumps({"ref": "refs/heads/" + "x" * 300, "after": SHA}).encode(),
        b"\xff\xfe",
        b"[" * 500 + b"]" * 500,
    ],
)
def test_malformed_payloads_are_400(body: bytes) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_push(body)
    assert caught.value.status == 400


# --- branches -----------------------------------------------------------------------------


def test_branch_matching() -> None:
    push = Push("refs/heads/main", SHA)
    assert matching_branch("main", push)
    assert not matching_branch("develop", push)
    assert not matching_branch("main", Push("refs/tags/main", SHA))
    assert not matching_branch("mai", push)


def test_ls_remote_output() -> None:
    symref = f"ref: refs/heads/trunk\tHEAD\n{SHA}\tHEAD\n"
    assert parse_symref_head(symref) == ("trunk", SHA)
    assert parse_symref_head("") == (None, None)
    listing = f"{'b' * 40}\trefs/heads/main-old\n{SHA}\trefs/heads/main\n"
    assert parse_branch_head(listing, "main") == SHA
    assert parse_branch_head(listing, "other") is None


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, str]:
    """A bare repository whose default branch is 'trunk', with one commit; (path, head)."""
    bare = tmp_path / "repo.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=trunk", str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    (work / "file").write_text("one\n")
    git(work, "add", "file")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "push", "--quiet", "origin", "HEAD:trunk", "HEAD:side")
    return bare, git(work, "rev-parse", "HEAD")


def test_remote_head_of_a_real_repository(repository: tuple[Path, str]) -> None:
    bare, head = repository
    assert remote_head(parse_context(f"file://{bare}"), None) == ("trunk", head)
    assert remote_head(parse_context(f"file://{bare}#side"), None) == ("side", head)
    assert remote_head(parse_context(f"file://{bare}#gone"), None) == ("gone", None)


def test_default_branch_is_asked_once(repository: tuple[Path, str]) -> None:
    bare, _ = repository
    branches = DefaultBranches()
    spec = parse_context(f"file://{bare}")
    assert branches.lookup(spec, None) == "trunk"
    git(bare, "symbolic-ref", "HEAD", "refs/heads/side")
    assert branches.lookup(spec, None) == "trunk"  # kept
    assert DefaultBranches(ttl=0).lookup(spec, None) == "side"


def test_a_missing_repository_is_a_lookup_error(tmp_path: Path) -> None:
    with pytest.raises(GitLookupError) as caught:
        remote_head(parse_context(f"file://{tmp_path}/nothing.git"), None)
    assert "nothing.git" in str(caught.value)


# --- polling interval ---------------------------------------------------------------------


def test_poll_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLL_ENV, raising=False)
    assert poll_interval() == 60
    monkeypatch.setenv(POLL_ENV, "1")
    assert poll_interval() == 1
    monkeypatch.setenv(POLL_ENV, "0")
    assert poll_interval() == 0
    for bad in ("-1", "soon", "0.01", "1e9"):
        monkeypatch.setenv(POLL_ENV, bad)
        with pytest.raises(ValueError, match=POLL_ENV):
            poll_interval()


# --- the post-receive hook ----------------------------------------------------------------

URL = "http://127.0.0.1:5080/api/webhooks/tasks/0b6c0f0e-0000-4000-8000-000000000000"


def test_the_hook_passes_the_secret_on_stdin_only() -> None:
    script = hook_script("mytask", "myregistry", URL, SECRET)
    assert script.startswith("#!/bin/sh\n")
    lines = [line for line in script.splitlines() if SECRET in line]
    assert lines == [f"secret='{SECRET}'"]
    assert "curl -K -" in script and "--max-time" in script


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("http://127.0.0.1:5080/api/webhooks/tasks/x'; rm -rf ~; '", SECRET),
        ("file:///etc/passwd", SECRET),
        (URL, "quote'inside-the-secret-value"),
        (URL, "short"),
    ],
)
def test_the_hook_refuses_what_could_break_its_quoting(url: str, secret: str) -> None:
    with pytest.raises(CLIError):
        hook_script("mytask", "myregistry", url, secret)


def test_the_hook_file_is_private_and_not_overwritten(repository: tuple[Path, str]) -> None:
    bare, _ = repository
    script = hook_script("mytask", "myregistry", URL, SECRET)
    target = write_hook(bare_repository(str(bare)), script, force=False)
    assert target == bare / "hooks" / "post-receive"
    assert target.stat().st_mode & 0o777 == 0o700
    with pytest.raises(CLIError, match="--force"):
        write_hook(bare, "#!/bin/sh\n", force=False)
    assert target.read_text() == script
    write_hook(bare, "#!/bin/sh\n", force=True)
    assert target.read_text() == "#!/bin/sh\n" and target.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in (bare / "hooks").iterdir() if p.name.startswith(".")] == []


def test_only_a_bare_repository_takes_the_hook(tmp_path: Path) -> None:
    with pytest.raises(CLIError, match="not a bare git repository"):
        bare_repository(str(tmp_path))
    git(tmp_path, "init", "--quiet", str(tmp_path / "work"))
    with pytest.raises(CLIError, match="working copy"):
        bare_repository(str(tmp_path / "work"))
