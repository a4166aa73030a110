"""A run's context: what the text after ``az acr run`` / ``--context`` names, and fetching it.

Forms (``parse_context``):

- a git repository, optionally ``#branch``, ``#branch:folder`` or ``#:folder``:
  ``https://host/org/repo.git#main:docker``, ``http://...``, ``git://host/repo``,
  ``file:///srv/git/repo.git#main``, or a local path with a fragment ``/srv/repo#main``;
- a local folder: an absolute path (relative ones against ``base``), copied as it is;
- a tarball: an ``http(s)`` URL whose path ends in ``.tar``, ``.tar.gz`` or ``.tgz``;
- ``/dev/null``: no context (the run gets an empty folder).

``check_reachable`` asks the source before anything runs (``git ls-remote`` with a timeout);
``materialize`` puts the context into the run's working folder (a ``RunWorkspace``) and
returns the folder steps run in; ``resolve_inside`` checks a ``-f`` file or a build context
against it. Every refusal is a ``ContextError`` naming the context, the reason and the fix.
"""

from __future__ import annotations

import enum
import os
import re
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from airlock.runner.archives import (
    DEFAULT_LIMITS,
    ContextLimits,
    copy_folder,
    download,
    extract_tarball,
    probe,
)
from airlock.runner.credentials import GitAccessToken, as_token
from airlock.runner.errors import (
    ContextAccessDeniedError,
    ContextError,
    ContextRefusedError,
    ContextUnreachableError,
)
from airlock.runner.git import GitTimeoutError, failure_kind, git_environment, last_lines, run_git
from airlock.runner.paths import check_relative, resolve_inside
from airlock.runner.workspace import remove_tree

NO_CONTEXT = "/dev/null"
TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz")
CHECK_TIMEOUT = 15.0
FETCH_TIMEOUT = 600.0
SOURCE_FOLDER = "source"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:")
_REDIRECTED = re.compile(r"redirect|returned error: 30[1-8]\b", re.IGNORECASE)
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class ContextKind(enum.Enum):
    GIT = "git"
    LOCAL = "local"
    TARBALL = "tarball"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """A parsed context. ``location`` is the URL or absolute path without the fragment."""

    kind: ContextKind
    location: str
    branch: str | None = None
    folder: str | None = None

    @property
    def git_url(self) -> str:
        """The URL git is given; a local repository path becomes ``file://`` (so that
        ``--depth 1`` applies, which git ignores for a plain path)."""
        if self.kind is not ContextKind.GIT:
            raise ValueError(f"{self.kind.value} context has no git URL")
        if _SCHEME.match(self.location):
            return self.location
        return Path(self.location).as_uri()

    @property
    def is_http(self) -> bool:
        return self.location.lower().startswith(("http://", "https://"))

    def __str__(self) -> str:
        if self.kind is ContextKind.NONE:
            return NO_CONTEXT
        if self.branch is None and self.folder is None:
            return self.location
        fragment = self.branch or ""
        if self.folder is not None:
            fragment += f":{self.folder}"
        return f"{self.location}#{fragment}"


# --- parsing -------------------------------------------------------------------------------


def parse_context(text: str, base: Path | None = None) -> ContextSpec:
    """Read a context as ACR writes it; refuse anything else with what to write instead.

    ``base`` is the folder a relative local path is read against (the CLI's working
    folder); without it a relative path is refused.
    """
    if not isinstance(text, str) or text.strip() == "":
        raise ContextError(
            "the context is empty; give a git URL, a local folder, a tarball URL or /dev/null"
        )
    text = text.strip()
    if not text.isprintable() or any(c.isspace() for c in text):
        raise ContextError(
            f"the context {text!r} holds a space or a control character; "
            "give the URL or path alone (percent-encode spaces in URLs)"
        )
    if text == NO_CONTEXT:
        return ContextSpec(ContextKind.NONE, "")
    scheme_match = _SCHEME.match(text)
    if scheme_match:
        return _parse_url(text, scheme_match.group(1).lower())
    if _SCP_LIKE.match(text):
        raise ContextError(
            f"the context {text!r} is an ssh git address; Airlock fetches git over "
            "https, http, git:// or file://: write https://<host>/<path> and pass "
            "--git-access-token for a private repository"
        )
    return _parse_local(text, base)


