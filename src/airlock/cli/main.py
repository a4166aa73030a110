"""Entry point of the ``airlock`` command: parser assembly and dispatch.

Kept light on purpose: a client command must answer in well under a quarter of a second, so
nothing here imports the server, yaml or jmespath until a command needs them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from airlock import __version__
from airlock.cli import (
    account,
    acr,
    acr_import,
    ad,
    container,
    credential,
    demo,
    doctor,
    group,
    identity,
    keyvault,
    login,
    monitor,
    repository,
    role,
    scope_map,
    server,
    task,
    token,
    worker,
)
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, output_format
from airlock.cli.output import render


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; building it runs nothing, so docs can be generated from it."""
    parser = argparse.ArgumentParser(
        prog="airlock",
        description="Self-hosted container registries, imports, tokens and a key vault on one "
        "machine. Every command is signed in: the Unix user running the server needs no step, "
        "anyone else runs 'airlock login'. "
        "Commands follow 'az acr': change the first word of an az command to 'airlock'. "
        "The server is reached at $AIRLOCK_URL (default http://127.0.0.1:5080).",
    )
    parser.add_argument("--version", action="version", version=f"airlock {__version__}")
    commands = _command_group(parser)
    server.register(commands)
    worker.register(commands)
    doctor.register(commands)
    demo.register(commands)
    account.register(commands)
    account_parser = commands.add_parser(
        "account", help="Show the signed-in account.", description="The signed-in account."
    )
    account.register_account(_command_group(account_parser))

    acr_parser = commands.add_parser(
        "acr",
        help="Manage container registries.",
        description="Manage private container registries served by Airlock.",
    )
    acr_commands = _command_group(acr_parser)
    acr.register(acr_commands)
    acr_import.register(acr_commands)
    repository_parser = acr_commands.add_parser(
        "repository",
        help="Manage repositories (image names) for container registries.",
        description="Manage repositories (image names) for container registries.",
    )
    repository.register(_command_group(repository_parser))
    login.register(acr_commands)
    for name, module, text in (
        ("credential", credential, "Manage login credentials (the admin user) of registries."),
        ("scope-map", scope_map, "Manage scope maps: which repositories tokens may use."),
        ("token", token, "Manage tokens: repository-scoped credentials of a registry."),
        ("task", task, "ACR tasks: multi-step YAML run in containers, by hand or on triggers."),
    ):
        module.register(_command_group(acr_commands.add_parser(name, help=text, description=text)))
    for name, module, text in (
        ("keyvault", keyvault, "Manage key vaults, their secrets and access policies."),
        ("container", container, "Manage container instances."),
        ("identity", identity, "Manage user-assigned identities."),
        ("group", group, "Manage resource groups."),
        ("role", role, "Manage role assignments."),
        ("ad", ad, "Manage users and service principals: who can sign in."),
        ("monitor", monitor, "Read the activity log."),
    ):
        module.register(_command_group(commands.add_parser(name, help=text, description=text)))
    return parser


def _command_group(parser: argparse.ArgumentParser) -> Subparsers:
    # A group given without a command prints its help, as 'az acr' does.
    parser.set_defaults(handler=None, group=parser)
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.handler is None:
        args.group.print_help()
        return 0
    ctx = Context(
        debug=getattr(args, "debug", False),
        only_show_errors=getattr(args, "only_show_errors", False),
    )
    try:
        return _run(args, ctx)
    except CLIError as exc:
        message = " ".join(str(exc).split())
        print(f"ERROR: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, ctx: Context) -> int:
    result: Any = args.handler(args, ctx)
    if isinstance(result, server.ServerExit):
        return int(result)
    fmt = output_format(args.output, ctx)
    try:
        text = render(
            result,
            fmt,
            query=args.query,
            table=getattr(args, "table", None),
            color=sys.stdout.isatty(),
        )
    except ValueError:
        raise CLIError(
            "table output unavailable; use the --query option to select scalar fields"
        ) from None
    _write(text)
    # A command may say it found a problem while still printing its answer (doctor).
    return int(getattr(result, "exit_code", 0))


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, grep -q) left early; Python would otherwise complain at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
