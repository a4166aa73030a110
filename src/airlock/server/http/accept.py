"""Throttled logging of failed accepts when the process is out of file descriptors.

When ``accept()`` fails with EMFILE/ENFILE (or ENOBUFS/ENOMEM), asyncio's selector loop stops
watching the listening socket, retries a second later and reports every failure through the
loop's exception handler, which by default logs an error with a traceback. Under a
descriptor shortage that is one error per listener per second, burying the log lines that
say why. :class:`AcceptErrorThrottle` logs the first failure, then at most one line per
interval with the number of failures it held back; every other context goes on to the
handler that was installed before it (or asyncio's default one).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("airlock.http")

# The message asyncio.selector_events passes along with the OSError of a failed accept.
ACCEPT_FAILED = "socket.accept() out of system resource"
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class AcceptErrorThrottle:
    """A loop exception handler: accept failures for lack of resources, once per interval."""

    def __init__(
        self,
        previous: Handler | None,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.previous = previous
        self.interval = interval
        self._clock = clock
        self._logged_at: float | None = None
        self.suppressed = 0  # failures held back since the last line

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if context.get("message") == ACCEPT_FAILED and (
            isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS
        ):
            self._accept_failed(exc, context.get("socket"))
        elif self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def _accept_failed(self, exc: OSError, sock: object) -> None:
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self.interval:
            self.suppressed += 1
            return
        held_back = f"; {self.suppressed} more since the last report" if self.suppressed else ""
        logger.error(
            "cannot accept connections on %s: %s (asyncio retries every second; this is "
            "logged at most once per %g s%s). Raise the open-file limit (ulimit -n) or "
            "close idle clients.",
            _address(sock),
            exc.strerror or exc,
            self.interval,
            held_back,
        )
        self._logged_at = now
        self.suppressed = 0


def install(loop: asyncio.AbstractEventLoop, interval: float = 60.0) -> AcceptErrorThrottle:
    """Put a throttle in front of the loop's exception handler (once per loop)."""
    current = loop.get_exception_handler()
    if isinstance(current, AcceptErrorThrottle):
        return current
    throttle = AcceptErrorThrottle(current, interval=interval)
    loop.set_exception_handler(throttle)
    return throttle


def _address(sock: Any) -> str:
    try:
        host, port = sock.getsockname()[:2]
    except (AttributeError, OSError, TypeError, ValueError):
        return "a listening socket"
    return f"{host}:{port}"
