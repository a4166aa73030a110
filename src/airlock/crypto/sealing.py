"""The master key and AES-256-GCM sealing of small secrets.

The key is 32 random bytes, read from ``$AIRLOCK_MASTER_KEY`` (base64) when set, else from
``<home>/keys/master.key`` (created on first use with mode 0600). A sealed value is
``version byte | 12-byte nonce | ciphertext+tag``; the caller's ``context`` (for example
``vault/<name>/secrets/<secret>/<version>``) is bound as associated data, so a sealed value
copied to another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = b"\x01"
ENV_VAR = "AIRLOCK_MASTER_KEY"


class SealError(Exception):
    """A sealed value could not be opened (wrong key, wrong context or damaged data)."""


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        if not sealed.startswith(FORMAT_V1) or len(sealed) < 1 + NONCE_BYTES + 16:
            raise SealError(f"sealed value for {context!r} has an unknown format")
        nonce = sealed[1 : 1 + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + NONCE_BYTES :], context.encode())
        except InvalidTag:
            raise SealError(
                f"cannot decrypt the value for {context!r}: the master key differs from the one "
                "it was sealed with, or the data is damaged"
            ) from None

    def __repr__(self) -> str:
        return "MasterKey(***)"


def load_master_key(home: Path) -> MasterKey:
    """The master key from the environment, else from the key file (created if absent)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        try:
            return MasterKey(base64.b64decode(configured, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(
                f"${ENV_VAR} must be {KEY_BYTES} bytes in base64 "
                f"(make one with: head -c 32 /dev/urandom | base64): {exc}"
            ) from None
    path = home / "keys" / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(
            f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    return MasterKey(path.read_bytes())