def _parse_url(text: str, scheme: str) -> ContextSpec:
    url, has_fragment, fragment = text.partition("#")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ContextError(f"the context {url!r} is not a valid URL ({exc}); check it") from exc
    if scheme in ("ssh", "git+ssh", "ssh+git"):
        raise ContextError(
            f"the context {url!r} uses ssh; Airlock fetches git over https, http, git:// or "
            "file://: write https://<host>/<path> and pass --git-access-token if needed"
        )
    if scheme not in ("http", "https", "git", "file"):
        raise ContextError(
            f"the context {url!r} has the scheme '{scheme}'; use https://, http://, git:// or "
            "file:// (or a local path, or /dev/null)"
        )
    if parts.username is not None or parts.password is not None:
        raise ContextError(
            "the context URL holds a user name or password before '@'; remove it and pass "
            "the token with --git-access-token, which Airlock keeps sealed"
        )
    if parts.query and scheme != "http" and scheme != "https":
        raise ContextError(f"the context {url!r} has a query ('?...'); remove it")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ContextError(
                f"the context {url!r} names a host; a file:// URL is a path on this machine: "
                "write file:///absolute/path/repo.git"
            )
        path = urllib.parse.unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise ContextError(
                f"the context {url!r} has no absolute path; write file:///absolute/path/repo.git"
            )
        branch, folder = _parse_fragment(fragment, url) if has_fragment else (None, None)
        return ContextSpec(ContextKind.GIT, f"file://{parts.path}", branch, folder)
    if not parts.hostname:
        raise ContextError(f"the context {url!r} has no host; write {scheme}://<host>/<path>")
    if parts.path in ("", "/"):
        raise ContextError(
            f"the context {url!r} has no repository path; write {scheme}://{parts.netloc}/<path>"
        )
    if scheme in ("http", "https") and parts.path.lower().endswith(TARBALL_SUFFIXES):
        if has_fragment:
            raise ContextError(
                f"the tarball context {url!r} takes no '#{fragment}'; '#branch:folder' is for "
                "git repositories, so put the folder you want at the root of the tarball"
            )
        return ContextSpec(ContextKind.TARBALL, url)
    branch, folder = _parse_fragment(fragment, url) if has_fragment else (None, None)
    return ContextSpec(ContextKind.GIT, url, branch, folder)


def _parse_local(text: str, base: Path | None) -> ContextSpec:
    raw, has_fragment, fragment = text.partition("#")
    path = Path(raw)
    if not path.is_absolute():
        if base is None:
            raise ContextError(
                f"the local context {raw!r} is a relative path; give an absolute path "
                "(the CLI makes '.' absolute for you)"
            )
        path = base / path
    location = os.path.normpath(path)
    if has_fragment:
        branch, folder = _parse_fragment(fragment, raw)
        return ContextSpec(ContextKind.GIT, location, branch, folder)
    return ContextSpec(ContextKind.LOCAL, location)


def _parse_fragment(fragment: str, where: str) -> tuple[str | None, str | None]:
    ref, _, folder_text = fragment.partition(":")
    branch = _check_ref(ref, where) if ref else None
    folder: str | None = None
    if folder_text:
        relative = check_relative(folder_text, f"the folder '{folder_text}' of the context {where}")
        normal = relative.as_posix()
        folder = None if normal == "." else normal
    return branch, folder


def _check_ref(ref: str, where: str) -> str:
    bad = (
        ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or ".." in ref
        or "//" in ref
        or "@{" in ref
        or "/." in ref
        or ref == "@"
        or _REF_FORBIDDEN.search(ref) is not None
    )
    if bad:
        raise ContextError(
            f"'{ref}' after '#' in the context {where} is not a valid branch or tag name; "
            "write #<branch>, #<branch>:<folder> or #:<folder>"
        )
    return ref


# --- asking the source ---------------------------------------------------------------------


