"""``airlock acr task credential|identity``: how a task's runs log in (``az acr task`` shapes).

A credential is a login server with a username and password (plain, or key vault secret URIs
that the task's identity reads) or the task's identity itself; the server seals them and
answers with the map of login servers, never with a password.
"""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument

SYSTEM = "[system]"


def register(subparsers: Subparsers) -> None:
    credential = _group(
        subparsers, "credential", "Manage the registry credentials of a task's runs."
    )
    for name, text, handler in (
        ("add", "Add a credential for a login server to a task.", add),
        ("update", "Change the credential of a login server of a task.", update),
        ("remove", "Remove the credential of a login server from a task.", remove),
        ("list", "List the credentials of a task (passwords are never shown).", list_),
    ):
        parser = credential.add_parser(name, help=text, description=text)
        _add_task(parser)
        if name != "list":
            parser.add_argument(
                "--login-server",
                required=True,
                help="The login server of the registry, such as 127.0.0.1:5001 or docker.io.",
            )
        if name in ("add", "update"):
            _add_secrets(parser)
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)

    identity = _group(subparsers, "identity", "Manage the identity of a task.")
    for name, text, handler in (
        ("assign", "Give a task a system-assigned identity.", assign),
        ("show", "Show the identity of a task.", show),
        ("remove", "Remove the identity of a task.", remove_identity),
    ):
        parser = identity.add_parser(name, help=text, description=text)
        _add_task(parser)
        if name != "show":
            parser.add_argument(
                "--identities",
                nargs="+",
                metavar="[system]",
                help="The identities: [system] (the default) for the system-assigned one.",
            )
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)


def _group(subparsers: Subparsers, name: str, text: str) -> Subparsers:
    parser = subparsers.add_parser(name, help=text, description=text)
    # A group given without a command prints its help, as cli/main.py's groups do.
    parser.set_defaults(handler=None, group=parser)
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def _add_task(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", "-n", required=True, help="The task's name.")
    add_registry_argument(parser, ("--registry", "-r"))


def _add_secrets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--username",
        "-u",
        help="The username for the login server: plain text or a key vault secret URI.",
    )
    parser.add_argument(
        "--password",
        "-p",
        help="The password for the login server: plain text or a key vault secret URI.",
    )
    parser.add_argument(
        "--use-identity",
        nargs="?",
        const=SYSTEM,
        metavar="[system]",
        help="Log in with the task's identity, or read the secret URIs of --username and "
        "--password with it: [system] for the system-assigned identity.",
    )


def _path(args: argparse.Namespace) -> str:
    return f"/api/registries/{segment(args.registry)}/tasks/{segment(args.name)}"


def _body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"loginServer": args.login_server}
    if args.username is not None:
        body["username"] = args.username
    if args.password is not None:
        body["password"] = args.password
    if args.use_identity is not None:
        body["useIdentity"] = _system(args.use_identity, "--use-identity")
    return body


def _system(value: str, option: str) -> str:
    if value.lower() != SYSTEM:
        raise CLIError(
            f"{option} takes [system]: user-assigned identities for tasks are not supported yet"
        )
    return SYSTEM


def add(args: argparse.Namespace, ctx: Context) -> Any:
    body = _body(args)
    if "useIdentity" not in body and ("username" not in body or "password" not in body):
        raise CLIError("give --username and --password, or --use-identity [system]")
    return ctx.client.post(_path(args) + "/credentials", body)


def update(args: argparse.Namespace, ctx: Context) -> Any:
    body = _body(args)
    if len(body) == 1:
        raise CLIError("nothing to update: give --username, --password or --use-identity")
    path = f"{_path(args)}/credentials/{segment(args.login_server)}"
    return ctx.client.request("PATCH", path, body=body)


def remove(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(f"{_path(args)}/credentials/{segment(args.login_server)}")


def list_(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args) + "/credentials")


def _check_identities(args: argparse.Namespace) -> None:
    for identity in args.identities or [SYSTEM]:
        _system(identity, "--identities")


def assign(args: argparse.Namespace, ctx: Context) -> Any:
    _check_identities(args)
    return ctx.client.post(_path(args) + "/identity", {})


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args) + "/identity")


def remove_identity(args: argparse.Namespace, ctx: Context) -> Any:
    _check_identities(args)
    return ctx.client.delete(_path(args) + "/identity")
