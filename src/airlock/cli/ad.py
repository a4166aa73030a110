"""``airlock ad user`` and ``airlock ad sp``: who can sign in (``az ad`` shapes).

A service principal's password is printed once, by ``create-for-rbac`` and ``credential
reset``; with AcrPull or AcrPush on a registry it logs podman in there with its appId.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments


def register(subparsers: Subparsers) -> None:
    users = subparsers.add_parser(
        "user", help="Manage users.", description="Manage the users who can sign in."
    )
    user_commands = users.add_subparsers(title="commands", metavar="COMMAND")
    users.set_defaults(handler=None, group=users)
    parser = user_commands.add_parser("create", help="Create a user.", description="Create a user.")
    parser.add_argument("--user-principal-name", required=True, help="The user's sign-in name.")
    parser.add_argument("--display-name", help="The user's display name.")
    parser.add_argument(
        "--password", help="The user's password (12+ characters); asked for on a terminal."
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=create_user)
    parser = user_commands.add_parser("list", help="List users.", description="List users.")
    add_global_arguments(parser)
    parser.set_defaults(handler=list_users)
    for name, text, handler in (
        ("show", "Show a user.", show_user),
        ("delete", "Delete a user, with its sessions and role assignments.", delete_user),
    ):
        parser = user_commands.add_parser(name, help=text, description=text)
        parser.add_argument("--id", required=True, help="The user's name or object id.")
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)

    sps = subparsers.add_parser(
        "sp", help="Manage service principals.", description="Manage service principals."
    )
    sp_commands = sps.add_subparsers(title="commands", metavar="COMMAND")
    sps.set_defaults(handler=None, group=sps)
    parser = sp_commands.add_parser(
        "create-for-rbac",
        help="Create a service principal, optionally with a role.",
        description="Create a service principal and print its appId and password (once). "
        "With --role and --scopes it also gets that role at each scope.",
    )
    parser.add_argument("--name", "-n", required=True, help="Display name.")
    parser.add_argument("--role", help="A role to assign, e.g. AcrPull.")
    parser.add_argument("--scopes", nargs="+", help="Resource ids to assign --role at.")
    parser.add_argument("--years", type=int, help="Years the password is valid (default: no end).")
    add_global_arguments(parser)
    parser.set_defaults(handler=create_sp)
    parser = sp_commands.add_parser(
        "list", help="List service principals.", description="List service principals."
    )
    parser.add_argument("--all", action="store_true", help="Accepted for az compatibility.")
    add_global_arguments(parser)
    parser.set_defaults(handler=list_sps)
    for name, text, handler in (
        ("show", "Show a service principal.", show_sp),
        ("delete", "Delete a service principal; its sessions and tokens die at once.", delete_sp),
    ):
        parser = sp_commands.add_parser(name, help=text, description=text)
        parser.add_argument("--id", required=True, help="The appId (or object id).")
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)
    credential = sp_commands.add_parser(
        "credential",
        help="Manage a service principal's password.",
        description="Manage a service principal's password.",
    )
    credential.set_defaults(handler=None, group=credential)
    parser = credential.add_subparsers(title="commands", metavar="COMMAND").add_parser(
        "reset",
        help="Replace the password.",
        description="Replace every password of a service principal with a new one, printed "
        "once; registry tokens issued under the old one stop working.",
    )
    parser.add_argument("--id", required=True, help="The appId (or object id).")
    parser.add_argument("--years", type=int, help="Years the password is valid (default: no end).")
    add_global_arguments(parser)
    parser.set_defaults(handler=reset_sp)


def create_user(args: argparse.Namespace, ctx: Context) -> Any:
    password = args.password
    if password is None:
        if not ctx.stdin.isatty():
            raise CLIError("give --password; there is no terminal to ask for it on")
        password = getpass.getpass("Password: ")
    body = {"userPrincipalName": args.user_principal_name, "password": password}
    if args.display_name:
        body["displayName"] = args.display_name
    return ctx.client.post("/api/ad/users", body)


def list_users(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/ad/users")


def show_user(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"/api/ad/users/{segment(args.id)}")


def delete_user(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(f"/api/ad/users/{segment(args.id)}")


def create_sp(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {"name": args.name}
    if args.role is not None:
        body["role"] = args.role
    if args.scopes:
        body["scopes"] = args.scopes
    if args.years is not None:
        body["years"] = args.years
    answer = ctx.client.post("/api/ad/sps", body)
    ctx.warn(
        "The output includes credentials that you must protect. Be sure that you do not "
        "include these credentials in your code or check the credentials into your source "
        "control."
    )
    return answer


def list_sps(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/ad/sps")


def show_sp(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"/api/ad/sps/{segment(args.id)}")


def delete_sp(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(f"/api/ad/sps/{segment(args.id)}")


def reset_sp(args: argparse.Namespace, ctx: Context) -> Any:
    body = {} if args.years is None else {"years": args.years}
    return ctx.client.post(f"/api/ad/sps/{segment(args.id)}/credentials", body)
