"""One file of a context, read on the server: the task file of ``acr task create -f FILE
--context <git or folder>``, where ACR reads ``FILE`` from the context, not from the
machine the command runs on."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from airlock.runner.contexts import ContextKind, ContextSpec, materialize
from airlock.runner.credentials import GitAccessToken
from airlock.runner.errors import ContextError
from airlock.runner.paths import check_relative, resolve_inside

MAX_TASK_FILE_BYTES = 1024 * 1024


def read_context_file(
    spec: ContextSpec,
    relative: str,
    token: GitAccessToken | str | None = None,
    *,
    protected: Sequence[Path] = (),
) -> str:
    """The text of ``relative`` inside the context (blocking: git clone or folder copy)."""
    what = f"the task file '{relative}'"
    check_relative(relative, what)
    if spec.kind is ContextKind.NONE:
        raise ContextError(f"{what} cannot be read from the context /dev/null; give a local file")
    with tempfile.TemporaryDirectory(prefix="airlock-task-file-") as scratch:
        source = materialize(spec, Path(scratch), token, protected=protected)
        path = resolve_inside(source, relative, what="the task file")
        if not path.is_file():
            raise ContextError(
                f"{what} is not in the context {spec}; give its path inside the context "
                "(or the path of a file on this machine)"
            )
        if path.stat().st_size > MAX_TASK_FILE_BYTES:
            raise ContextError(f"{what} in {spec} is larger than 1 MiB")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ContextError(f"{what} in {spec} is not UTF-8 text") from None
