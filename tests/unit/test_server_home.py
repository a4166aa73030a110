"""prepare_home: the state folder private, and the umask that keeps what is created in it so."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.server.home import prepare_home


@pytest.fixture(autouse=True)
def restore_umask() -> Iterator[None]:
    """prepare_home sets the process umask; give the test process its own back."""
    before = os.umask(0o022)
    os.umask(before)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_home_is_private_and_so_is_what_is_created_in_it(tmp_path: Path) -> None:
    home = tmp_path / "deep" / "home"
    prepare_home(home)
    assert mode(home) == 0o700
    assert mode(home.parent) == 0o700  # created under the new umask too
    (home / "state.db").write_bytes(b"x")  # a plain open(), as SQLite and the blob store do
    (home / "blobs").mkdir()
    assert mode(home / "state.db") == 0o600
    assert mode(home / "blobs") == 0o700
    current = os.umask(0o077)
    assert current == 0o077


def test_an_open_home_is_tightened_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="airlock.server"):
        prepare_home(home)
        prepare_home(home)  # a restart: nothing left to say
    assert mode(home) == 0o700
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert str(home) in warnings[0] and "755" in warnings[0] and "700" in warnings[0]


def test_a_home_that_cannot_be_created_names_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"cannot make the state folder .*file/home private"):
        prepare_home(blocker / "home")
