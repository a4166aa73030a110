"""Filesystem storage driver: objects are files under one root folder."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO

from airlock.storage.base import StorageError, StorageFullError


class FilesystemDriver:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid storage key {key!r}", key)
        return self.root / key

    def size(self, key: str) -> int | None:
        try:
            return os.stat(self._path(key)).st_size
        except FileNotFoundError:
            return None

    def open_read(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def open_append(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return path.open("ab")
        except OSError as exc:
            raise _translate(exc, key) from exc

    def truncate(self, key: str, size: int) -> None:
        os.truncate(self._path(key), size)

    def sync(self, key: str) -> None:
        fd = os.open(self._path(key), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def move(self, src: str, dst: str) -> None:
        target = self._path(dst)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path(src), target)
            # The rename is only durable once the folder entry is on disk.
            _fsync_dir(target.parent)
        except OSError as exc:
            raise _translate(exc, dst) from exc

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            str(path.relative_to(self.root)) for path in base.rglob("*") if path.is_file()
        )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _translate(exc: OSError, key: str) -> OSError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError("no space left on the storage volume", key)
    return exc
