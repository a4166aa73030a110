"""The accept-failure throttle, called with the contexts asyncio's selector loop produces."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any

import pytest

from airlock.server.http import accept


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def accept_failure(sock: socket.socket, code: int = errno.EMFILE) -> dict[str, Any]:
    """What asyncio.selector_events passes when ``sock.accept()`` runs out of resources."""
    return {
        "message": accept.ACCEPT_FAILED,
        "exception": OSError(code, "Too many open files"),
        "socket": sock,
    }


def test_accept_failures_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    passed_on: list[dict[str, Any]] = []
    throttle = accept.AcceptErrorThrottle(
        lambda loop, context: passed_on.append(context), interval=60.0, clock=clock
    )
    loop = asyncio.new_event_loop()
    try:
        with socket.socket() as sock, caplog.at_level(logging.ERROR, logger="airlock.http"):
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            for _ in range(5):  # asyncio retries once a second
                throttle(loop, accept_failure(sock))
                clock.now += 1
            assert len(caplog.records) == 1
            first = caplog.records[0].getMessage()
            assert f"cannot accept connections on 127.0.0.1:{port}" in first
            assert "Too many open files" in first and "ulimit -n" in first
            assert throttle.suppressed == 4
            clock.now += 60  # next interval: one line that counts the ones held back
            throttle(loop, accept_failure(sock, errno.ENFILE))
            assert len(caplog.records) == 2
            assert "4 more since the last report" in caplog.records[1].getMessage()
            assert throttle.suppressed == 0
    finally:
        loop.close()
    assert passed_on == []  # none of those reached the previous handler


def test_other_contexts_go_to_the_previous_handler() -> None:
    passed_on: list[dict[str, Any]] = []
    throttle = accept.AcceptErrorThrottle(lambda loop, context: passed_on.append(context))
    loop = asyncio.new_event_loop()
    try:
        unrelated = {"message": "Task exception was never retrieved"}
        refused = {"message": accept.ACCEPT_FAILED, "exception": OSError(errno.EPERM, "no")}
        throttle(loop, unrelated)
        throttle(loop, refused)  # not a resource shortage: not ours to hide
        assert passed_on == [unrelated, refused]
    finally:
        loop.close()


def test_install_chains_and_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        first = accept.install(loop)
        assert accept.install(loop) is first  # a second listener keeps the same throttle
        assert loop.get_exception_handler() is first
        assert first.previous is None  # nothing was installed before: asyncio's default
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            loop.call_exception_handler({"message": "something else broke"})
        assert [r.getMessage() for r in caplog.records] == ["something else broke"]
    finally:
        loop.close()
