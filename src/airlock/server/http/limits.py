"""Connection limits and their environment variables (documented in docs/limits.md).

Every limit is a constructor or listener option; when a caller leaves one unset, the value
comes from the environment, else from the default here. A malformed value is a ``ValueError``
that names the variable and what it accepts, so the server refuses to start instead of
running with a limit nobody asked for.
"""

from __future__ import annotations

import math
import os

KEEPALIVE_TIMEOUT = ("AIRLOCK_KEEPALIVE_TIMEOUT", 60.0)
HEADER_TIMEOUT = ("AIRLOCK_HEADER_TIMEOUT", 30.0)
BODY_TIMEOUT = ("AIRLOCK_BODY_TIMEOUT", 30.0)
MIN_BODY_RATE = ("AIRLOCK_MIN_BODY_RATE", 1024)
BODY_RATE_WINDOW = ("AIRLOCK_BODY_RATE_WINDOW", 10.0)
API_MAX_BODY = ("AIRLOCK_API_MAX_BODY", 1024 * 1024)


def seconds(value: float | None, setting: tuple[str, float]) -> float:
    """``value`` if given, else the variable, else the default: a number of seconds > 0."""
    name, default = setting
    if value is None:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a number of seconds greater than 0, not {value!r}")
    return value


def byte_count(value: int | None, setting: tuple[str, int], *, zero_allowed: bool) -> int:
    """``value`` if given, else the variable, else the default: a whole number of bytes."""
    name, default = setting
    floor = 0 if zero_allowed else 1
    if value is None:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number of bytes, not {raw!r}") from None
    if value < floor:
        raise ValueError(f"{name} must be at least {floor}, not {value}")
    return value


def api_max_body() -> int:
    """The REST API's largest request body: $AIRLOCK_API_MAX_BODY bytes, default 1 MiB."""
    return byte_count(None, API_MAX_BODY, zero_allowed=False)
