"""The hello-world page, looked at over HTTP as a browser would."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

from airlock.demo.errors import DemoError

_COLOR = re.compile(r'id="background-color">\s*([^<\s]+)\s*<')


def color_of(url: str) -> str | None:
    """The page's background colour, or None when it does not answer (or is not the page)."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            body = response.read(65536).decode("utf-8", "replace")
    except (OSError, urllib.error.URLError):
        return None
    found = _COLOR.search(body)
    return found.group(1) if found else None


def wait_for_color(url: str, expected: str, timeout: float = 60.0) -> str:
    """Poll until the page shows ``expected``; returns it, or raises with what was seen."""
    deadline = time.monotonic() + timeout
    seen: str | None = None
    while time.monotonic() < deadline:
        seen = color_of(url)
        if seen is not None and seen.lower() == expected.lower():
            return seen
        time.sleep(0.2)
    raise DemoError(
        f"the page at {url} shows {seen or 'nothing'} after {timeout:g} s, not {expected}"
    )
