"""``airlock acr create|show|list|delete``: registries (``az acr`` shapes)."""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli import quick_run
from airlock.cli.api import segment
from airlock.cli.errors import EXIT_NOT_FOUND, CLIError
from airlock.cli.options import (
    SKUS,
    Context,
    Subparsers,
    add_global_arguments,
    add_registry_argument,
    port_number,
    sku_name,
)
from airlock.cli.tables import Row, column, format_datetime


def register(subparsers: Subparsers) -> None:
    _add_create(subparsers)
    _add_show(subparsers)
    _add_list(subparsers)
    _add_update(subparsers)
    _add_delete(subparsers)
    quick_run.register(subparsers)


def _add_create(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "create",
        help="Create a container registry.",
        description="Create a container registry, served on its own loopback port.",
    )
    add_registry_argument(parser)
    _add_resource_group(parser)
    parser.add_argument(
        "--sku",
        type=sku_name,
        metavar="{" + ",".join(SKUS) + "}",
        help="The SKU of the container registry (recorded, as Airlock has no tiers; "
        "the server's default when omitted).",
    )
    parser.add_argument(
        "--location",
        "-l",
        help="Location, recorded for az compatibility (the server's default when omitted).",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        help="The loopback port the registry listens on (a free port when omitted).",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=create, table=registry_table)


def _add_show(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "show",
        help="Get the details of a container registry.",
        description="Get the details of a container registry.",
    )
    add_registry_argument(parser)
    _add_resource_group(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=show, table=registry_table)


def _add_list(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "list",
        help="List container registries.",
        description="List container registries, optionally only those of one resource group.",
    )
    _add_resource_group(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=list_registries, table=registry_table)


def _add_update(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "update",
        help="Update a container registry.",
        description="Switch anonymous pull or the admin user of a registry on or off. "
        "Anonymous pull lets anyone pull without logging in; it is off for new registries. "
        "Disabling the admin user refuses its logins at once.",
    )
    add_registry_argument(parser)
    _add_resource_group(parser)
    parser.add_argument(
        "--anonymous-pull-enabled",
        type=az_bool,
        metavar="{true,false}",
        help="Allow pulls without credentials.",
    )
    parser.add_argument(
        "--admin-enabled",
        type=az_bool,
        metavar="{true,false}",
        help="Enable the admin user (username = the registry name).",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=update, table=registry_table)


def _add_delete(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "delete",
        help="Delete a container registry.",
        description="Delete a container registry: its listener stops and its repositories "
        "are removed. Asks for confirmation unless --yes is given.",
    )
    add_registry_argument(parser)
    _add_resource_group(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="Do not prompt for confirmation.")
    add_global_arguments(parser)
    parser.set_defaults(handler=delete)


def _add_resource_group(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resource-group",
        "-g",
        metavar="GROUP",
        help="Name of resource group (a label Airlock records, as there are no subscriptions).",
    )


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {"name": args.registry}
    optional = {
        "resourceGroup": args.resource_group,
        "sku": args.sku,
        "location": args.location,
        "port": args.port,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return ctx.client.post("/api/registries", body)


def show(args: argparse.Namespace, ctx: Context) -> Any:
    registry = ctx.client.get(f"/api/registries/{segment(args.registry)}")
    _check_group(registry, args.registry, args.resource_group)
    return registry


def list_registries(args: argparse.Namespace, ctx: Context) -> Any:
    registries = ctx.client.get("/api/registries")
    if args.resource_group is None:
        return registries
    # Azure resource group names are case-insensitive.
    group = args.resource_group.lower()
    return [r for r in registries if str(r.get("resourceGroup", "")).lower() == group]


def update(args: argparse.Namespace, ctx: Context) -> Any:
    body = {
        key: value
        for key, value in (
            ("anonymousPullEnabled", args.anonymous_pull_enabled),
            ("adminUserEnabled", args.admin_enabled),
        )
        if value is not None
    }
    if args.resource_group is not None:
        show(args, ctx)
    if not body:
        raise CLIError("nothing to update: give --anonymous-pull-enabled or --admin-enabled")
    return ctx.client.request("PATCH", f"/api/registries/{segment(args.registry)}", body=body)


def az_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    if args.resource_group is not None:
        show(args, ctx)
    ctx.confirm(f"Are you sure you want to delete the registry '{args.registry}'?", args.yes)
    return ctx.client.delete(f"/api/registries/{segment(args.registry)}")


def _check_group(registry: Any, name: str, group: str | None) -> None:
    if group is None or str(registry.get("resourceGroup", "")).lower() == group.lower():
        return
    raise CLIError(
        f"registry '{name}' not found in resource group '{group}'; "
        "list registries with 'airlock acr list'",
        EXIT_NOT_FOUND,
    )


def registry_table(result: Any) -> list[Row]:
    items = result if isinstance(result, list) else [result]
    return [
        {
            "NAME": column(item, "name"),
            "RESOURCE GROUP": column(item, "resourceGroup"),
            "LOCATION": column(item, "location"),
            "SKU": column(item, "sku", "name"),
            "LOGIN SERVER": column(item, "loginServer"),
            "CREATION DATE": format_datetime(column(item, "creationDate")),
            "ADMIN ENABLED": column(item, "adminUserEnabled"),
        }
        for item in items
    ]
