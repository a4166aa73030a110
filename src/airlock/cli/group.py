"""``airlock group``: resource groups (``az group`` shapes).

``group show`` gives the ``id`` that role assignments take as ``--scope``; ``group delete``
deletes the group with the registries, vaults, identities and role assignments in it.
"""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import ApiError
from airlock.cli.options import Context, Subparsers, add_global_arguments


def register(subparsers: Subparsers) -> None:
    parser = _command(subparsers, "create", "Create a resource group (again: no change).")
    parser.add_argument(
        "--location", "-l", help="Location, recorded for az compatibility (default: local)."
    )
    parser.set_defaults(handler=create)
    _command(subparsers, "show", "Get a resource group.").set_defaults(handler=show)
    _command(
        subparsers, "exists", "Check whether a resource group exists (prints true or false)."
    ).set_defaults(handler=exists)
    parser = _command(
        subparsers,
        "delete",
        "Delete a resource group with the registries, key vaults, identities and role "
        "assignments in it. Asks for confirmation unless --yes is given.",
    )
    parser.add_argument("--yes", "-y", action="store_true", help="Do not prompt for confirmation.")
    parser.add_argument(
        "--no-wait", action="store_true", help="Accepted for az compatibility (deletes at once)."
    )
    parser.set_defaults(handler=delete)
    parser = subparsers.add_parser(
        "list", help="List resource groups.", description="List resource groups."
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=list_groups)


def _command(subparsers: Subparsers, name: str, text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=text, description=text)
    parser.add_argument(
        "--name",
        "-n",
        "--resource-group",
        "-g",
        dest="group",
        required=True,
        metavar="GROUP",
        help="Name of the resource group.",
    )
    add_global_arguments(parser)
    return parser


def _path(args: argparse.Namespace) -> str:
    return f"/api/groups/{segment(args.group)}"


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body = {"name": args.group}
    if args.location:
        body["location"] = args.location
    return ctx.client.post("/api/groups", body)


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def exists(args: argparse.Namespace, ctx: Context) -> Any:
    try:
        ctx.client.get(_path(args))
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def list_groups(_: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/groups")


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    ctx.confirm(
        f"Are you sure you want to perform this operation? The resource group '{args.group}' "
        "and everything in it will be deleted.",
        args.yes,
    )
    ctx.client.delete(_path(args))
    return None
