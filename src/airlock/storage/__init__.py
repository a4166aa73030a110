"""Blob storage behind a small driver interface (filesystem by default)."""

from airlock.storage.base import StorageDriver, StorageError, StorageFullError
from airlock.storage.filesystem import FilesystemDriver

__all__ = ["FilesystemDriver", "StorageDriver", "StorageError", "StorageFullError"]
