"""``airlock container``: container instances (``az container`` shapes).

``create`` waits, as az does, until the instance runs (``provisioningState`` Succeeded) or
failed; ``--no-wait`` returns at once. Creating again with another image replaces the
container in place, on the same address.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments
from airlock.cli.runs import parse_pairs

_WAIT_SECONDS = 600.0


def register(subparsers: Subparsers) -> None:
    parser = _command(subparsers, "create", "Create a container instance, or replace its image.")
    parser.add_argument("--image", required=True, help="The container image to run.")
    parser.add_argument("--registry-login-server", help="The registry the image comes from.")
    parser.add_argument("--registry-username", help="User name for the image's registry.")
    parser.add_argument("--registry-password", help="Password for the image's registry.")
    parser.add_argument("--ports", nargs="+", default=[], help="Ports to open (default: none).")
    parser.add_argument(
        "--ip-address",
        help="'public': the instance's own loopback address (Airlock binds no other).",
    )
    parser.add_argument("--environment-variables", "-e", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--secure-environment-variables", nargs="+", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument(
        "--restart-policy",
        choices=("Always", "OnFailure", "Never"),
        default="Always",
        help="When the engine starts the container again (default: Always).",
    )
    parser.add_argument("--dns-name-label", help="Accepted for az compatibility; not used.")
    parser.add_argument("--os-type", help="Accepted for az compatibility (Linux).")
    parser.add_argument("--no-wait", action="store_true", help="Do not wait until it runs.")
    parser.set_defaults(handler=create)
    _command(subparsers, "show", "Show a container instance.").set_defaults(handler=show)
    _command(subparsers, "delete", "Delete a container instance.", yes=True).set_defaults(
        handler=delete
    )
    _command(subparsers, "restart", "Restart a container instance.").set_defaults(handler=restart)
    parser = _command(subparsers, "logs", "Print a container instance's logs.")
    parser.add_argument("--tail", type=int, help="Only the last lines.")
    parser.set_defaults(handler=logs)
    parser = subparsers.add_parser(
        "list", help="List container instances.", description="List container instances."
    )
    parser.add_argument("--resource-group", "-g", metavar="GROUP", help="Resource group name.")
    add_global_arguments(parser)
    parser.set_defaults(handler=list_instances)


def _command(
    subparsers: Subparsers, name: str, text: str, yes: bool = False
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=text, description=text)
    parser.add_argument("--name", "-n", required=True, help="The container group's name.")
    parser.add_argument(
        "--resource-group", "-g", required=True, metavar="GROUP", help="Resource group name."
    )
    if yes:
        parser.add_argument("--yes", "-y", action="store_true", help="Do not ask to confirm.")
    add_global_arguments(parser)
    return parser


def _path(args: argparse.Namespace) -> str:
    return f"/api/container-groups/{segment(args.resource_group)}/{segment(args.name)}"


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body: dict[str, Any] = {
        "image": args.image,
        "ports": args.ports,
        "ipAddress": args.ip_address,
        "environmentVariables": parse_pairs(args.environment_variables, "--environment-variables"),
        "secureEnvironmentVariables": parse_pairs(
            args.secure_environment_variables, "--secure-environment-variables"
        ),
        "restartPolicy": args.restart_policy,
    }
    if args.registry_login_server:
        body["registryLoginServer"] = args.registry_login_server
    if args.registry_username or args.registry_password:
        body["registryUsername"] = args.registry_username
        body["password"] = args.registry_password
    made = ctx.client.request("PUT", _path(args), body=body)
    if args.no_wait:
        return made
    deadline = time.monotonic() + _WAIT_SECONDS
    while made.get("provisioningState") == "Creating" and time.monotonic() < deadline:
        time.sleep(0.2)
        made = ctx.client.get(_path(args))
    if made.get("provisioningState") != "Succeeded":
        message = (made.get("instanceView") or {}).get("message") or "see 'airlock container show'"
        raise CLIError(f"container group {args.name!r} failed: {message}")
    return made


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def list_instances(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/container-groups", {"resourceGroup": args.resource_group})


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(_path(args))


def restart(args: argparse.Namespace, ctx: Context) -> Any:
    ctx.client.post(_path(args) + "/restart", {})
    return None


def logs(args: argparse.Namespace, ctx: Context) -> Any:
    found = ctx.client.get(_path(args) + "/logs", {"tail": args.tail})
    sys.stdout.write(str(found.get("content", "")))
    return None
