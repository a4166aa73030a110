"""Repository names and tags, checked against the OCI Distribution Spec grammar."""

from __future__ import annotations

import re

from airlock.oci.errors import InvalidNameError, InvalidTagError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Distribution limits the whole name to 255 characters; clients share that limit.
MAX_NAME_LENGTH = 255


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid repository name {name[:80]!r}: use lowercase letters, digits and "
            "separators (. _ __ -), path components joined by '/', at most 255 characters",
            name,
        )
    return name


def check_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise InvalidTagError(
            f"invalid tag {tag[:80]!r}: use letters, digits, '_', '.', '-' "
            "(not first), at most 128 characters",
            tag,
        )
    return tag


def is_valid_name(name: str) -> bool:
    return bool(name) and len(name) <= MAX_NAME_LENGTH and bool(_NAME_RE.match(name))


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG_RE.match(tag))
