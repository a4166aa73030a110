"""``airlock acr scope-map create|update|show|list|delete`` (``az acr scope-map``).

Repositories and actions are given as ``--repository <repository> <action>...``, repeated
for each repository; the actions are ``content/read``, ``content/write``, ``content/delete``,
``metadata/read`` and ``metadata/write``, and a repository may be a namespace wildcard such
as ``samples/*``.
"""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import (
    Context,
    Subparsers,
    add_global_arguments,
    add_registry_argument,
    add_show_and_delete,
)
from airlock.cli.tables import Row, column, format_datetime

ACTIONS = ("content/read", "content/write", "content/delete", "metadata/read", "metadata/write")
_REPOSITORY_HELP = (
    "A repository (or namespace wildcard such as 'samples/*') followed by its actions: "
    + ", ".join(ACTIONS)
    + ". Repeat for more repositories."
)


def register(subparsers: Subparsers) -> None:
    create_parser = subparsers.add_parser(
        "create",
        help="Create a scope map for a container registry.",
        description="Create a user-defined scope map: a named list of repositories and the "
        "actions tokens pointed at it may perform.",
    )
    _add_common(create_parser)
    add_repository_option(create_parser, "--repository", required=True)
    create_parser.add_argument("--description", help="Description for the scope map.")
    add_global_arguments(create_parser)
    create_parser.set_defaults(handler=create, table=scope_map_table)

    update_parser = subparsers.add_parser(
        "update",
        help="Update a scope map for a container registry.",
        description="Add or remove repository actions of a user-defined scope map, or change "
        "its description. System scope maps (named '_repositories_...') cannot change.",
    )
    _add_common(update_parser)
    add_repository_option(update_parser, "--add-repository", required=False)
    add_repository_option(update_parser, "--remove-repository", required=False)
    update_parser.add_argument("--description", help="Description for the scope map.")
    add_global_arguments(update_parser)
    update_parser.set_defaults(handler=update, table=scope_map_table)

    add_show_and_delete(
        subparsers,
        (
            ("show", "Show details and attributes of a scope map.", show),
            ("delete", "Delete a scope map; tokens must not use it.", delete),
        ),
        _add_common,
        scope_map_table,
    )

    list_parser = subparsers.add_parser(
        "list",
        help="List all scope maps for a container registry.",
        description="List the system and user-defined scope maps of a container registry.",
    )
    add_registry_argument(list_parser, ("--registry", "-r"))
    add_global_arguments(list_parser)
    list_parser.set_defaults(handler=list_maps, table=scope_map_table)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument(
        "--name", "-n", required=True, metavar="NAME", help="The name of the scope map."
    )


def add_repository_option(parser: argparse.ArgumentParser, flag: str, required: bool) -> None:
    parser.add_argument(
        flag,
        action="append",
        nargs="+",
        required=required,
        metavar=("REPOSITORY", "ACTION"),
        help=_REPOSITORY_HELP,
    )


def map_actions(groups: list[list[str]] | None, flag: str) -> list[str]:
    """``[[repo, action, ...], ...]`` as ACR's ``repositories/<repo>/<action>`` strings."""
    actions: list[str] = []
    for group in groups or []:
        if len(group) < 2:
            raise CLIError(
                f"{flag} {group[0]} needs at least one action after the repository: "
                + ", ".join(ACTIONS)
            )
        repository, *verbs = group
        actions.extend(f"repositories/{repository}/{verb}" for verb in verbs)
    return actions


def _path(args: argparse.Namespace, name: str | None = None) -> str:
    base = f"/api/registries/{segment(args.registry)}/scope-maps"
    return base if name is None else f"{base}/{segment(name)}"


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {
        "name": args.name,
        "actions": map_actions(args.repository, "--repository"),
    }
    if args.description is not None:
        body["description"] = args.description
    return ctx.client.post(_path(args), body)


def update(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {}
    if args.add_repository:
        body["addActions"] = map_actions(args.add_repository, "--add-repository")
    if args.remove_repository:
        body["removeActions"] = map_actions(args.remove_repository, "--remove-repository")
    if args.description is not None:
        body["description"] = args.description
    if not body:
        raise CLIError(
            "nothing to update: give --add-repository, --remove-repository or --description"
        )
    return ctx.client.request("PATCH", _path(args, args.name), body=body)


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args, args.name))


def list_maps(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    ctx.confirm(f"Are you sure you want to delete the scope map '{args.name}'?", args.yes)
    return ctx.client.delete(_path(args, args.name))


def scope_map_table(result: Any) -> list[Row]:
    items = result if isinstance(result, list) else [result]
    return [
        {
            "NAME": column(item, "name"),
            "TYPE": column(item, "scopeMapType"),
            "CREATION DATE": format_datetime(column(item, "creationDate")),
            "DESCRIPTION": column(item, "description"),
        }
        for item in items
    ]
