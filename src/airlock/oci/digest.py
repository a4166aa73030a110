"""Content digests (``sha256:<hex>``) as a parsed value type."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airlock.oci.errors import InvalidDigestError, UnsupportedDigestError

if TYPE_CHECKING:
    from hashlib import _Hash

# The spec's grammar: algorithm-component ([+._-] algorithm-component)* ":" encoded.
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX_RE = re.compile(r"^[a-f0-9]+$")
SUPPORTED_ALGORITHMS = tuple(_HEX_LENGTH)


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        if len(text) > 256 or not _DIGEST_RE.match(text):
            raise InvalidDigestError(f"invalid digest {text[:80]!r}", text)
        algorithm, encoded = text.split(":", 1)
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise UnsupportedDigestError(
                f"unsupported digest algorithm {algorithm!r}; use sha256 or sha512", text
            )
        if len(encoded) != expected or not _HEX_RE.match(encoded):
            raise InvalidDigestError(
                f"invalid {algorithm} digest: expected {expected} lowercase hex characters", text
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @classmethod
    def from_hasher(cls, hasher: _Hash) -> Digest:
        return cls(hasher.name, hasher.hexdigest())

    def hasher(self) -> _Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def is_digest(text: str) -> bool:
    return ":" in text
