"""Runs as the CLI sees them: start one, follow its logs to the end, judge how it ended.

Shared by ``acr task run|logs|show-run|list-runs`` (cli/task.py) and ``acr run|build``
(cli/quick_run.py) against the server's run routes. Logs are read by long polling
(``.../logs?after=N&wait=20``): the server holds each request until a new line or the end of
the run, so following costs one request per burst of output and none while a step is quiet.

A run that ends in anything but ``Succeeded`` makes the command exit 1. ACR's CLI exits 0
for a failed run (Azure/acr#608), which lets a script carry on after a failed gate; Airlock
departs from it on purpose.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context
from airlock.cli.tables import Row, column

SUCCEEDED = "Succeeded"
STATUSES = ("Queued", "Running", "Succeeded", "Failed", "Canceled", "Error", "Timeout")
# The longest the server holds a log request (the contract allows 30 s; the client's own
# timeout is 120 s).
WAIT_SECONDS = 20
# Pause after an empty answer that was not the end, so a server that answers at once
# (an old one that ignores ``wait``) is not asked in a tight loop.
EMPTY_PAUSE_SECONDS = 0.5


class RunResult(dict[str, Any]):
    """The run to print; ``exit_code`` (read by cli/main.py) is 1 when it did not succeed."""

    exit_code = 0


def runs_path(registry: str) -> str:
    return f"/api/registries/{segment(registry)}/runs"


def run_path(registry: str, run_id: str) -> str:
    return f"{runs_path(registry)}/{segment(run_id)}"


def run_id_of(run: Any) -> str:
    return str(run.get("runId") or run.get("name") or "")


def start(args: argparse.Namespace, ctx: Context, path: str, body: dict[str, Any]) -> Any:
    """POST a run, then follow it as ``--no-wait`` and ``--no-logs`` ask; the run to print."""
    run = ctx.client.post(path, body)
    run_id = run_id_of(run)
    _note(ctx, f"Queued a run with ID: {run_id}")
    if args.no_wait:
        return run
    _note(ctx, "Waiting for an agent...")
    return wait(ctx, args.registry, run_id, show_logs=not args.no_logs)


def wait(
    ctx: Context, registry: str, run_id: str, show_logs: bool, out: IO[str] | None = None
) -> RunResult:
    """Follow the run's logs until it ends (printing them when asked), then judge it."""
    follower = LogFollower(ctx, registry, run_id, out)
    if not follower.follow(show=show_logs):
        follower.follow(show=False)  # the reader of stdout left: wait for the end quietly
    return outcome(ctx, ctx.client.get(run_path(registry, run_id)))


def outcome(ctx: Context, run: dict[str, Any]) -> RunResult:
    result = RunResult(run)
    status = run.get("status")
    if status != SUCCEEDED:
        message = f"run {run_id_of(run)} ended {status}"
        if run.get("runErrorMessage"):
            message += f": {run['runErrorMessage']}"
        print(f"ERROR: {message}", file=ctx.stderr)
        result.exit_code = 1
    return result


class LogFollower:
    """Reads a run's log lines from ``after`` on; remembers where it stopped."""

    def __init__(
        self, ctx: Context, registry: str, run_id: str, out: IO[str] | None = None
    ) -> None:
        self.ctx = ctx
        self.registry = registry
        self.run_id = run_id
        self.path = run_path(registry, run_id) + "/logs"
        self.out = out
        self.after = 0

    def follow(self, show: bool = True) -> bool:
        """Read until the run ends; False when stdout's reader left first (``| head``).

        Ctrl+C stops following (cli/main.py turns it into exit 130) and leaves the run going.
        """
        try:
            return self._follow(show)
        except KeyboardInterrupt:
            print(
                f"\nStopped following run {self.run_id}; it goes on. Cancel it with "
                f"'airlock acr task cancel-run -r {self.registry} --run-id {self.run_id}'.",
                file=self.ctx.stderr,
            )
            raise

    def _follow(self, show: bool) -> bool:
        while True:
            page = self.ctx.client.get(self.path, {"after": self.after, "wait": WAIT_SECONDS})
            lines = page.get("lines") or []
            for line in lines:
                if show and not self._print(str(line.get("text", ""))):
                    return False
            self.after = int(page.get("next", self.after))
            if page.get("final") and not lines:
                return True
            if not lines:
                time.sleep(EMPTY_PAUSE_SECONDS)

    def _print(self, text: str) -> bool:
        out = self.out if self.out is not None else sys.stdout
        try:
            out.write(text + "\n")
            out.flush()
        except BrokenPipeError:
            if out is sys.stdout:
                # Later writes (the run JSON) must not fail again, nor Python at exit.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return False
        return True


def _note(ctx: Context, message: str) -> None:
    # az writes these progress lines on stderr, so stdout stays the logs and the run JSON.
    if not ctx.only_show_errors:
        print(message, file=ctx.stderr)


def add_follow_options(parser: argparse.ArgumentParser) -> None:
    """``--no-logs`` and ``--no-wait``, as ``acr task run``, ``acr run`` and ``acr build``."""
    parser.add_argument(
        "--no-logs",
        action="store_true",
        help="Do not print the logs; still wait for the run to end.",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="Print the queued run and return at once.",
    )


def run_status(value: str) -> str:
    for status in STATUSES:
        if status.lower() == value.lower():
            return status
    raise argparse.ArgumentTypeError(
        f"invalid run status {value!r}: choose from {', '.join(STATUSES)}"
    )


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """``NAME=VALUE`` options (``--build-arg``, ``--arg``) as a dict, the last one winning."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CLIError(f"{option} expects NAME=VALUE, not {pair!r}")
        parsed[name] = value
    return parsed


def run_table(result: Any) -> list[Row]:
    """az's run table (``az acr task list-runs -o table``), column for column."""
    items = result if isinstance(result, list) else [result]
    return [
        {
            "RUN ID": column(item, "runId"),
            "TASK": column(item, "task"),
            "PLATFORM": column(item, "platform", "os"),
            "STATUS": column(item, "status"),
            "TRIGGER": column(item, "trigger"),
            "STARTED": format_started(item.get("startTime")),
            "DURATION": format_duration(item.get("startTime"), item.get("finishTime")),
        }
        for item in items
    ]


def format_started(value: Any) -> str:
    """``2020-10-24T05:02:29Z``: UTC to the second; blank before the run starts."""
    moment = _parse_time(value)
    return " " if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(start: Any, finish: Any) -> str:
    """``00:00:22`` from start to finish (hours go past 24); blank until the run finishes."""
    started, finished = _parse_time(start), _parse_time(finish)
    if started is None or finished is None or finished < started:
        return " "
    seconds = int((finished - started).total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # The server writes UTC with an offset; a naive time is taken as UTC too.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
