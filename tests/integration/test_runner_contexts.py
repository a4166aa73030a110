"""Contexts over real transports: local repositories, file://, git daemon, git http-backend
behind a token, tarballs from an HTTP server, local folders; every server on 127.0.0.1,
started and stopped by its test."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airlock.runner import (
    ContextAccessDeniedError,
    ContextError,
    ContextKind,
    ContextLimits,
    ContextRefusedError,
    ContextUnreachableError,
    GitAccessToken,
    RunWorkspace,
    check_reachable,
    head_commit,
    materialize,
    parse_context,
    resolve_inside,
)
from airlock.runner import git as runner_git
from tests.support.git import git, git_env
from tests.support.servers import free_port

GIT_ENV = git_env("/nonexistent")  # for the git servers the tests start
TOKEN = "glpat-Integration-Token-0123456789"


def make_repo(path: Path) -> Path:
    """A working repository: main has docker/app/Dockerfile, dev has another Dockerfile."""
    git(path.parent, "init", "-q", "-b", "main", str(path))
    (path / "docker" / "app").mkdir(parents=True)
    (path / "docker" / "app" / "Dockerfile").write_text("FROM scratch\nLABEL branch=main\n")
    (path / "acb.yaml").write_text("steps:\n  - cmd: bash echo hi\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "main")
    git(path, "checkout", "-q", "-b", "dev")
    (path / "docker" / "app" / "Dockerfile").write_text("FROM scratch\nLABEL branch=dev\n")
    git(path, "commit", "-q", "-am", "dev")
    git(path, "checkout", "-q", "main")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work-repo")


@pytest.fixture
def bare(tmp_path: Path, repo: Path) -> Path:
    """``<tmp>/served/project.git``: a bare copy to serve."""
    target = tmp_path / "served" / "project.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(target))
    return target


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    with RunWorkspace(tmp_path / "runs", "test") as folder:
        yield folder


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


# --- local repository, file:// -----------------------------------------------------------


def test_local_repository_by_path_with_branch_and_folder(repo: Path, run_dir: Path) -> None:
    spec = parse_context(f"{repo}#dev:docker/app")
    check_reachable(spec)
    context = materialize(spec, run_dir)
    assert context == run_dir / "source" / "docker" / "app"
    assert "branch=dev" in (context / "Dockerfile").read_text()
    # a shallow clone of one branch
    assert git(run_dir / "source", "rev-list", "--count", "HEAD").strip() == "1"
    assert git(run_dir / "source", "branch", "-r").split() == ["origin/dev"]
    assert head_commit(run_dir) == git(repo, "rev-parse", "dev").strip()


def test_file_url_default_branch_and_named_branch(bare: Path, tmp_path: Path) -> None:
    with RunWorkspace(tmp_path / "runs") as first:
        context = materialize(parse_context(f"file://{bare}"), first)
        assert "branch=main" in (context / "docker" / "app" / "Dockerfile").read_text()
    with RunWorkspace(tmp_path / "runs") as second:
        context = materialize(parse_context(f"file://{bare}#main:docker/app"), second)
        assert "branch=main" in (context / "Dockerfile").read_text()


def test_missing_branch_is_refused_before_running(bare: Path, run_dir: Path) -> None:
    spec = parse_context(f"file://{bare}#nope")
    with pytest.raises(ContextUnreachableError, match="no branch or tag 'nope'"):
        check_reachable(spec)
    with pytest.raises(ContextUnreachableError, match="nope"):
        materialize(spec, run_dir)
    assert list(run_dir.iterdir()) == []


def test_missing_folder_in_the_branch(bare: Path, run_dir: Path) -> None:
    with pytest.raises(ContextUnreachableError, match="no folder 'nothing/here'"):
        materialize(parse_context(f"file://{bare}#main:nothing/here"), run_dir)
    assert list(run_dir.iterdir()) == []


def test_folder_that_escapes_through_a_committed_symlink(tmp_path: Path, run_dir: Path) -> None:
    repo = make_repo(tmp_path / "linky")
    os.symlink("/etc", repo / "etc-link")
    git(repo, "add", "etc-link")
    git(repo, "commit", "-q", "-m", "link")
    with pytest.raises(ContextRefusedError, match="leads out of the context"):
        materialize(parse_context(f"{repo}#main:etc-link"), run_dir)


def test_a_path_that_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ContextUnreachableError, match="not a repository"):
        check_reachable(parse_context(f"{tmp_path / 'plain'}#main"))


# --- git:// -------------------------------------------------------------------------------


@pytest.fixture
def git_daemon(bare: Path) -> Iterator[int]:
    port = free_port()
    base = bare.parent
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--informative-errors",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        env=GIT_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_git_daemon(git_daemon: int, run_dir: Path) -> None:
    spec = parse_context(f"git://127.0.0.1:{git_daemon}/project.git#dev:docker/app")
    check_reachable(spec, timeout=10)
    context = materialize(spec, run_dir, timeout=30)
    assert "branch=dev" in (context / "Dockerfile").read_text()


def test_git_daemon_unknown_repository(git_daemon: int) -> None:
    with pytest.raises(ContextUnreachableError, match="not a repository Airlock can read"):
        check_reachable(parse_context(f"git://127.0.0.1:{git_daemon}/missing.git"), timeout=10)


def test_token_is_refused_for_a_transport_that_cannot_use_it(git_daemon: int) -> None:
    spec = parse_context(f"git://127.0.0.1:{git_daemon}/project.git")
    with pytest.raises(ContextError, match="only for an http"):
        check_reachable(spec, token=TOKEN)


# --- http(s) through git http-backend behind a token -----------------------------------------


@dataclass
class GitHttp:
    url: str
    seen_auth: list[str | None] = field(default_factory=list)


class _GitBackend(BaseHTTPRequestHandler):
    """``git http-backend`` as CGI, for requests carrying Basic credentials with TOKEN."""

    root: Path
    record: GitHttp

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization")
        self.record.seen_auth.append(header)
        if not header or not header.startswith("Basic "):
            return False
        user_pass = base64.b64decode(header[6:]).decode()
        return user_pass.partition(":")[2] == TOKEN

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def _serve(self) -> None:
        if not self._authorised():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self._body()
        env = {
            **GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "reader",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=30
        ).stdout
        sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
        head, _, payload = out.partition(sep)
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode().splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def git_http(bare: Path) -> Iterator[GitHttp]:
    port = free_port()
    record = GitHttp(url=f"http://127.0.0.1:{port}/project.git")
    handler = type("Handler", (_GitBackend,), {"root": bare.parent, "record": record})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def git_argv(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every argv the runner starts git with (the real git still runs)."""
    seen: list[list[str]] = []
    real = subprocess.Popen

    def spy(args: Any, *rest: Any, **kwargs: Any) -> Any:
        seen.append([str(a) for a in args])
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(runner_git.subprocess, "Popen", spy)
    return seen


