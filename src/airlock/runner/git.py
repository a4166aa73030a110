"""Running git for a context: never prompting, never reading the user's configuration.

Every git command gets a fresh environment, not the server's:

- ``HOME`` is an empty private folder, so neither ``~/.gitconfig``, ``~/.git-credentials``
  nor curl's ``~/.netrc`` is read; ``GIT_CONFIG_NOSYSTEM=1`` and ``GIT_CONFIG_GLOBAL=/dev/null``
  skip ``/etc/gitconfig`` and the global file; ``credential.helper`` is emptied;
- ``GIT_TERMINAL_PROMPT=0`` and no askpass program: a server asking for credentials fails
  the command instead of waiting for an answer nobody gives;
- ``GIT_ALLOW_PROTOCOL=file:git:http:https``: no ``ext::`` or other transport, also not
  through a redirect;
- the access token, if any, becomes ``http.<url>.extraHeader`` through ``GIT_CONFIG_COUNT``/
  ``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``: git sends it only to that URL, it is not in argv
  (which every user of the machine can read) and not in the clone's ``.git/config``; with a
  token git follows no redirect, since it would send the header to the new host too.

Output is masked (token and header) before it reaches a message.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from airlock.runner.credentials import GitAccessToken
from airlock.vault.masking import MASKER

ALLOWED_PROTOCOLS = "file:git:http:https"
# An HTTP transfer slower than 1 KB/s for this many seconds is abandoned by git itself.
LOW_SPEED_SECONDS = 30
MAX_OUTPUT = 64 * 1024


class GitTimeoutError(Exception):
    """The command ran longer than its timeout and was killed."""


def git_environment(home: Path, url: str, token: GitAccessToken | None) -> dict[str, str]:
    config: list[tuple[str, str]] = [
        ("credential.helper", ""),
        ("core.askPass", ""),
        ("http.lowSpeedLimit", "1000"),
        ("http.lowSpeedTime", str(LOW_SPEED_SECONDS)),
        ("advice.detachedHead", "false"),
    ]
    if token is not None:
        header = f"Authorization: Basic {token.basic_credentials()}"
        config.append((f"http.{url}.extraHeader", header))
        # git sends extra headers to wherever a redirect leads: with a token, no redirects.
        config.append(("http.followRedirects", "false"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def run_git(
    args: Sequence[str], env: dict[str, str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``git <args>``; kill it (and its helpers: remote-http, ...) after ``timeout``.

    Returns the completed process with masked stdout/stderr; raises ``GitTimeoutError``.
    """
    proc = subprocess.Popen(
        ["git", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group, so a kill reaches the helpers too
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise GitTimeoutError from None
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, MASKER.mask(out[-MAX_OUTPUT:]), MASKER.mask(err[-MAX_OUTPUT:])
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def last_lines(text: str, count: int = 3) -> str:
    """The last meaningful lines of git's stderr, joined, for an error message."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("Cloning into", "hint:"))]
    return " / ".join(lines[-count:]) if lines else "no output"


def failure_kind(stderr: str) -> str:
    """Classify a failed git transfer: ``auth``, ``unreachable``, ``missing`` or ``other``."""
    text = stderr.lower()
    if any(
        marker in text
        for marker in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "http 401",
            "error: 401",
            "http 403",
            "error: 403",
            "access denied",
            "permission denied",
        )
    ):
        return "auth"
    if any(
        marker in text
        for marker in (
            "could not resolve host",
            "failed to connect",
            "couldn't connect",
            "connection refused",
            "unable to connect",
            "unable to look up",
            "connection timed out",
            "operation timed out",
            "network is unreachable",
            "no route to host",
            "connection reset",
        )
    ):
        return "unreachable"
    if any(
        marker in text
        for marker in (
            "not found",
            "does not appear to be a git repository",
            "repository not exported",
            "no such repository",
            "no such file or directory",
            "not a git repository",
            "http 404",
            "error: 404",
        )
    ):
        return "missing"
    return "other"
