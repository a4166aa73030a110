"""Slowing down, then refusing, repeated failed sign-ins: per source address and per name.

Used by the registries' token endpoints and (through the same API) the management login::

    try:
        wait = throttle.check(source, name)      # seconds to wait before checking
    except ThrottledError as exc:                # refuse: 429, Retry-After: exc.retry_after
        ...
    await asyncio.sleep(wait)
    ... verify ...
    throttle.failed(source, name)  or  throttle.succeeded(source, name)

Each key (the source address, and the name) counts its failures; a key whose last failure is
older than ``window`` starts again from zero. After ``delay_after`` failures every further
attempt on the key waits, twice as long each time up to ``max_delay``; after ``block_after``
the key is refused for ``block_for`` seconds, and one log line says so (not one per attempt).
A success clears the name's count and the source's, but never a block (a blocked key is
refused before its credentials are looked at). Everything on one machine signs in from
127.0.0.1, so one noisy local client slows down the others: the thresholds are generous for
that reason.

Names are kept and logged only as a keyed fingerprint: a password typed into the username
field must not end up in memory dumps of this table or in a log line. Memory is bounded by
``max_keys``: the least recently failed keys go first.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("airlock.auth")

# Per process: fingerprints correlate the lines of one server's log, and cannot be
# reversed by guessing names offline without this key.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def fingerprint(name: str) -> str:
    """A short, non-reversible tag for a username, for log lines that need to correlate."""
    digest = hmac.new(_FINGERPRINT_KEY, name.encode(errors="replace"), hashlib.sha256)
    return "#" + digest.hexdigest()[:10]


class ThrottledError(Exception):
    """Too many failed sign-ins: refuse with 429 and ``Retry-After: <retry_after>``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s", retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(slots=True)
class _Key:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


class SignInThrottle:
    def __init__(
        self,
        *,
        delay_after: int = 5,
        block_after: int = 20,
        window: float = 300.0,
        block_for: float = 300.0,
        first_delay: float = 0.25,
        max_delay: float = 4.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= delay_after < block_after:
            raise ValueError("delay_after must be below block_after")
        self.delay_after = delay_after
        self.block_after = block_after
        self.window = window
        self.block_for = block_for
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.max_keys = max_keys
        self.clock = clock
        self._keys: OrderedDict[str, _Key] = OrderedDict()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SignInThrottle:
        """The defaults, or ``$AIRLOCK_SIGNIN_DELAY_AFTER``, ``$AIRLOCK_SIGNIN_BLOCK_AFTER``
        and ``$AIRLOCK_SIGNIN_BLOCK_SECONDS`` where set (positive integers)."""
        settings: dict[str, float] = {}
        for variable, key in (
            ("AIRLOCK_SIGNIN_DELAY_AFTER", "delay_after"),
            ("AIRLOCK_SIGNIN_BLOCK_AFTER", "block_after"),
            ("AIRLOCK_SIGNIN_BLOCK_SECONDS", "block_for"),
        ):
            raw = environ.get(variable)
            if raw:
                if not raw.isdigit() or int(raw) < 1:
                    raise ValueError(f"${variable} must be a positive integer, not {raw[:20]!r}")
                settings[key] = int(raw)
        return cls(
            delay_after=int(settings.get("delay_after", 5)),
            block_after=int(settings.get("block_after", 20)),
            block_for=settings.get("block_for", 300.0),
        )

    def check(self, source: str, name: str | None) -> float:
        """Seconds to wait before checking this attempt's credentials; raises
        ThrottledError when the source or the name is blocked. ``name`` None or empty: the
        attempt names nobody (a refresh token), so only the source counts."""
        now = self.clock()
        wait = 0.0
        for key in self._key_names(source, name):
            state = self._live(key, now)
            if state is None:
                continue
            if state.blocked_until > now:
                raise ThrottledError(max(1, math.ceil(state.blocked_until - now)))
            wait = max(wait, self._delay(state.failures))
        return wait

    def failed(self, source: str, name: str | None) -> None:
        now = self.clock()
        for key in self._key_names(source, name):
            state = self._live(key, now) or _Key()
            state.failures += 1
            state.last_failure = now
            if state.failures >= self.block_after and state.blocked_until <= now:
                state.blocked_until = now + self.block_for
                log.warning(
                    "sign-in refused for %d s after %d failed attempts %s",
                    round(self.block_for),
                    state.failures,
                    _describe(key),
                )
            self._keys[key] = state
            self._keys.move_to_end(key)
        self._bound(now)

    def succeeded(self, source: str, name: str | None) -> None:
        now = self.clock()
        for key in self._key_names(source, name):
            state = self._keys.get(key)
            if state is not None and state.blocked_until <= now:
                del self._keys[key]

    def _key_names(self, source: str, name: str | None) -> list[str]:
        keys = [f"source:{source}"]
        if name:
            keys.append(f"name:{fingerprint(name)}")
        return keys

    def _live(self, key: str, now: float) -> _Key | None:
        state = self._keys.get(key)
        if state is None:
            return None
        if state.blocked_until <= now and now - state.last_failure > self.window:
            del self._keys[key]
            return None
        return state

    def _delay(self, failures: int) -> float:
        if failures < self.delay_after:
            return 0.0
        steps = failures - self.delay_after
        return float(min(self.max_delay, self.first_delay * 2 ** min(steps, 32)))

    def _bound(self, now: float) -> None:
        if len(self._keys) <= self.max_keys:
            return
        for key in list(self._keys):
            self._live(key, now)
        # Blocked keys go last: flooding the table with new names must not lift a block.
        for key in [k for k, state in self._keys.items() if state.blocked_until <= now]:
            if len(self._keys) <= self.max_keys:
                return
            del self._keys[key]
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)


def _describe(key: str) -> str:
    kind, _, value = key.partition(":")
    return f"from {value}" if kind == "source" else f"for the name {value}"
