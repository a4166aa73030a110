"""Sealing under the master key: round trip, bound context, key file permissions."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from airlock.crypto import MasterKey, SealError, load_master_key


def test_round_trip_and_no_plaintext() -> None:
    key = MasterKey(os.urandom(32))
    sealed = key.seal(b"s3cret-value", "vault/v/secrets/a/1")
    assert b"s3cret-value" not in sealed
    assert key.open(sealed, "vault/v/secrets/a/1") == b"s3cret-value"


def test_context_is_bound() -> None:
    key = MasterKey(os.urandom(32))
    sealed = key.seal(b"x", "vault/v/secrets/a/1")
    with pytest.raises(SealError, match="cannot decrypt"):
        key.open(sealed, "vault/v/secrets/b/1")


def test_other_key_cannot_open() -> None:
    sealed = MasterKey(os.urandom(32)).seal(b"x", "c")
    with pytest.raises(SealError):
        MasterKey(os.urandom(32)).open(sealed, "c")


def test_key_file_is_created_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRLOCK_MASTER_KEY", raising=False)
    first = load_master_key(tmp_path)
    path = tmp_path / "keys" / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    sealed = first.seal(b"x", "c")
    assert load_master_key(tmp_path).open(sealed, "c") == b"x"
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_master_key(tmp_path)


def test_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = os.urandom(32)
    monkeypatch.setenv("AIRLOCK_MASTER_KEY", base64.b64encode(raw).decode())
    assert load_master_key(tmp_path).open(MasterKey(raw).seal(b"y", "c"), "c") == b"y"
    assert not (tmp_path / "keys").exists()
    monkeypatch.setenv("AIRLOCK_MASTER_KEY", "not base64!")
    with pytest.raises(ValueError, match="base64"):
        load_master_key(tmp_path)
