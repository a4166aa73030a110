"""The sign-in throttle: delays after a few failures, a block after many, per source and per
name, one log line per block, bounded memory, names never kept or logged in clear."""

from __future__ import annotations

import logging

import pytest

from airlock.auth.throttle import SignInThrottle, ThrottledError, fingerprint


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> SignInThrottle:
    return SignInThrottle(
        delay_after=5, block_after=20, window=300, block_for=120, first_delay=0.25, clock=clock
    )


def fail(throttle: SignInThrottle, times: int, source: str = "10.0.0.1", name: str = "ci") -> None:
    for _ in range(times):
        throttle.check(source, name)
        throttle.failed(source, name)


def test_no_wait_before_the_fifth_failure_then_growing_waits(throttle: SignInThrottle) -> None:
    fail(throttle, 4)
    assert throttle.check("10.0.0.1", "ci") == 0.0
    throttle.failed("10.0.0.1", "ci")
    waits = []
    for _ in range(6):
        waits.append(throttle.check("10.0.0.1", "ci"))
        throttle.failed("10.0.0.1", "ci")
    assert waits[0] == 0.25
    assert waits == sorted(waits) and waits[-1] > waits[0]
    assert max(waits) <= throttle.max_delay


def test_blocked_after_twenty_with_retry_after_and_one_log_line(
    throttle: SignInThrottle, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="airlock.auth")
    fail(throttle, 20)
    with pytest.raises(ThrottledError) as caught:
        throttle.check("10.0.0.1", "ci")
    assert caught.value.retry_after == 120
    for _ in range(5):  # refused attempts are not logged again
        with pytest.raises(ThrottledError):
            throttle.check("10.0.0.1", "someone-else")
    blocked = [r for r in caplog.records if "sign-in refused" in r.getMessage()]
    # One line for the source, one for the name; neither names the name in clear.
    assert len(blocked) == 2
    assert all("'ci'" not in r.getMessage() and " ci " not in r.getMessage() for r in blocked)
    assert any(fingerprint("ci") in r.getMessage() for r in blocked)
    clock.now += 121
    assert throttle.check("10.0.0.1", "ci") >= 0.0  # the block is over


def test_the_name_is_blocked_from_every_source(throttle: SignInThrottle) -> None:
    for i in range(20):
        fail(throttle, 1, source=f"10.0.1.{i}", name="target")
    with pytest.raises(ThrottledError):
        throttle.check("10.9.9.9", "target")
    assert throttle.check("10.9.9.9", "other") == 0.0


def test_the_source_is_blocked_for_every_name(throttle: SignInThrottle) -> None:
    for i in range(20):
        fail(throttle, 1, name=f"name{i}")
    with pytest.raises(ThrottledError):
        throttle.check("10.0.0.1", "brand-new-name")
    assert throttle.check("10.0.0.2", "brand-new-name") == 0.0


def test_failures_older_than_the_window_are_forgotten(
    throttle: SignInThrottle, clock: Clock
) -> None:
    fail(throttle, 19)
    clock.now += 301
    fail(throttle, 1)
    assert throttle.check("10.0.0.1", "ci") == 0.0


def test_success_clears_counts_but_not_a_block(throttle: SignInThrottle) -> None:
    fail(throttle, 10)
    assert throttle.check("10.0.0.1", "ci") > 0
    throttle.succeeded("10.0.0.1", "ci")
    assert throttle.check("10.0.0.1", "ci") == 0.0
    fail(throttle, 20)
    throttle.succeeded("10.0.0.1", "ci")
    with pytest.raises(ThrottledError):
        throttle.check("10.0.0.1", "ci")


def test_no_name_counts_only_the_source(throttle: SignInThrottle) -> None:
    for _ in range(20):
        throttle.failed("10.0.0.1", None)
    with pytest.raises(ThrottledError):
        throttle.check("10.0.0.1", None)
    assert throttle.check("10.0.0.2", "ci") == 0.0


def test_memory_is_bounded_and_blocks_survive_a_flood(clock: Clock) -> None:
    throttle = SignInThrottle(block_after=3, delay_after=1, max_keys=50, clock=clock)
    fail(throttle, 3, source="10.0.0.1", name="victim")
    for i in range(500):
        throttle.failed(f"10.1.{i // 250}.{i % 250}", f"flood{i}")
    assert len(throttle._keys) <= 50
    with pytest.raises(ThrottledError):
        throttle.check("10.0.0.1", "anyone")


def test_names_are_kept_only_as_fingerprints(throttle: SignInThrottle) -> None:
    secret_typed_as_name = "Xq3vTypedIntoTheUsernameField"
    fail(throttle, 1, name=secret_typed_as_name)
    assert all(secret_typed_as_name not in key for key in throttle._keys)
    assert fingerprint(secret_typed_as_name) == fingerprint(secret_typed_as_name)
    assert fingerprint(secret_typed_as_name) != fingerprint("other")
