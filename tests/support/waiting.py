"""Waiting, bounded, for something a test expects to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    check: Callable[[], Any], *, what: str, timeout: float = 60.0, every: float = 0.2
) -> Any:
    """Call ``check`` every ``every`` seconds until it returns something true, and return that.
    ``check`` is called at least once, and once more after ``timeout`` seconds; if it is still
    false then, the test fails naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
