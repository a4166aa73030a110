"""Timer triggers end to end: a real server, real podman, the CLI as a subprocess.

A task gets a timer for the next minute (a cron written from the clock: minute, hour, day
and month of that minute, so it fires once a year); the server runs it once with TRIGGER
``Timer``. A bad cron is refused with the reason and stores nothing; timers outlive a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.test_task_runs import table_rows
from tests.support.cli import ok
from tests.support.engine import reset_engine
from tests.support.servers import Airlock, free_port, running_airlock

pytestmark = pytest.mark.podman

REGISTRY = "timerregistry"
TASK = "ticker"
TERMINAL = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")
MARGIN = 30.0  # seconds past the tick within which the run must be queued


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("timer-home")
    with running_airlock(home) as running:
        running.create_registry(REGISTRY, port=free_port())
        yield running
    reset_engine(home)


def as_json(server: Airlock, *args: str) -> Any:
    return json.loads(ok(server, *args, "-o", "json").stdout)


def timer(server: Airlock, command: str, *args: str) -> Any:
    return as_json(server, "acr", "task", "timer", command, "-n", TASK, "-r", REGISTRY, *args)


def next_minute() -> datetime:
    """The next whole minute at least 5 s away (a timer added after its tick waits a year)."""
    now = datetime.now(UTC)
    tick = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return tick if (tick - now).total_seconds() >= 5 else tick + timedelta(minutes=1)


def once_at(tick: datetime) -> str:
    return f"{tick.minute} {tick.hour} {tick.day} {tick.month} *"


def runs_of(server: Airlock) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = as_json(
        server, "acr", "task", "list-runs", "-r", REGISTRY, "--top", "100"
    )
    return [run for run in found if run.get("task") == TASK]


def wait_for_runs(server: Airlock, deadline: float, done: bool) -> list[dict[str, Any]]:
    while True:
        found = runs_of(server)
        if found and (not done or all(run["status"] in TERMINAL for run in found)):
            return found
        assert time.monotonic() < deadline, f"no run in time: {found}\n{server.log()[-3000:]}"
        time.sleep(1)


def test_a_timer_runs_its_task_once_and_outlives_a_restart(server: Airlock) -> None:
    ok(server, "acr", "task", "create", "-n", TASK, "-r", REGISTRY,
       "--cmd", "bash echo tick", "-c", "/dev/null")  # fmt: skip
    tick = next_minute()
    schedule = once_at(tick)
    added = timer(server, "add", "--timer-name", "nextminute", "--schedule", schedule)
    assert added == [
        {
            "name": "nextminute",
            "schedule": schedule,
            "status": "Enabled",
            "nextRunTime": tick.isoformat(timespec="microseconds"),
        }
    ]
    table = ok(server, "acr", "task", "timer", "list", "-n", TASK, "-r", REGISTRY,
               "-o", "table").stdout  # fmt: skip
    header, _, row = table.splitlines()[:3]
    assert header.split() == ["NAME", "SCHEDULE", "STATUS", "NEXT", "RUN"], table
    assert row.startswith("nextminute") and schedule in row and "Enabled" in row, table

    # A disabled timer of the same task at the same tick runs nothing.
    timer(server, "add", "--timer-name", "off", "--schedule", schedule, "--enabled", "false")

    assert runs_of(server) == []
    wait = (tick - datetime.now(UTC)).total_seconds()
    assert wait <= 65
    wait_for_runs(server, time.monotonic() + wait + MARGIN, done=False)
    assert datetime.now(UTC) >= tick
    runs = wait_for_runs(server, time.monotonic() + 180, done=True)
    assert [(r["trigger"], r["status"]) for r in runs] == [("Timer", "Succeeded")], runs
    log = ok(server, "acr", "task", "logs", "-r", REGISTRY, "--run-id", runs[0]["runId"]).stdout
    assert "tick" in log, log

    listed = ok(server, "acr", "task", "list-runs", "-r", REGISTRY, "-o", "table").stdout
    rows = [row for row in table_rows(listed) if row["TASK"] == TASK]
    assert [(row["TRIGGER"], row["STATUS"]) for row in rows] == [("Timer", "Succeeded")], listed
    assert "timer nextminute" in server.log(), server.log()[-3000:]

    # Moved on to next year's tick; the disabled one never fired.
    after = {t["name"]: t for t in timer(server, "list")}
    assert after["nextminute"]["nextRunTime"].startswith(str(tick.year + 1))
    assert after["off"]["status"] == "Disabled"

    server.restart()
    assert {t["name"]: t for t in timer(server, "list")} == after
    time.sleep(2)  # a few ticks of the restarted service: nothing fires again
    assert [r["trigger"] for r in runs_of(server)] == ["Timer"]


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("* * * * * *", "it has 6 field(s), not 5 (no seconds or years field)"),
        ("@reboot", "@reboot is not supported"),
        ("61 * * * *", "bad minute field"),
        ("0 0 30 2 *", "bad day-of-month field"),
    ],
)
def test_an_invalid_cron_is_refused_with_the_reason_and_stores_nothing(
    server: Airlock, schedule: str, reason: str
) -> None:
    name = "refusals"
    if server.cli("acr", "task", "show", "-n", name, "-r", REGISTRY, check=False).returncode:
        ok(server, "acr", "task", "create", "-n", name, "-r", REGISTRY,
           "--cmd", "bash echo never", "-c", "/dev/null")  # fmt: skip
    done = server.cli("acr", "task", "timer", "add", "-n", name, "-r", REGISTRY,
                      "--timer-name", "bad", "--schedule", schedule, check=False)  # fmt: skip
    assert done.returncode != 0
    assert reason in done.stderr and "five cron fields in UTC" in done.stderr, done.stderr
    listed = as_json(server, "acr", "task", "timer", "list", "-n", name, "-r", REGISTRY)
    assert listed == []


def test_update_and_remove_a_timer(server: Airlock) -> None:
    name = "updates"
    ok(server, "acr", "task", "create", "-n", name, "-r", REGISTRY,
       "--cmd", "bash echo never", "-c", "/dev/null")  # fmt: skip

    def call(command: str, *args: str) -> Any:
        return as_json(server, "acr", "task", "timer", command, "-n", name, "-r", REGISTRY, *args)

    call("add", "--timer-name", "t1", "--schedule", "0 6 * * 1-5")
    changed = call("update", "--timer-name", "t1", "--schedule", "30 7 * * *", "--enabled", "false")
    assert changed == [
        {"name": "t1", "schedule": "30 7 * * *", "status": "Disabled", "nextRunTime": None}
    ]
    refused = server.cli("acr", "task", "timer", "update", "-n", name, "-r", REGISTRY,
                         "--timer-name", "t1", "--schedule", "30 7 * *", check=False)  # fmt: skip
    assert refused.returncode != 0 and "4 field(s)" in refused.stderr, refused.stderr
    assert call("list")[0]["schedule"] == "30 7 * * *"
    taken = server.cli("acr", "task", "timer", "add", "-n", name, "-r", REGISTRY,
                       "--timer-name", "t1", "--schedule", "* * * * *", check=False)  # fmt: skip
    assert taken.returncode != 0 and "already has a timer named 't1'" in taken.stderr
    assert call("remove", "--timer-name", "t1") == []
    missing = server.cli("acr", "task", "timer", "remove", "-n", name, "-r", REGISTRY,
                         "--timer-name", "t1", check=False)  # fmt: skip
    assert missing.returncode != 0 and "not found" in missing.stderr, missing.stderr