def test_http_with_token(git_http: GitHttp, run_dir: Path, git_argv: list[list[str]]) -> None:
    spec = parse_context(f"{git_http.url}#dev:docker/app")
    check_reachable(spec, token=TOKEN, timeout=10)
    context = materialize(spec, run_dir, token=GitAccessToken(TOKEN), timeout=30)
    assert "branch=dev" in (context / "Dockerfile").read_text()
    expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert expected in git_http.seen_auth
    # the token is in no argv, nowhere in the clone (its config included) and not left on disk
    runs = [argv for argv in git_argv if argv[:2] in (["git", "clone"], ["git", "ls-remote"])]
    assert len(runs) == 2
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    for argv in runs:
        assert not any(TOKEN in a or encoded in a for a in argv)
    config = (run_dir / "source" / ".git" / "config").read_text()
    assert TOKEN not in config and encoded not in config and "extraheader" not in config.lower()
    for path in run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and encoded.encode() not in data, path


def test_http_without_token_says_to_pass_one(git_http: GitHttp, run_dir: Path) -> None:
    spec = parse_context(git_http.url)
    started = time.monotonic()
    with pytest.raises(ContextAccessDeniedError) as caught:
        check_reachable(spec, timeout=10)
    assert time.monotonic() - started < 8, "git must fail, not wait for a prompt"
    assert "pass --git-access-token" in caught.value.message
    with pytest.raises(ContextAccessDeniedError):
        materialize(spec, run_dir, timeout=30)
    assert list(run_dir.iterdir()) == []


def test_http_wrong_token_is_refused_and_not_shown(git_http: GitHttp, run_dir: Path) -> None:
    wrong = "glpat-Wrong-Token-ABCDEFGHIJ"
    spec = parse_context(f"{git_http.url}#main")
    with pytest.raises(ContextAccessDeniedError) as caught:
        check_reachable(spec, token=wrong, timeout=10)
    message = caught.value.message
    assert "refused access" in message and "--git-access-token is valid" in message
    assert git_http.url in message
    assert wrong not in message and wrong not in str(caught.value)
    with pytest.raises(ContextAccessDeniedError) as again:
        materialize(spec, run_dir, token=wrong, timeout=30)
    assert wrong not in again.value.message
    assert list(run_dir.iterdir()) == []


