"""The storage-driver protocol every blob backend implements.

Keys are relative POSIX paths such as ``blobs/sha256/ab/abcdef...``. Writers append; a
finished object is published with ``move``, which must be atomic: a reader sees the old
object, the new one, or none, never a torn one.

Errors::

    StorageError
    └── StorageFullError   (no space left: the caller answers with a clean error)
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol


class StorageError(OSError):
    """A storage operation failed; ``key`` names the object."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class StorageFullError(StorageError):
    pass


class StorageDriver(Protocol):
    def size(self, key: str) -> int | None:
        """Size in bytes, or None if the object does not exist."""

    def open_read(self, key: str) -> BinaryIO:
        """Open for reading; raises FileNotFoundError if absent."""

    def local_path(self, key: str) -> Path | None:
        """A local file path for zero-copy sending, or None for remote backends."""

    def open_append(self, key: str) -> BinaryIO:
        """Open for appending, creating the object (and its folders) if needed."""

    def truncate(self, key: str, size: int) -> None:
        """Cut an object back to ``size`` bytes (drop a partly written chunk)."""

    def sync(self, key: str) -> None:
        """Make the object's bytes durable."""

    def move(self, src: str, dst: str) -> None:
        """Atomically publish ``src`` under ``dst`` (replacing it)."""

    def delete(self, key: str) -> bool:
        """Delete an object; True if it existed."""

    def list(self, prefix: str) -> list[str]:
        """Keys under a folder-like prefix, sorted."""
