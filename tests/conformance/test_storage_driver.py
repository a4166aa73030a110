"""The suite every storage driver must pass (today: the filesystem driver)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airlock.storage import FilesystemDriver, StorageDriver
from airlock.storage.base import StorageError

DRIVERS: dict[str, Callable[[Path], StorageDriver]] = {
    "filesystem": FilesystemDriver,
}


@pytest.fixture(params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    return DRIVERS[request.param](tmp_path / "root")


def test_missing_object(driver: StorageDriver) -> None:
    assert driver.size("blobs/none") is None
    assert driver.delete("blobs/none") is False
    with pytest.raises(FileNotFoundError):
        driver.open_read("blobs/none")


def test_append_and_read(driver: StorageDriver) -> None:
    with driver.open_append("uploads/u1") as out:
        out.write(b"hello ")
    with driver.open_append("uploads/u1") as out:
        out.write(b"world")
    assert driver.size("uploads/u1") == 11
    with driver.open_read("uploads/u1") as src:
        assert src.read() == b"hello world"


def test_truncate_drops_a_partial_chunk(driver: StorageDriver) -> None:
    with driver.open_append("uploads/u2") as out:
        out.write(b"0123456789")
    driver.truncate("uploads/u2", 4)
    with driver.open_read("uploads/u2") as src:
        assert src.read() == b"0123"


def test_move_publishes_and_replaces(driver: StorageDriver) -> None:
    with driver.open_append("uploads/a") as out:
        out.write(b"new")
    with driver.open_append("blobs/x/target") as out:
        out.write(b"old content")
    driver.sync("uploads/a")
    driver.move("uploads/a", "blobs/x/target")
    assert driver.size("uploads/a") is None
    with driver.open_read("blobs/x/target") as src:
        assert src.read() == b"new"


def test_list_and_delete(driver: StorageDriver) -> None:
    for key in ("blobs/b/2", "blobs/a/1", "uploads/z"):
        driver.open_append(key).close()
    assert driver.list("blobs") == ["blobs/a/1", "blobs/b/2"]
    assert driver.delete("blobs/a/1") is True
    assert driver.list("blobs") == ["blobs/b/2"]
    assert driver.list("nothing-here") == []


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "blobs/../../x"])
def test_keys_cannot_escape_the_root(driver: StorageDriver, key: str) -> None:
    with pytest.raises(StorageError, match="invalid storage key"):
        driver.open_append(key)


def test_local_path_points_at_the_bytes(driver: StorageDriver) -> None:
    with driver.open_append("blobs/p") as out:
        out.write(b"abc")
    path = driver.local_path("blobs/p")
    if path is None:
        pytest.skip("remote driver: no local path")
    assert path.read_bytes() == b"abc"