def test_user_configuration_is_not_read(
    git_http: GitHttp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credential in the user's ~/.netrc, ~/.git-credentials or global config is not used."""
    home = tmp_path / "user-home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine 127.0.0.1 login x password {TOKEN}\n")
    (home / ".git-credentials").write_text(f"http://x:{TOKEN}@127.0.0.1\n")
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    with pytest.raises(ContextAccessDeniedError):
        check_reachable(parse_context(git_http.url), timeout=10)


class _Redirect(BaseHTTPRequestHandler):
    target: str

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path.partition("/project.git")[2])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_token_is_not_carried_through_a_redirect(git_http: GitHttp) -> None:
    handler = type("Handler", (_Redirect,), {"target": git_http.url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        spec = parse_context(f"http://127.0.0.1:{server.server_address[1]}/project.git")
        with pytest.raises(ContextUnreachableError) as caught:
            check_reachable(spec, token=TOKEN, timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert "answers with a redirect" in caught.value.message
    assert "give the URL it redirects to" in caught.value.message
    assert git_http.seen_auth == []  # the other host never saw the request, nor the token


# --- git URLs that do not answer -----------------------------------------------------------


def test_closed_port_is_refused_quickly() -> None:
    port = free_port()
    spec = parse_context(f"http://127.0.0.1:{port}/org/repo.git#main")
    started = time.monotonic()
    with pytest.raises(ContextUnreachableError) as caught:
        check_reachable(spec, timeout=10)
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}/org/repo.git#main does not answer" in caught.value.message
    assert "check the URL" in caught.value.message


def test_a_server_that_never_answers_is_refused_at_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        spec = parse_context(f"git://127.0.0.1:{port}/repo.git")
        started = time.monotonic()
        with pytest.raises(ContextUnreachableError, match=r"did not answer within 1 s"):
            check_reachable(spec, timeout=1)
        assert time.monotonic() - started < 5


# --- tarballs ------------------------------------------------------------------------------


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "web"
    root.mkdir()
    handler = partial(_QuietFiles, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def tarball(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_tarball_served_over_http(web: tuple[str, Path], run_dir: Path) -> None:
    base, root = web
    tarball(
        root / "ctx.tar.gz",
        [
            ("Dockerfile", b"FROM scratch\n"),
            ("app/main.py", b"print(1)\n"),
            link("df", "Dockerfile"),
        ],
    )
    spec = parse_context(f"{base}/ctx.tar.gz")
    assert spec.kind is ContextKind.TARBALL
    check_reachable(spec, timeout=10)
    context = materialize(spec, run_dir, timeout=30)
    assert (context / "app" / "main.py").read_text() == "print(1)\n"
    assert (context / "df").read_text() == "FROM scratch\n"
    assert sorted(p.name for p in run_dir.iterdir()) == ["source"]  # the download is gone


@pytest.mark.parametrize(
    ("entries", "says"),
    [
        ([("../evil", b"x")], "contains '..'"),
        ([("ok/../../evil", b"x")], "contains '..'"),
        ([("/tmp/evil-abs", b"x")], "absolute path"),
        ([link("passwd", "/etc/passwd")], "points outside"),
        ([link("up", "../../outside")], "points outside"),
        ([link("hard", "../outside", tarfile.LNKTYPE)], "hard link"),
        ([link("dev", "", tarfile.CHRTYPE)], "device file"),
        ([link("fifo", "", tarfile.FIFOTYPE)], "FIFO"),
    ],
)
def test_unsafe_tarballs_are_refused(
    web: tuple[str, Path], run_dir: Path, tmp_path: Path, entries: Any, says: str
) -> None:
    base, root = web
    tarball(root / "bad.tgz", [("first", b"1"), *entries])
    with pytest.raises(ContextRefusedError) as caught:
        materialize(parse_context(f"{base}/bad.tgz"), run_dir, timeout=30)
    assert says in caught.value.message
    assert "bad.tgz" in caught.value.message
    assert list(run_dir.iterdir()) == []  # nothing extracted, not even the safe entry
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil-abs").exists()


def test_tarball_over_the_size_limit(web: tuple[str, Path], run_dir: Path) -> None:
    base, root = web
    (root / "big.tar").write_bytes(os.urandom(50_000))
    limits = ContextLimits(max_download_bytes=10_000)
    with pytest.raises(ContextRefusedError, match="larger than 10000 bytes"):
        materialize(parse_context(f"{base}/big.tar"), run_dir, timeout=30, limits=limits)
    assert list(run_dir.iterdir()) == []


def test_tarball_that_is_not_a_tarball(web: tuple[str, Path], run_dir: Path) -> None:
    base, root = web
    (root / "junk.tar.gz").write_bytes(b"this is not gzip")
    with pytest.raises(ContextRefusedError, match="not a readable tar archive"):
        materialize(parse_context(f"{base}/junk.tar.gz"), run_dir, timeout=30)


def test_missing_tarball(web: tuple[str, Path]) -> None:
    base, _ = web
    with pytest.raises(ContextUnreachableError, match="answered HTTP 404"):
        check_reachable(parse_context(f"{base}/nothing.tgz"), timeout=10)


# --- local folders and /dev/null -----------------------------------------------------------


def test_local_folder_is_copied_not_linked(tmp_path: Path, run_dir: Path) -> None:
    user = tmp_path / "project"
    (user / "src").mkdir(parents=True)
    (user / "src" / "app.py").write_text("v1\n")
    os.symlink("src/app.py", user / "rel-link")
    os.symlink(str(user / "src"), user / "abs-link")
    spec = parse_context(str(user))
    check_reachable(spec)
    context = materialize(spec, run_dir)
    (context / "src" / "app.py").write_text("changed by the run\n")
    (context / "abs-link" / "new.txt").write_text("x")
    assert (user / "src" / "app.py").read_text() == "v1\n"
    assert not (user / "src" / "new.txt").exists()
    assert os.readlink(context / "abs-link") == "src"


def test_local_folder_with_a_link_out_is_refused(tmp_path: Path, run_dir: Path) -> None:
    user = tmp_path / "project"
    user.mkdir()
    (user / "ok").write_text("x")
    os.symlink(str(tmp_path), user / "out")
    with pytest.raises(ContextRefusedError, match="symbolic link out points outside"):
        materialize(parse_context(str(user)), run_dir)
    assert list(run_dir.iterdir()) == []


def test_local_folder_with_a_fifo_is_refused(tmp_path: Path, run_dir: Path) -> None:
    user = tmp_path / "project"
    user.mkdir()
    os.mkfifo(user / "pipe")
    with pytest.raises(ContextRefusedError, match="pipe is a FIFO"):
        materialize(parse_context(str(user)), run_dir)


def test_missing_local_folder(tmp_path: Path) -> None:
    with pytest.raises(ContextUnreachableError, match="not a readable folder"):
        check_reachable(parse_context(str(tmp_path / "nope")))


def test_server_state_folder_is_refused(tmp_path: Path, repo: Path, run_dir: Path) -> None:
    state = tmp_path / "airlock-home"
    (state / "keys").mkdir(parents=True)
    (state / "keys" / "master.key").write_text("secret")
    for text in [str(state), str(state / "keys"), str(tmp_path), f"file://{state}#main"]:
        with pytest.raises(ContextRefusedError, match="Airlock's own state folder"):
            check_reachable(parse_context(text), protected=[state])
        with pytest.raises(ContextRefusedError, match="Airlock's own state folder"):
            materialize(parse_context(text), run_dir, protected=[state])
    assert list(run_dir.iterdir()) == []
    check_reachable(parse_context(f"{repo}#main"), protected=[state])


def test_no_context(run_dir: Path) -> None:
    context = materialize(parse_context("/dev/null"), run_dir)
    assert context.is_dir() and list(context.iterdir()) == []
    assert head_commit(run_dir) is None


# --- a whole run: -f checks and cleanup ------------------------------------------------------


def test_run_with_f_file_inside_and_cleanup_on_error(repo: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    os.symlink("/etc/passwd", repo / "evil.yaml")
    with pytest.raises(ContextRefusedError), RunWorkspace(runs, "r") as folder:
        context = materialize(parse_context(str(repo)), folder)
        assert resolve_inside(context, "acb.yaml", what="the -f file").is_file()
        resolve_inside(context, "evil.yaml", what="the -f file")
    assert list(runs.iterdir()) == []
    with pytest.raises(ContextRefusedError, match=r"'\.\.'"), RunWorkspace(runs, "r") as folder:
        context = materialize(parse_context(f"{repo}#main"), folder)
        resolve_inside(context, "../acb.yaml", what="the -f file")
    assert list(runs.iterdir()) == []
