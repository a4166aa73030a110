"""Retries as a transport layer: connection errors, 5xx and 429, with backoff and jitter.

The auth flow and the client above see one answer per request; a token fetch goes through
the same transport and is retried the same way. ``Retry-After`` (seconds or an HTTP date)
is honoured. A request whose body cannot be sent twice (a streamed upload) is never retried
once it may have been sent. The transport also reads Docker Hub's ``ratelimit-remaining``.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Methods whose repetition is harmless whatever their body (they carry none here).
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_REMAINING = re.compile(r"^\s*(\d+)")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # including the first
    backoff: float = 0.5  # first delay, doubled per attempt
    max_delay: float = 30.0  # one wait, Retry-After included
    max_total: float = 120.0  # all waits of one request together (waits, not wall time)
    jitter: float = 0.5  # fraction of a delay chosen at random, so clients spread out

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.max_delay, self.backoff * 2.0 ** (attempt - 1))
        return base * (1 - self.jitter) + base * self.jitter * random.random()


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def parse_rate_limit(value: str | None) -> int | None:
    """``ratelimit-remaining: 100;w=21600`` -> 100."""
    match = _REMAINING.match(value or "")
    return int(match[1]) if match else None


def replayable(request: httpx.Request) -> bool:
    return request.method in _SAFE_METHODS or isinstance(request.stream, httpx.ByteStream)


class RetryTransport(httpx.BaseTransport):
    def __init__(
        self,
        transport: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self.rate_limit_remaining: int | None = None
        self.retries = 0  # how many requests were sent again, for tests and reports

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        waited = 0.0
        attempt = 1
        # Decided before sending: reading a streamed body may swap in a bytes stream.
        replay = replayable(request)
        while True:
            try:
                response = self._transport.handle_request(request)
            except httpx.TransportError as exc:
                if not self._may_retry_error(replay, exc, attempt):
                    raise
                delay = self.policy.delay(attempt, None)
                if waited + delay > self.policy.max_total:
                    raise
            else:
                self._observe(response)
                if response.status_code not in RETRY_STATUSES or not (
                    replay and attempt < self.policy.attempts
                ):
                    return response
                retry_after = parse_retry_after(
                    response.headers.get("retry-after"), self.wall_clock
                )
                delay = self.policy.delay(attempt, retry_after)
                if delay > self.policy.max_delay or waited + delay > self.policy.max_total:
                    return response  # the caller reports it: waiting that long is not ours
                response.close()
            self.sleep(delay)
            waited += delay
            attempt += 1
            with self._lock:
                self.retries += 1

    def _may_retry_error(self, replay: bool, exc: Exception, attempt: int) -> bool:
        if attempt >= self.policy.attempts:
            return False
        # A refused connection sent nothing (a streamed body was not started): any request
        # may go again. After that, only a request that can be sent twice.
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) or replay

    def _observe(self, response: httpx.Response) -> None:
        remaining = parse_rate_limit(response.headers.get("ratelimit-remaining"))
        if remaining is not None:
            self.rate_limit_remaining = remaining

    def close(self) -> None:
        self._transport.close()
