"""Where blob bytes live: content-addressed objects in a storage driver."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from airlock.storage.base import StorageDriver


class BlobStore:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    @staticmethod
    def key(digest: str) -> str:
        algorithm, hex_part = digest.split(":", 1)
        return f"blobs/{algorithm}/{hex_part[:2]}/{hex_part}"

    def exists(self, digest: str) -> bool:
        return self.driver.size(self.key(digest)) is not None

    def local_path(self, digest: str) -> Path | None:
        return self.driver.local_path(self.key(digest))

    def open(self, digest: str) -> BinaryIO:
        return self.driver.open_read(self.key(digest))
