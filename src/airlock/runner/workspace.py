"""Each run's private working folder, removed when the run ends."""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from airlock.runner.errors import ContextError

log = logging.getLogger(__name__)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RunWorkspace:
    """``with RunWorkspace(root, run_id) as folder:`` a new 0700 folder under ``root``.

    The folder is gone after the ``with`` block, whether it ended normally or with an
    exception (files a run made read-only included). ``root`` is created 0700 if missing.
    """

    def __init__(self, root: Path, run_id: str = "run") -> None:
        if not _RUN_ID.match(run_id):
            raise ContextError(
                f"run id {run_id!r} is not a valid folder name; use letters, digits, '.', '_' "
                "and '-' (at most 64)"
            )
        self.root = root
        self.run_id = run_id
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("the run workspace is not open")
        return self._path

    def __enter__(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = Path(tempfile.mkdtemp(prefix=f"{self.run_id}-", dir=self.root))
        os.chmod(self._path, 0o700)
        return self._path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        path, self._path = self._path, None
        if path is not None:
            remove_tree(path)


def remove_tree(path: Path) -> None:
    """Remove ``path`` whole; folders a run made unreadable or unwritable are opened first.

    A failure is logged, not raised: it must not hide the run's own outcome.
    """
    try:
        _rmtree(str(path))
    except OSError as exc:
        log.warning("could not remove the run folder %s: %s", path, exc)


def _rmtree(path: str) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_on_error)
    else:
        shutil.rmtree(path, onerror=lambda func, failed, info: _on_error(func, failed, info[1]))


def _on_error(func: object, failed: str, exc: BaseException) -> None:
    if isinstance(exc, FileNotFoundError):
        return
    os.chmod(os.path.dirname(failed), stat.S_IRWXU)
    if os.path.isdir(failed) and not os.path.islink(failed):
        os.chmod(failed, stat.S_IRWXU)
        _rmtree(failed)
    else:
        os.unlink(failed)
