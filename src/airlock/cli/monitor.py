"""``airlock monitor activity-log list``: who changed what, and who read which secret."""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.options import Context, Subparsers, add_global_arguments, positive_int


def register(subparsers: Subparsers) -> None:
    log = subparsers.add_parser(
        "activity-log",
        help="The activity log.",
        description="Every state change and every read of a secret value, with who made it.",
    )
    log.set_defaults(handler=None, group=log)
    parser = log.add_subparsers(title="commands", metavar="COMMAND").add_parser(
        "list",
        help="List activity log entries, newest first.",
        description="List activity log entries, newest first: time, caller, operation, "
        "resource, source address and result. Never a value or a password.",
    )
    parser.add_argument("--caller", help="Only this principal (its name or object id).")
    parser.add_argument(
        "--start-time", help="From this time: ISO 8601 (2026-11-30T08:00:00Z) or 30m, 2h, 7d."
    )
    parser.add_argument(
        "--max-events", type=positive_int, default=1000, help="At most this many entries."
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=list_entries, table=table)


def list_entries(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(
        "/api/activity-log",
        {"caller": args.caller, "startTime": args.start_time, "limit": args.max_events},
    )


def table(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "Time": e.get("eventTimestamp"),
            "Caller": e.get("caller"),
            "Operation": e.get("operationName"),
            "Resource": e.get("resourceId"),
            "Source": (e.get("httpRequest") or {}).get("clientIpAddress"),
            "Status": e.get("status"),
        }
        for e in entries
    ]
