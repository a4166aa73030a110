"""Sprig's cryptographic functions that need no key or randomness (sha256sum, sha1sum...)."""

from __future__ import annotations

import hashlib
import zlib

from airlock.tasks.gotemplate.funcs_common import F, Func

FUNCS: dict[str, Func] = {
    "sha256sum": F("s", lambda s: hashlib.sha256(s.encode("utf-8", "surrogateescape")).hexdigest()),
    "sha1sum": F("s", lambda s: hashlib.sha1(s.encode("utf-8", "surrogateescape")).hexdigest()),
    "adler32sum": F("s", lambda s: str(zlib.adler32(s.encode("utf-8", "surrogateescape")))),
}