def check_reachable(
    spec: ContextSpec,
    token: GitAccessToken | str | None = None,
    *,
    timeout: float = CHECK_TIMEOUT,
    limits: ContextLimits = DEFAULT_LIMITS,
    protected: Sequence[Path] = (),
) -> None:
    """Refuse a context that does not answer, before anything runs.

    git: ``git ls-remote`` for the branch (or HEAD), killed after ``timeout`` s; the branch
    must exist. Local folder: exists and readable. Tarball: answers 200. /dev/null: nothing.
    ``protected``: folders a path on this machine may neither be inside nor contain (the
    server's state folder: a run must not read its keys).
    """
    secret = _token_for(spec, token)
    check_not_protected(spec, protected)
    if spec.kind is ContextKind.NONE:
        return
    if spec.kind is ContextKind.LOCAL:
        folder = Path(spec.location)
        if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
            raise ContextUnreachableError(
                f"the local context {spec.location} is not a readable folder; "
                "give an existing folder the server can read"
            )
        return
    if spec.kind is ContextKind.TARBALL:
        probe(spec.location, timeout, limits)
        return
    patterns = [f"refs/heads/{spec.branch}", f"refs/tags/{spec.branch}"] if spec.branch else []
    with tempfile.TemporaryDirectory(prefix="airlock-git-home-") as home:
        env = git_environment(Path(home), spec.git_url, secret)
        try:
            result = run_git(["ls-remote", spec.git_url, *(patterns or ["HEAD"])], env, timeout)
        except GitTimeoutError:
            raise _timeout_error(spec, "answer", timeout) from None
    if result.returncode != 0:
        raise _git_error(spec, "ls-remote", result.stderr, secret)
    if not result.stdout.strip():
        if spec.branch:
            raise ContextUnreachableError(
                f"the git context {spec} has no branch or tag '{spec.branch}'; "
                "check the name after '#'"
            )
        raise ContextUnreachableError(
            f"the git context {spec} has no commits; push a branch or name one after '#'"
        )


# --- fetching ------------------------------------------------------------------------------


def materialize(
    spec: ContextSpec,
    workdir: Path,
    token: GitAccessToken | str | None = None,
    *,
    timeout: float = FETCH_TIMEOUT,
    limits: ContextLimits = DEFAULT_LIMITS,
    protected: Sequence[Path] = (),
) -> Path:
    """Put the context into ``workdir/source`` and return the folder the run uses.

    git: a shallow clone (``--depth 1``) of the branch, then the ``:folder`` inside it.
    Local folder: a copy (a run never changes the user's files). Tarball: downloaded (at
    most ``limits.max_download_bytes``) and checked entry by entry before extraction.
    /dev/null: an empty folder. On failure ``workdir`` is left as it was. ``protected``: as
    for ``check_reachable``.
    """
    secret = _token_for(spec, token)
    check_not_protected(spec, protected)
    source = workdir / SOURCE_FOLDER
    if source.exists() or source.is_symlink():
        raise ContextError(
            f"the run folder {workdir} already holds a context; give each run its own folder"
        )
    try:
        if spec.kind is ContextKind.NONE:
            source.mkdir(mode=0o700)
            return source
        if spec.kind is ContextKind.LOCAL:
            copy_folder(Path(spec.location), source, limits)
            return source
        if spec.kind is ContextKind.TARBALL:
            archive = workdir / f"{SOURCE_FOLDER}.download"
            try:
                download(spec.location, archive, timeout, limits)
                extract_tarball(archive, source, f"the tarball context {spec}", limits)
            finally:
                archive.unlink(missing_ok=True)
            return source
        return _clone(spec, workdir, source, secret, timeout)
    except BaseException:
        remove_tree(source)
        raise


