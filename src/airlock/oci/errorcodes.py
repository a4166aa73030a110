"""The one table of OCI error codes, shared by the registry (to answer) and the client (to parse).

It lives with the value types, not in ``airlock.registry``, because the client sits below the
registry in the layers and must not import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int
    description: str


_CODES = [
    ErrorCode("BLOB_UNKNOWN", 404, "blob unknown to registry"),
    ErrorCode("BLOB_UPLOAD_INVALID", 400, "blob upload invalid"),
    ErrorCode("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"),
    ErrorCode("DIGEST_INVALID", 400, "provided digest did not match uploaded content"),
    ErrorCode(
        "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"
    ),
    ErrorCode("MANIFEST_INVALID", 400, "manifest invalid"),
    ErrorCode("MANIFEST_UNKNOWN", 404, "manifest unknown to registry"),
    ErrorCode("NAME_INVALID", 400, "invalid repository name"),
    ErrorCode("NAME_UNKNOWN", 404, "repository name not known to registry"),
    ErrorCode("SIZE_INVALID", 400, "provided length did not match content length"),
    ErrorCode("TAG_INVALID", 400, "manifest tag did not match URI"),
    ErrorCode("UNAUTHORIZED", 401, "authentication required"),
    ErrorCode("DENIED", 403, "requested access to the resource is denied"),
    ErrorCode("UNSUPPORTED", 405, "the operation is unsupported"),
    ErrorCode("TOOMANYREQUESTS", 429, "too many requests"),
    ErrorCode("RANGE_INVALID", 416, "invalid content range"),
    ErrorCode("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"),
    ErrorCode("MANIFEST_TOO_LARGE", 413, "manifest too large"),
    ErrorCode("STORAGE_FULL", 507, "no space left on the storage volume"),
    ErrorCode("UNKNOWN", 500, "unknown error"),
]

CODES: dict[str, ErrorCode] = {c.code: c for c in _CODES}


@dataclass(frozen=True, slots=True)
class WireError:
    """One entry of an OCI error body: ``{"errors": [{"code", "message", "detail"}]}``."""

    code: str
    message: str
    detail: Any = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def parse_error_body(body: bytes) -> list[WireError]:
    """The errors of an OCI error body; an empty list when ``body`` is not one (HTML, empty)."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return []
    entries = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return []
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            continue
        code = entry["code"]
        known = CODES.get(code)
        message = entry.get("message")
        if not isinstance(message, str) or not message:
            message = known.description if known else code.lower()
        found.append(WireError(code, message, entry.get("detail")))
    return found
