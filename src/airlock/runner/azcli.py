"""The ``az`` and ``acr`` aliases: Airlock's own CLI, signed in as the task's identity.

On ACR, ``cmd: az ...`` runs the Azure CLI in a container and ``az login --identity`` signs it
in as the task's managed identity. Here the step runs ``airlock <args>`` (``acr <args>`` runs
``airlock acr <args>``) on the worker, with a configuration of its own: the server's address,
and a session of the task's identity that the server opened for this run and revokes when
the run ends. It may do exactly what the identity's role assignments allow, and a refusal
names the missing role and scope. ``az login --identity`` checks that session and succeeds.

acr-builder hands a step to a shell, so task files write ``az login --identity > /dev/null``;
such redirections are honoured for the common forms (``> file``, ``>> file``, ``2>&1``,
``> /dev/null``) by dropping or keeping the output, without running a shell.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from airlock.common.files import write_private
from airlock.engine.containers import ContainerEngine, Outcome
from airlock.runner.errors import StepError
from airlock.tasks.model import Step

TASK_IDENTITY_ENV = "AIRLOCK_TASK_IDENTITY"
_REDIRECTS = (">", ">>", "1>", "1>>", "2>", "2>>", "&>")


def az_environment(folder: Path, server_url: str, token: str) -> dict[str, str]:
    """The environment of an ``az`` step: its own configuration and home, no owner file."""
    config = folder / "az-config"
    home = folder / "az-home"
    config.mkdir(mode=0o700, exist_ok=True)
    home.mkdir(mode=0o700, exist_ok=True)
    sessions = {server_url.rstrip("/").lower(): {"accessToken": token}}
    write_private(config / "sessions.json", (json.dumps(sessions) + "\n").encode())
    return {
        "AIRLOCK_URL": server_url,
        "AIRLOCK_CONFIG_DIR": str(config),
        # A home without the owner's credentials file: the step is the identity, never the
        # Unix user who runs the worker.
        "AIRLOCK_HOME": str(home),
        "HOME": str(home),
        TASK_IDENTITY_ENV: "1",
    }


def airlock_arguments(step: Step, words: list[str]) -> tuple[list[str], bool]:
    """``az`` words -> ``airlock`` arguments, and whether stdout is kept."""
    if not words or words[0] not in ("az", "acr"):
        raise StepError(f"step {step.id}: not an az or acr command")
    args = ["acr"] if words[0] == "acr" else []
    keep_output = True
    rest = words[1:]
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("2>&1", "1>&2"):
            i += 1
            continue
        if word in _REDIRECTS:
            if i + 1 >= len(rest):
                raise StepError(f"step {step.id}: '{word}' names no file")
            if not word.startswith("2"):
                keep_output = rest[i + 1] != "/dev/null" and keep_output
            i += 2
            continue
        if word in ("|", "&&", "||", ";"):
            raise StepError(
                f"step {step.id}: '{word}' needs a shell; an az step runs one command "
                "(split it into steps, or use a bash step)"
            )
        args.append(word)
        i += 1
    if not args:
        raise StepError(f"step {step.id}: az needs a command, e.g. 'az acr list'")
    return args, keep_output


def run_airlock(
    env: dict[str, str],
    cwd: Path,
    args: list[str],
    on_line: Callable[[str], None],
    *,
    timeout: float,
    cancel: threading.Event,
) -> Outcome:
    """``python -m airlock <args>`` with ``env``, its output given line by line."""
    engine = ContainerEngine(env, sys.executable)
    return engine.stream(["-m", "airlock", *args], on_line, timeout=timeout, cancel=cancel, cwd=cwd)
