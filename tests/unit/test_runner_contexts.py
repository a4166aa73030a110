"""Contexts: parsing every form ACR accepts, refusing the rest, and paths that must stay inside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airlock.errors import InvalidArgumentError
from airlock.runner import (
    ContextError,
    ContextKind,
    ContextRefusedError,
    ContextSpec,
    GitAccessToken,
    RunWorkspace,
    parse_context,
    resolve_inside,
)
from airlock.runner.git import git_environment
from airlock.vault.masking import MASKER

# --- parse_context: accepted forms -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location", "branch", "folder"),
    [
        (
            "https://github.com/org/repo.git#main:folder",
            "https://github.com/org/repo.git",
            "main",
            "folder",
        ),
        ("https://host/org/repo#branch", "https://host/org/repo", "branch", None),
        ("https://host/org/repo", "https://host/org/repo", None, None),
        (
            "http://127.0.0.1:8080/repo.git#:docker/app",
            "http://127.0.0.1:8080/repo.git",
            None,
            "docker/app",
        ),
        ("git://host/repo", "git://host/repo", None, None),
        ("git://host:9418/repo.git#release/1.2", "git://host:9418/repo.git", "release/1.2", None),
        ("file:///srv/git/repo.git#main", "file:///srv/git/repo.git", "main", None),
        ("file:///srv/git/repo.git#v1.0:sub/./dir", "file:///srv/git/repo.git", "v1.0", "sub/dir"),
        ("/srv/repo#main:src", "/srv/repo", "main", "src"),
        ("/srv/repo#main:.", "/srv/repo", "main", None),
    ],
)
def test_git_forms(text: str, location: str, branch: str | None, folder: str | None) -> None:
    spec = parse_context(text)
    assert spec == ContextSpec(ContextKind.GIT, location, branch, folder)


def test_local_repository_path_is_cloned_through_file_url() -> None:
    spec = parse_context("/srv/repo#main")
    assert spec.git_url == "file:///srv/repo"
    assert parse_context("https://h/r.git").git_url == "https://h/r.git"


def test_local_folder_absolute_and_relative_to_base(tmp_path: Path) -> None:
    assert parse_context(str(tmp_path)) == ContextSpec(ContextKind.LOCAL, str(tmp_path))
    spec = parse_context("./app/../src", base=tmp_path)
    assert spec == ContextSpec(ContextKind.LOCAL, str(tmp_path / "src"))
    assert parse_context("  /dev/null ").kind is ContextKind.NONE


@pytest.mark.parametrize(
    "text",
    ["https://h/a/b.tar", "https://h/a/b.tar.gz", "http://h:81/x.TGZ", "https://h/b.tgz?x=1"],
)
def test_tarball_forms(text: str) -> None:
    spec = parse_context(text)
    assert spec.kind is ContextKind.TARBALL
    assert spec.location == text
    assert str(spec) == text


def test_str_round_trips_the_fragment() -> None:
    for text in ["https://h/r.git#main:dir", "https://h/r#:dir", "/srv/r#dev", "/dev/null"]:
        assert str(parse_context(text)) == text


# --- parse_context: refusals -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("relative/path", "relative path"),
        ("https://user:s3cr3tvalue@host/repo.git", "--git-access-token"),
        ("https://host", "no repository path"),
        ("https:///repo.git", "no host"),
        ("ssh://git@host/repo.git", "ssh"),
        ("git@github.com:org/repo.git", "ssh"),
        ("ftp://host/repo.tar", "scheme 'ftp'"),
        ("https://host:99999/repo", "not a valid URL"),
        ("https://h/a.tar.gz#main", "takes no '#main'"),
        ("https://h/r.git#-upload-pack=x", "not a valid branch"),
        ("https://h/r.git#a..b", "not a valid branch"),
        ("https://h/r.git#a b", "space"),
        ("https://h/r.git#main:../up", "'..'"),
        ("https://h/r.git#main:/etc", "absolute"),
        ("file://otherhost/srv/repo", "names a host"),
        ("file://", "no absolute path"),
        ("/srv/repo\n#main", "control character"),
    ],
)
def test_malformed_contexts_are_refused_with_the_fix(text: str, says: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_context(text)
    assert says in caught.value.message
    assert caught.value.status == 400


def test_password_in_url_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ContextError) as caught:
        parse_context("https://user:s3cr3tvalue@host/repo.git#main")
    assert "s3cr3tvalue" not in caught.value.message


# --- resolve_inside ------------------------------------------------------------------------


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "Dockerfile").write_text("FROM scratch\n")
    (root / "acb.yaml").write_text("steps: []\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    os.symlink("../secret.txt", root / "escape")
    os.symlink(str(tmp_path), root / "up")
    os.symlink("sub/Dockerfile", root / "inner-link")
    return root


def test_paths_inside_resolve(context: Path) -> None:
    real = Path(os.path.realpath(context))
    assert resolve_inside(context, "acb.yaml") == real / "acb.yaml"
    assert resolve_inside(context, "./sub/Dockerfile") == real / "sub" / "Dockerfile"
    assert resolve_inside(context, ".") == real
    assert resolve_inside(context, "inner-link") == real / "sub" / "Dockerfile"
    assert resolve_inside(context, "not-yet") == real / "not-yet"


@pytest.mark.parametrize(
    ("relative", "says"),
    [
        ("../secret.txt", "'..'"),
        ("sub/../../secret.txt", "'..'"),
        ("/etc/passwd", "absolute"),
        ("escape", "symbolic link"),
        ("up/secret.txt", "symbolic link"),
        ("", "empty"),
        ("a\x00b", "control character"),
    ],
)
def test_paths_leaving_the_context_are_refused(context: Path, relative: str, says: str) -> None:
    with pytest.raises(ContextError) as caught:
        resolve_inside(context, relative, what="the -f file")
    assert says in caught.value.message
    assert "the -f file" in caught.value.message


def test_escape_is_a_refusal_with_its_own_code(context: Path) -> None:
    with pytest.raises(ContextRefusedError) as caught:
        resolve_inside(context, "escape")
    assert caught.value.code == "ContextRefused"


# --- the workspace ---------------------------------------------------------------------------


def test_workspace_is_private_and_removed(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    with RunWorkspace(root, "r1") as folder:
        assert folder.parent == root
        assert folder.stat().st_mode & 0o777 == 0o700
        (folder / "file").write_text("x")
        locked = folder / "locked"
        (locked / "deep").mkdir(parents=True)
        (locked / "deep" / "f").write_text("y")
        (locked / "deep").chmod(0o500)
        locked.chmod(0o000)
    assert not folder.exists()
    assert list(root.iterdir()) == []


def test_workspace_removed_when_the_run_raises(tmp_path: Path) -> None:
    seen: list[Path] = []
    with pytest.raises(RuntimeError, match="step failed"), RunWorkspace(tmp_path, "r2") as folder:
        seen.append(folder)
        (folder / "partial").write_text("x")
        raise RuntimeError("step failed")
    assert seen and not seen[0].exists()


def test_two_runs_get_two_folders(tmp_path: Path) -> None:
    with RunWorkspace(tmp_path, "same") as a, RunWorkspace(tmp_path, "same") as b:
        assert a != b


def test_workspace_refuses_a_run_id_that_is_a_path(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="not a valid folder name"):
        RunWorkspace(tmp_path, "../x")
    assert list(tmp_path.iterdir()) == []


# --- the access token ------------------------------------------------------------------------


def test_token_never_prints_and_is_masked() -> None:
    token = GitAccessToken("ghp_unitTestToken123")
    assert "ghp_unitTestToken123" not in repr(token)
    assert "ghp_unitTestToken123" not in f"{token}"
    assert MASKER.mask("x ghp_unitTestToken123 y") == "x *** y"
    assert MASKER.mask(token.basic_credentials()) == "***"


@pytest.mark.parametrize("value", ["", "abc", "tok en1234", "tok\n12345"])
def test_bad_tokens_are_refused(value: str) -> None:
    with pytest.raises(ContextError, match="--git-access-token"):
        GitAccessToken(value)


# --- git's environment -------------------------------------------------------------------------


def test_git_environment_scopes_the_token_to_the_url(tmp_path: Path) -> None:
    url = "https://git.example.test/org/repo.git"
    token = GitAccessToken("ghp_envScoped987654")
    env = git_environment(tmp_path, url, token)
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert env["HOME"] == str(tmp_path)
    assert "GIT_ASKPASS" not in env and "SSH_ASKPASS" not in env
    pairs = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert pairs[f"http.{url}.extraHeader"] == f"Authorization: Basic {token.basic_credentials()}"
    assert pairs["credential.helper"] == ""
    assert pairs["http.followRedirects"] == "false"
    assert not any("ghp_envScoped987654" in value for value in env.values())
    without = git_environment(tmp_path, url, None)
    assert not any("extraHeader" in value for value in without.values())
    assert "http.followRedirects" not in without.values()
