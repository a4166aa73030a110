"""Retries (429 with Retry-After, 5xx, connection errors) and rate-limit headers."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from airlock.client import (
    RateLimitedError,
    RegistryClient,
    RegistryUnavailableError,
    RetryPolicy,
)
from airlock.client.retry import parse_rate_limit, parse_retry_after
from tests.support.fake_registry import REGISTRY, FakeRegistry, oci_error, sha256

NOW = 1_700_000_000.0


def flaky(fake: FakeRegistry, answers: list[httpx.Response | Exception]) -> None:
    """The first requests to the registry get ``answers``, in order; then the registry."""

    def hook(request: httpx.Request) -> httpx.Response | None:
        if request.url.host == "auth.test" or not answers:
            return None
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    fake.hooks.append(hook)


def client_for(
    fake: FakeRegistry, policy: RetryPolicy | None = None
) -> tuple[RegistryClient, list[float]]:
    client = RegistryClient(REGISTRY, transport=fake.transport(), retry=policy)
    sleeps: list[float] = []
    client.transport.sleep = sleeps.append
    client.transport.wall_clock = lambda: NOW
    return client, sleeps


def too_many(retry_after: str | None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return oci_error(429, "TOOMANYREQUESTS", "slow down", headers)


def test_429_with_retry_after_seconds_is_retried_then_succeeds() -> None:
    fake = FakeRegistry()
    flaky(fake, [too_many("3")])
    client, sleeps = client_for(fake)
    with client:
        client.ping()
    assert sleeps == [3.0]
    assert len(fake.requests) == 2


def test_429_with_retry_after_http_date_is_retried_then_succeeds() -> None:
    fake = FakeRegistry()
    flaky(fake, [too_many(email.utils.formatdate(NOW + 7, usegmt=True))])
    client, sleeps = client_for(fake)
    with client:
        client.ping()
    assert sleeps == [pytest.approx(7.0)]


def test_503_is_retried_with_growing_backoff() -> None:
    fake = FakeRegistry()
    flaky(fake, [httpx.Response(503), httpx.Response(502), httpx.Response(500)])
    client, sleeps = client_for(fake, RetryPolicy(attempts=5, backoff=1.0, jitter=0.0))
    with client:
        client.ping()
    assert sleeps == [1.0, 2.0, 4.0]


def test_connection_errors_are_retried() -> None:
    fake = FakeRegistry()
    flaky(fake, [httpx.ConnectError("refused"), httpx.ReadError("reset")])
    client, sleeps = client_for(fake)
    with client:
        client.ping()
    assert len(sleeps) == 2


def test_gives_up_on_429_after_the_attempts() -> None:
    fake = FakeRegistry()
    flaky(fake, [too_many("1") for _ in range(10)])
    client, sleeps = client_for(fake, RetryPolicy(attempts=3))
    with client, pytest.raises(RateLimitedError) as caught:
        client.ping()
    assert sleeps == [1.0, 1.0]
    assert caught.value.status == 429 and caught.value.codes == ["TOOMANYREQUESTS"]


def test_gives_up_at_once_when_retry_after_is_beyond_the_bound() -> None:
    fake = FakeRegistry()
    flaky(fake, [too_many("3600")])
    client, sleeps = client_for(fake, RetryPolicy(max_delay=30))
    with client, pytest.raises(RateLimitedError):
        client.ping()
    assert sleeps == []


def test_gives_up_on_5xx_within_the_total_time() -> None:
    fake = FakeRegistry()
    flaky(fake, [httpx.Response(503) for _ in range(20)])
    policy = RetryPolicy(attempts=20, backoff=4.0, jitter=0.0, max_total=10.0)
    client, sleeps = client_for(fake, policy)
    with client, pytest.raises(RegistryUnavailableError) as caught:
        client.ping()
    assert sleeps == [4.0]  # 4 + 8 would pass the 10 s budget
    assert caught.value.registry == REGISTRY


def test_connection_refused_for_good_is_registry_unavailable() -> None:
    fake = FakeRegistry()
    flaky(fake, [httpx.ConnectError("refused") for _ in range(10)])
    client, sleeps = client_for(fake, RetryPolicy(attempts=3))
    with client, pytest.raises(RegistryUnavailableError, match="cannot reach"):
        client.ping()
    assert len(sleeps) == 2


def test_token_fetch_is_retried() -> None:
    fake = FakeRegistry(mode="bearer")
    failures = [httpx.Response(503)]
    fake.hooks.append(lambda r: failures.pop() if r.url.host == "auth.test" and failures else None)
    client, sleeps = client_for(fake)
    with client:
        client.ping()
    assert len(fake.token_requests) == 2 and len(sleeps) == 1


def test_streamed_upload_is_not_retried() -> None:
    fake = FakeRegistry()
    fake.hooks.append(lambda r: httpx.Response(503) if r.method == "PUT" else None)
    client, sleeps = client_for(fake)
    digest = "sha256:" + "0" * 64
    with client, pytest.raises(RegistryUnavailableError):
        client.upload_blob("app", digest, iter([b"a", b"b"]))
    assert len(fake.sent("PUT")) == 1 and sleeps == []


def test_chunk_uploads_with_bytes_bodies_are_retried() -> None:
    fake = FakeRegistry()
    failures = [httpx.Response(503)]
    fake.hooks.append(lambda r: failures.pop() if r.method == "PATCH" and failures else None)
    client, sleeps = client_for(fake)
    data = b"0123456789"
    with client:
        client.upload_blob("app", sha256(data), [data], chunk_size=4)
    assert fake.blobs[("app", sha256(data))] == data
    assert len(fake.sent("PATCH")) == 4 and len(sleeps) == 1


def test_rate_limit_remaining_is_read() -> None:
    fake = FakeRegistry()
    fake.hooks.append(
        lambda r: httpx.Response(200, json={}, headers={"ratelimit-remaining": "97;w=21600"})
    )
    client, _ = client_for(fake)
    with client:
        assert client.rate_limit_remaining is None
        client.ping()
        assert client.rate_limit_remaining == 97


@pytest.mark.parametrize(
    ("header", "expected"),
    [("100;w=21600", 100), ("0", 0), (" 5 ; w=60", 5), ("", None), ("n/a", None), (None, None)],
)
def test_parse_rate_limit(header: str | None, expected: int | None) -> None:
    assert parse_rate_limit(header) == expected


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", lambda: 1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", lambda: 1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
