"""``airlock acr task timer add|update|list|remove``: a task's timer triggers (``az acr task
timer`` shapes).

A schedule is five cron fields in UTC (minute hour day-of-month month day-of-week), checked by
the server; every command prints the task's timers (``-o table``: NAME, SCHEDULE, STATUS,
NEXT RUN).
"""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument
from airlock.cli.repository import az_bool

_SCHEDULE_HELP = (
    "The schedule: five cron fields in UTC (minute hour day-of-month month day-of-week), "
    "such as '0 6 * * 1-5' for 06:00 UTC on weekdays."
)


def register(subparsers: Subparsers) -> None:
    text = "Manage the timer triggers of a task."
    group = subparsers.add_parser("timer", help=text, description=text)
    # A group given without a command prints its help, as cli/main.py's groups do.
    group.set_defaults(handler=None, group=group)
    timers = group.add_subparsers(title="commands", metavar="COMMAND")
    for name, summary, handler in (
        ("add", "Add a timer trigger to a task.", add),
        ("update", "Change the schedule or the status of a timer trigger of a task.", update),
        ("remove", "Remove a timer trigger from a task.", remove),
        ("list", "List the timer triggers of a task.", list_),
    ):
        parser = timers.add_parser(name, help=summary, description=summary)
        parser.add_argument("--name", "-n", required=True, help="The task's name.")
        add_registry_argument(parser, ("--registry", "-r"))
        if name != "list":
            parser.add_argument(
                "--timer-name", required=True, help="The name of the timer trigger."
            )
        if name in ("add", "update"):
            parser.add_argument("--schedule", required=name == "add", help=_SCHEDULE_HELP)
            parser.add_argument(
                "--enabled",
                type=az_bool,
                metavar="{true,false}",
                help="Whether the timer runs the task (true when added without it).",
            )
        add_global_arguments(parser)
        parser.set_defaults(handler=handler, table=timer_table)


def _path(args: argparse.Namespace) -> str:
    return f"/api/registries/{segment(args.registry)}/tasks/{segment(args.name)}/timers"


def add(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {"name": args.timer_name, "schedule": args.schedule}
    if args.enabled is not None:
        body["enabled"] = args.enabled
    return ctx.client.post(_path(args), body)


def update(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {}
    if args.schedule is not None:
        body["schedule"] = args.schedule
    if args.enabled is not None:
        body["enabled"] = args.enabled
    if not body:
        raise CLIError("nothing to update: give --schedule or --enabled")
    return ctx.client.request("PATCH", f"{_path(args)}/{segment(args.timer_name)}", body=body)


def remove(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(f"{_path(args)}/{segment(args.timer_name)}")


def list_(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def timer_table(result: Any) -> list[dict[str, Any]]:
    items = result if isinstance(result, list) else [result]
    return [
        {
            "NAME": item.get("name"),
            "SCHEDULE": item.get("schedule"),
            "STATUS": item.get("status"),
            "NEXT RUN": item.get("nextRunTime") or " ",
        }
        for item in items
        if isinstance(item, dict)
    ]
