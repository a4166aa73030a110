"""Timestamps as stored and shown: ISO 8601 in UTC with microseconds (as the registry's)."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
