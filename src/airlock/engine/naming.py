"""The engine, with podman's image-naming commands taken one at a time."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from airlock.engine.containers import Captured, ContainerEngine, Outcome

_NAMING_VERBS = frozenset({"tag", "untag", "rmi"})


class NamingLockEngine(ContainerEngine):
    """The engine, with the commands that change an image's names taken one at a time.

    Podman 4.3 gives an image a name by reading its names and writing them back, so two
    ``podman tag`` of one image at once (the seed's ``retag-base-image`` and
    ``retag-base-image-unique-tag`` steps, both ``when: ['pull-base-image']``) may keep only
    one of the new names, and the push that follows fails with "image not known". The lock
    is a file of the store's engine folder, so runs of other threads and of other worker
    processes on this machine wait for it too."""

    def __init__(self, env: Mapping[str, str], binary: str = "podman", *, lock: Path) -> None:
        super().__init__(env, binary)
        self.lock = lock

    def capture(
        self, args: Sequence[str], *, timeout: float = 120.0, stdin: bytes | None = None
    ) -> Captured:
        with self._naming(args):
            return super().capture(args, timeout=timeout, stdin=stdin)

    def stream(
        self,
        args: Sequence[str],
        on_line: Callable[[str], None],
        *,
        timeout: float,
        cancel: threading.Event | None = None,
        on_stop: Callable[[], None] | None = None,
        cwd: Path | None = None,
    ) -> Outcome:
        with self._naming(args):
            return super().stream(
                args, on_line, timeout=timeout, cancel=cancel, on_stop=on_stop, cwd=cwd
            )

    @contextmanager
    def _naming(self, args: Sequence[str]) -> Iterator[None]:
        if not args or args[0] not in _NAMING_VERBS:
            yield
            return
        fd = os.open(self.lock, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
