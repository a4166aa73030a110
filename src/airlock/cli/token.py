"""``airlock acr token create|show|list|update|delete`` and ``acr token credential generate``
(``az acr token``). Passwords are printed once, by create and generate; the server keeps only
their hashes."""

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
    positive_int,
)
from airlock.cli.scope_map import add_repository_option, map_actions
from airlock.cli.tables import Row, column, format_datetime

STATUSES = ("enabled", "disabled")


def register(subparsers: Subparsers) -> None:
    _add_create(subparsers)
    add_show_and_delete(
        subparsers,
        (
            ("show", "Show details and attributes of a token.", show),
            ("delete", "Delete a token; logins with its passwords stop working at once.", delete),
        ),
        _add_common,
        token_table,
    )

    list_parser = subparsers.add_parser(
        "list",
        help="List all tokens for a container registry.",
        description="List the tokens of a container registry (without password values).",
    )
    add_registry_argument(list_parser, ("--registry", "-r"))
    add_global_arguments(list_parser)
    list_parser.set_defaults(handler=list_tokens, table=token_table)

    update_parser = subparsers.add_parser(
        "update",
        help="Update a token (its scope map or status).",
        description="Point a token at another scope map, or enable or disable it. A disabled "
        "token's logins and issued registry tokens are refused at once.",
    )
    _add_common(update_parser)
    update_parser.add_argument("--scope-map", help="The name of the scope map to use.")
    update_parser.add_argument("--status", choices=STATUSES, help="The status of the token.")
    add_global_arguments(update_parser)
    update_parser.set_defaults(handler=update, table=token_table)

    credential_parser = subparsers.add_parser(
        "credential",
        help="Manage credentials of a token.",
        description="Manage credentials of a token.",
    )
    credential_parser.set_defaults(handler=None, group=credential_parser)
    credential_commands = credential_parser.add_subparsers(title="commands", metavar="COMMAND")
    generate_parser = credential_commands.add_parser(
        "generate",
        help="Generate passwords for a token.",
        description="Replace one or both passwords of a token with new random ones and print "
        "them (the only time they are shown). Both when neither --password1 nor --password2 "
        "is given.",
    )
    _add_common(generate_parser)
    generate_parser.add_argument(
        "--password1", action="store_true", help="Generate password1 only."
    )
    generate_parser.add_argument(
        "--password2", action="store_true", help="Generate password2 only."
    )
    _add_expiration(generate_parser)
    add_global_arguments(generate_parser)
    generate_parser.set_defaults(handler=generate)


def _add_create(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "create",
        help="Create a token for a container registry.",
        description="Create a token with two passwords, printed once in "
        "credentials.passwords[].value. Its permissions come from --scope-map, or from "
        "--repository, which creates a scope map named '<token>-scope-map'.",
    )
    _add_common(parser)
    parser.add_argument(
        "--scope-map",
        help="The name of the scope map, e.g. _repositories_pull or a user-defined one.",
    )
    add_repository_option(parser, "--repository", required=False)
    parser.add_argument(
        "--status", choices=STATUSES, default="enabled", help="The status of the token."
    )
    _add_expiration(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=create, table=token_table)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument(
        "--name", "-n", required=True, metavar="NAME", help="The name of the token."
    )


def _add_expiration(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--expiration-in-days",
        type=positive_int,
        metavar="DAYS",
        help="Number of days the passwords stay valid (no expiry when omitted).",
    )


def _path(args: argparse.Namespace, *parts: str) -> str:
    base = f"/api/registries/{segment(args.registry)}/tokens"
    return "/".join([base, *(segment(p) for p in parts)])


def create(args: argparse.Namespace, ctx: Context) -> Any:
    if (args.scope_map is None) == (args.repository is None):
        raise CLIError("give either --scope-map or --repository (with its actions)")
    body: dict[str, Any] = {"name": args.name, "status": args.status}
    if args.scope_map is not None:
        body["scopeMap"] = args.scope_map
    else:
        body["actions"] = map_actions(args.repository, "--repository")
    if args.expiration_in_days is not None:
        body["expirationInDays"] = args.expiration_in_days
    return ctx.client.post(_path(args), body)


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args, args.name))


def list_tokens(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def update(args: argparse.Namespace, ctx: Context) -> Any:
    body = {k: v for k, v in (("scopeMap", args.scope_map), ("status", args.status)) if v}
    if not body:
        raise CLIError("nothing to update: give --scope-map or --status")
    return ctx.client.request("PATCH", _path(args, args.name), body=body)


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    ctx.confirm(f"Are you sure you want to delete the token '{args.name}'?", args.yes)
    return ctx.client.delete(_path(args, args.name))


def generate(args: argparse.Namespace, ctx: Context) -> Any:
    names = [n for n in ("password1", "password2") if getattr(args, n)]
    body: dict[str, Any] = {"passwords": names}
    if args.expiration_in_days is not None:
        body["expirationInDays"] = args.expiration_in_days
    return ctx.client.post(_path(args, args.name, "credentials"), body)


def token_table(result: Any) -> list[Row]:
    items = result if isinstance(result, list) else [result]
    return [
        {
            "NAME": column(item, "name"),
            "SCOPE MAP": str(column(item, "scopeMapId")).rsplit("/", 1)[-1],
            "STATUS": column(item, "status"),
            "CREATION DATE": format_datetime(column(item, "creationDate")),
        }
        for item in items
    ]