def _clone(
    spec: ContextSpec, workdir: Path, source: Path, token: GitAccessToken | None, timeout: float
) -> Path:
    home = Path(tempfile.mkdtemp(prefix=".git-home-", dir=workdir))
    try:
        env = git_environment(home, spec.git_url, token)
        args = ["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags"]
        if spec.branch:
            args += ["--branch", spec.branch]
        args += ["--", spec.git_url, str(source)]
        try:
            result = run_git(args, env, timeout)
        except GitTimeoutError:
            raise _timeout_error(spec, "finish cloning", timeout) from None
    finally:
        remove_tree(home)
    if result.returncode != 0:
        raise _git_error(spec, "clone", result.stderr, token)
    if spec.folder is None:
        return source
    where = f"the folder of the context {spec}"
    folder = resolve_inside(source, spec.folder, what=where)
    if not folder.is_dir():
        raise ContextUnreachableError(
            f"the git context {spec} has no folder '{spec.folder}' on "
            f"{spec.branch or 'its default branch'}; check the path after ':'"
        )
    return folder


def head_commit(workdir: Path, timeout: float = CHECK_TIMEOUT) -> str | None:
    """The commit a git context was cloned at (for ``$Commit``), else None."""
    source = workdir / SOURCE_FOLDER
    if not (source / ".git").is_dir():
        return None
    with tempfile.TemporaryDirectory(prefix="airlock-git-home-") as home:
        env = git_environment(Path(home), "file:///", None)
        try:
            result = run_git(["rev-parse", "--verify", "-q", "HEAD"], env, timeout, cwd=source)
        except GitTimeoutError:
            return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def local_path(spec: ContextSpec) -> Path | None:
    """The path on this machine a context reads, if any (a local folder, a file:// or
    local repository)."""
    if spec.kind is ContextKind.LOCAL:
        return Path(spec.location)
    if spec.kind is ContextKind.GIT and not spec.is_http:
        url = spec.git_url
        if url.startswith("file://"):
            return Path(urllib.parse.unquote(url[len("file://") :]))
    return None


def check_not_protected(spec: ContextSpec, protected: Sequence[Path]) -> None:
    """Refuse a context on this machine that is inside, or holds, a protected folder."""
    path = local_path(spec)
    if path is None:
        return
    real = Path(os.path.realpath(path))
    for folder in protected:
        guarded = Path(os.path.realpath(folder))
        if real == guarded or real.is_relative_to(guarded) or guarded.is_relative_to(real):
            raise ContextRefusedError(
                f"the context {spec} is or holds Airlock's own state folder, which a run must "
                "not read; give a folder outside it"
            )


def _token_for(spec: ContextSpec, token: GitAccessToken | str | None) -> GitAccessToken | None:
    secret = as_token(token)
    if secret is not None and not (spec.kind is ContextKind.GIT and spec.is_http):
        raise ContextError(
            f"--git-access-token is used only for an http(s) git context, and {spec} is not "
            "one; leave the option out"
        )
    return secret


def _timeout_error(spec: ContextSpec, what: str, timeout: float) -> ContextUnreachableError:
    return ContextUnreachableError(
        f"the git context {spec} did not {what} within {timeout:g} s; "
        "check the URL and that the git server is up and reachable from this machine"
    )


def _git_error(
    spec: ContextSpec, action: str, stderr: str, token: GitAccessToken | None
) -> ContextError:
    detail = last_lines(stderr)
    kind = failure_kind(stderr)
    if kind == "auth":
        fix = (
            "check that --git-access-token is valid and may read the repository"
            if token is not None
            else "for a private repository pass --git-access-token"
        )
        return ContextAccessDeniedError(
            f"the git server refused access to {spec} ({detail}); {fix}"
        )
    if kind == "unreachable":
        return ContextUnreachableError(
            f"the git context {spec} does not answer ({detail}); "
            "check the URL and that the git server is up"
        )
    if _REDIRECTED.search(stderr):
        return ContextUnreachableError(
            f"the git context {spec} answers with a redirect ({detail}), which Airlock does not "
            "follow with an access token; give the URL it redirects to"
        )
    if kind == "missing":
        return ContextUnreachableError(
            f"the git context {spec} is not a repository Airlock can read, or has no such "
            f"branch ({detail}); check the URL and the name after '#'"
        )
    return ContextError(f"git {action} of {spec} failed ({detail}); check the URL and branch")
