"""Paths inside a context: a ``-f`` file, a build context folder, a ``#branch:folder`` folder."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from airlock.runner.errors import ContextError, ContextRefusedError


def check_relative(relative: str, what: str) -> PurePosixPath:
    """The lexical rules: a relative path, printable, with no ``..`` part.

    ``what`` names the path in the message, e.g. ``"the -f file 'x'"``.
    """
    if not isinstance(relative, str) or relative.strip() == "":
        raise ContextError(f"{what} is empty; give a path relative to the context")
    if not relative.isprintable():
        raise ContextError(f"{what} holds a control character; give a plain relative path")
    if relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        raise ContextRefusedError(
            f"{what} is absolute; give a path relative to the context folder "
            "(a run sees only its context)"
        )
    path = PurePosixPath(relative.replace("\\", "/"))
    if ".." in path.parts:
        raise ContextRefusedError(
            f"{what} contains '..'; give a path inside the context folder "
            "(a run sees only its context)"
        )
    return path


def resolve_inside(context: Path, relative: str, *, what: str = "the path") -> Path:
    """``context/relative`` with every symlink resolved, refused unless it stays inside.

    Refused: an absolute path, a ``..`` part, a symlink (anywhere along the path) that
    leads out of the context. The path need not exist; the caller checks what it needs.
    """
    label = f"{what} '{relative}'"
    path = check_relative(relative, label)
    root = Path(os.path.realpath(context))
    target = Path(os.path.realpath(root.joinpath(*path.parts)))
    if target != root and not target.is_relative_to(root):
        raise ContextRefusedError(
            f"{label} leads out of the context through a symbolic link; "
            "give a path to a file inside the context"
        )
    return target
