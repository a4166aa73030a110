"""``airlock acr credential show|renew``: the registry's admin user (``az acr credential``)."""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument
from airlock.cli.tables import Row, column

PASSWORD_NAMES = ("password", "password2")


def register(subparsers: Subparsers) -> None:
    show_parser = subparsers.add_parser(
        "show",
        help="Get the login credentials for a container registry.",
        description="Print the admin user's name and both passwords. Fails when the admin "
        "user is disabled (enable it with 'airlock acr update --admin-enabled true').",
    )
    add_registry_argument(show_parser)
    add_global_arguments(show_parser)
    show_parser.set_defaults(handler=show, table=credentials_table)

    renew_parser = subparsers.add_parser(
        "renew",
        help="Regenerate login credentials for a container registry.",
        description="Replace one of the admin user's two passwords with a new random one and "
        "print the credentials. Logins made with the old password stop working.",
    )
    add_registry_argument(renew_parser)
    renew_parser.add_argument(
        "--password-name",
        required=True,
        choices=PASSWORD_NAMES,
        help="The name of the password to regenerate.",
    )
    add_global_arguments(renew_parser)
    renew_parser.set_defaults(handler=renew, table=credentials_table)


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"/api/registries/{segment(args.registry)}/credentials")


def renew(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.post(
        f"/api/registries/{segment(args.registry)}/credentials/renew",
        {"name": args.password_name},
    )


def credentials_table(result: Any) -> list[Row]:
    found = result.get("passwords") if isinstance(result, dict) else None
    passwords = {p.get("name"): p.get("value") for p in found or [] if isinstance(p, dict)}
    return [
        {
            "USERNAME": column(result, "username"),
            "PASSWORD": passwords.get("password"),
            "PASSWORD2": passwords.get("password2"),
        }
    ]
