"""The hello-world page, looked at over HTTP as a browser would."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from airlock.demo.errors import DemoError

_COLOR = re.compile(r'id="background-color">\s*([^<\s]+)\s*<')
_BASE_DIGEST = re.compile(r'id="base-image-digest">\s*([^<\s]+)\s*<')


@dataclass(frozen=True)
class Look:
    """What the page says: its background colour, and the digest of the base image the app
    was built on (``unknown`` when the page cannot tell)."""

    color: str
    base_digest: str


def look(url: str) -> Look | None:
    """The page as it is now, or None when it does not answer (or is not the page)."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            body = response.read(65536).decode("utf-8", "replace")
    except (OSError, urllib.error.URLError):
        return None
    color = _COLOR.search(body)
    if color is None:
        return None
    digest = _BASE_DIGEST.search(body)
    return Look(color.group(1), digest.group(1) if digest else "unknown")


def color_of(url: str) -> str | None:
    seen = look(url)
    return seen.color if seen else None


def wait_for_color(url: str, expected: str, timeout: float = 60.0) -> Look:
    """Poll until the page shows ``expected``; returns that look, or raises with what was
    seen."""
    deadline = time.monotonic() + timeout
    seen: Look | None = None
    while time.monotonic() < deadline:
        seen = look(url)
        if seen is not None and seen.color.lower() == expected.lower():
            return seen
        time.sleep(0.2)
    raise DemoError(
        f"the page at {url} shows {seen.color if seen else 'nothing'} after {timeout:g} s, "
        f"not {expected}"
    )
