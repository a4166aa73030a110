"""The walkthrough's three git repositories, made from ``examples/`` in a folder of the demo.

The seed forks three GitHub repositories; here each is a local bare repository (what the
task's context names, ``file://...#main``) with a working clone beside it, where the demo
edits and commits as a user would.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from airlock.demo.commands import Git
from airlock.demo.errors import DemoError

REPOSITORIES = ("base-image-node", "import-baseimage-node", "hello-world")
UPSTREAM = "upstream-node"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def examples_folder() -> Path:
    """``$AIRLOCK_EXAMPLES``, else the ``examples/`` folder of the checkout this runs from."""
    configured = os.environ.get("AIRLOCK_EXAMPLES")
    folder = (
        Path(configured).expanduser()
        if configured
        else Path(__file__).resolve().parents[3] / "examples"
    )
    missing = [name for name in (*REPOSITORIES, UPSTREAM) if not (folder / name).is_dir()]
    if missing:
        raise DemoError(
            f"the walkthrough's example repositories are not in {folder} (missing: "
            f"{', '.join(missing)}); set AIRLOCK_EXAMPLES to the examples/ folder of an "
            "Airlock checkout"
        )
    return folder


@dataclass(frozen=True)
class Repository:
    name: str
    bare: Path
    work: Path

    @property
    def context(self) -> str:
        """The task context, as the seed's ``$GIT_...`` variables (``#main`` = the branch)."""
        return f"file://{self.bare}#main"


def make_repositories(git: Git, examples: Path, folder: Path) -> dict[str, Repository]:
    made = {}
    for name in REPOSITORIES:
        bare = folder / "git" / f"{name}.git"
        work = folder / name
        bare.parent.mkdir(parents=True, exist_ok=True)
        git.run(folder, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        shutil.copytree(examples / name, work)
        git.run(work, "init", "--quiet", "--initial-branch=main")
        git.run(work, "add", "--all")
        git.run(work, "commit", "--quiet", "-m", f"{name}: the walkthrough's sample")
        git.run(work, "remote", "add", "origin", str(bare))
        git.run(work, "push", "--quiet", "origin", "main")
        made[name] = Repository(name, bare, work)
    return made


def upstream_context(examples: Path, folder: Path) -> Path:
    """The Docker Hub stand-in's ``node`` image context: examples/upstream-node plus this
    machine's busybox-static."""
    context = folder / UPSTREAM
    shutil.copytree(examples / UPSTREAM, context)
    for candidate in BUSYBOX_CANDIDATES:
        if Path(candidate).is_file():
            shutil.copy2(candidate, context / "busybox")
            return context
    raise DemoError(
        "busybox is not installed (looked for /bin/busybox); install Debian's busybox-static "
        "(scripts/bootstrap does)"
    )


def set_background(git: Git, repository: Repository, color: str) -> None:
    """The seed's edit: ``ENV BACKGROUND_COLOR <color>`` in base-image-node's Dockerfile,
    committed and pushed."""
    dockerfile = repository.work / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    changed = [
        f"ENV BACKGROUND_COLOR {color}" if line.startswith("ENV BACKGROUND_COLOR") else line
        for line in lines
    ]
    if changed == lines and f"ENV BACKGROUND_COLOR {color}" not in lines:
        raise DemoError(f"{dockerfile} has no 'ENV BACKGROUND_COLOR' line to change")
    dockerfile.write_text("\n".join(changed) + "\n")
    git.run(repository.work, "commit", "--quiet", "-am", f"BACKGROUND_COLOR {color}", show=True)
    git.run(repository.work, "push", "--quiet", "origin", "main", show=True)
