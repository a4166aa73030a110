"""Timer schedules: five cron fields in UTC, refused with the reason and an example otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airlock.errors import InvalidArgumentError
from airlock.triggers.timers import Timer, check_schedule, check_timer_name, next_after


@pytest.mark.parametrize(
    ("expr", "normal"),
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("0 6 * * 1-5", "0 6 * * 1-5"),
        ("  30   2 1 * *  ", "30 2 1 * *"),
        ("0 0 * * MON-FRI", "0 0 * * MON-FRI"),
        ("15,45 */2 1-15 JAN,JUL *", "15,45 */2 1-15 JAN,JUL *"),
        ("0 0 * * 7", "0 0 * * 7"),
    ],
)
def test_five_field_schedules_are_accepted(expr: str, normal: str) -> None:
    assert check_schedule(expr) == normal


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("* * * * * *", "6 field(s), not 5 (no seconds or years field)"),
        ("* * * *", "4 field(s), not 5"),
        ("@reboot", "@reboot is not supported"),
        ("@daily", "@daily is not supported"),
        ("61 * * * *", "bad minute"),
        ("0 24 * * *", "bad hour"),
        ("0 0 32 * *", "bad day-of-month"),
        ("0 0 30 2 *", "bad day-of-month"),
        ("0 0 * 13 *", "bad month"),
        ("0 0 * * 8", "bad day-of-week"),
        ("5-1 * * * *", "bad minute"),
        ("*/0 * * * *", "bad minute"),
        ("a b c d e", "bad minute"),
        ("0 0 * * *" + " " * 200, "longer than 128"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason_and_an_example(expr: str, why: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_schedule(expr)
    message = caught.value.message
    assert why in message, message
    assert "five cron fields in UTC" in message and '"0 6 * * 1-5"' in message, message
    assert caught.value.code == "InvalidSchedule"


def test_next_after_is_the_next_tick_in_utc_strictly_after() -> None:
    moment = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)
    assert next_after("*/5 * * * *", moment) == datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    on_tick = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    assert next_after("*/5 * * * *", on_tick) == datetime(2026, 11, 30, 12, 10, tzinfo=UTC)
    # 08:00 at UTC+2 is 06:00 UTC: the 06:00 UTC tick is then already past.
    local = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    found = next_after("0 6 * * *", local)
    assert found == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert found.utcoffset() == timedelta(0)


def test_next_after_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_after("* * * * *", datetime(2026, 11, 30, 12, 0))


@pytest.mark.parametrize("name", ["t1", "nightly_build", "a", "x" * 50, "A-b_9"])
def test_timer_names_follow_acr(name: str) -> None:
    assert check_timer_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 51, "has space", "dot.ted", "slash/ed", "é"])
def test_bad_timer_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="1-50 letters, digits"):
        check_timer_name(name)


def test_a_timer_as_az_lists_it() -> None:
    timer = Timer("task-id", "t1", "0 6 * * *", True, "2026-12-01T06:00:00.000000+00:00")
    assert timer.to_json() == {
        "name": "t1",
        "schedule": "0 6 * * *",
        "status": "Enabled",
        "nextRunTime": "2026-12-01T06:00:00.000000+00:00",
    }
    off = Timer("task-id", "t2", "0 6 * * *", False, "2026-12-01T06:00:00.000000+00:00")
    assert off.to_json()["status"] == "Disabled" and off.to_json()["nextRunTime"] is None
