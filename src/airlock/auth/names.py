"""Names of scope maps and tokens (ACR's rules), and timestamps as stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from airlock.errors import InvalidArgumentError

# ACR: 5-50 letters, digits and hyphens. System scope maps start with '_', which this rule
# keeps for them.
_NAME_RE = re.compile(r"^[a-zA-Z0-9-]{5,50}$")
MAX_DESCRIPTION = 256
MAX_EXPIRY_DAYS = 3650


def check_name(kind: str, name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid {kind} name {name[:60]!r}: use 5-50 letters, digits and hyphens",
            "InvalidName",
        )
    return name


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgumentError(f"description longer than {MAX_DESCRIPTION} characters")
    return description


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def expiry_after(days: int | None) -> str | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidArgumentError(f"expiration in days must be between 1 and {MAX_EXPIRY_DAYS}")
    return iso(now() + timedelta(days=days))


def is_past(moment: str | None) -> bool:
    return moment is not None and datetime.fromisoformat(moment) <= now()
