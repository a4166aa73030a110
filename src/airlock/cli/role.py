"""``airlock role assignment``: role assignments (``az role assignment`` shapes).

Airlock records them (the seed grants a task's identity ``owner`` on a resource group) and
checks that the assignee is a known identity and the role a built-in one.
"""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.options import Context, Subparsers, add_global_arguments
from airlock.cli.tables import Row, column

ROLES = ("Owner", "Contributor", "Reader", "AcrPull", "AcrPush", "AcrDelete", "AcrImageSigner")


def register(subparsers: Subparsers) -> None:
    assignment = subparsers.add_parser(
        "assignment",
        help="Manage role assignments.",
        description="Manage role assignments of identities at a scope.",
    )
    assignment.set_defaults(handler=None, group=assignment)
    commands = assignment.add_subparsers(title="commands", metavar="COMMAND")
    _add_create(commands)
    for name, text, handler in (
        ("list", "List role assignments, optionally filtered.", list_assignments),
        ("delete", "Delete role assignments by id or by filters.", delete),
    ):
        parser = commands.add_parser(name, help=text, description=text)
        _add_filters(parser, required=False)
        if name == "delete":
            parser.add_argument("--ids", nargs="+", help="Ids (or names) of role assignments.")
        add_global_arguments(parser)
        parser.set_defaults(handler=handler, table=assignment_table)


def _add_create(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "create",
        help="Create a role assignment.",
        description="Assign a built-in role to an identity at a scope, for example "
        "--scope $(airlock group show -n GROUP --query id -o tsv).",
    )
    _add_filters(parser, required=True)
    add_global_arguments(parser)
    parser.set_defaults(handler=create)


def _add_filters(parser: argparse.ArgumentParser, required: bool) -> None:
    who = parser.add_mutually_exclusive_group(required=required)
    who.add_argument("--assignee", help="The principalId or clientId of an identity.")
    who.add_argument(
        "--assignee-object-id", dest="assignee", help="The principalId of an identity."
    )
    parser.add_argument(
        "--role",
        required=required,
        help=f"Role name (case-insensitive): {', '.join(ROLES)}.",
    )
    parser.add_argument("--scope", required=required, help="Scope, e.g. a resource group id.")


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"assignee": args.assignee, "role": args.role, "scope": args.scope}


def create(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.post("/api/role-assignments", _filters(args))


def list_assignments(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/role-assignments", _filters(args))


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    if args.ids:
        # Ids win over filters, as in az; the query string repeats the key (id=a&id=b).
        return ctx.client.delete("/api/role-assignments?" + _ids_query(args.ids))
    return ctx.client.delete("/api/role-assignments", _filters(args))


def _ids_query(ids: list[str]) -> str:
    from urllib.parse import urlencode

    return urlencode([("id", i) for i in ids])


def assignment_table(result: Any) -> list[Row]:
    """az's columns for role assignments."""
    items = result if isinstance(result, list) else [result]
    return [
        {
            "Principal": column(item, "principalId"),
            "Role": column(item, "roleDefinitionName"),
            "Scope": column(item, "scope"),
        }
        for item in items
    ]
