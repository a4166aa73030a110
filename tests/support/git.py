"""git for the tests: without the user's (or the system's) configuration, with a fixed
identity, failing the test with its output when git fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

NAME, EMAIL = "Airlock Tests", "tests@example.invalid"


def git_env(home: Path | str) -> dict[str, str]:
    """The environment ``git`` runs with (also for git servers a test starts)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": NAME,
        "GIT_AUTHOR_EMAIL": EMAIL,
        "GIT_COMMITTER_NAME": NAME,
        "GIT_COMMITTER_EMAIL": EMAIL,
    }


def git(cwd: Path, *args: str) -> str:
    """``git ARGS`` in ``cwd`` (also its HOME); what it printed on both streams, stripped (a
    push's hook lines, ``remote: ...``, come on stderr)."""
    done = subprocess.run(["git", *args], cwd=cwd, env=git_env(cwd), capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return (done.stdout + done.stderr).strip()
