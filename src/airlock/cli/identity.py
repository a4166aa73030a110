"""``airlock identity``: user-assigned identities (``az identity`` shapes).

A task's system-assigned identity is created with the task (``--assign-identity``); both
kinds have the ``principalId`` that key vault policies and role assignments name.
"""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.options import Context, Subparsers, add_global_arguments


def register(subparsers: Subparsers) -> None:
    for name, text, handler in (
        ("create", "Create a user-assigned identity.", create),
        ("show", "Show a user-assigned identity.", show),
        ("delete", "Delete a user-assigned identity with its policies and assignments.", delete),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        parser.add_argument("--name", "-n", required=True, help="The identity's name.")
        _add_group(parser, required=True)
        if name == "create":
            parser.add_argument("--location", "-l", help="Location, recorded for az compatibility.")
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)
    parser = subparsers.add_parser(
        "list", help="List user-assigned identities.", description="List user-assigned identities."
    )
    _add_group(parser, required=False)
    add_global_arguments(parser)
    parser.set_defaults(handler=list_identities)


def _add_group(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--resource-group", "-g", required=required, metavar="GROUP", help="Resource group name."
    )


def _path(args: argparse.Namespace) -> str:
    return f"/api/identities/{segment(args.resource_group)}/{segment(args.name)}"


def create(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.post(
        "/api/identities", {"name": args.name, "resourceGroup": args.resource_group}
    )


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def list_identities(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/identities", {"resourceGroup": args.resource_group})


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(_path(args))
