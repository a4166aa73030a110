"""Settings read from the environment, checked once at start: a bad value is a ValueError
that names the variable and what it takes (the server refuses to start with it)."""

from __future__ import annotations

import os
from collections.abc import Mapping


def seconds(
    name: str,
    default: float,
    low: float,
    high: float,
    *,
    off: bool = False,
    environ: Mapping[str, str] | None = None,
) -> float:
    """A number of seconds from ``$name`` (``default`` when unset), from ``low`` to ``high``;
    with ``off``, 0 is allowed too (the feature turned off)."""
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text[:40]!r}") from None
    if off and value == 0:
        return value
    if not low <= value <= high:
        zero = "0 (off) or " if off else ""
        raise ValueError(f"{name} must be {zero}from {low:g} to {high:g} seconds")
    return value
