"""``airlock demo``: the seed walkthrough end to end (``airlock.demo``)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers
from airlock.cli.server import ServerExit


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="Run the gated base-image walkthrough end to end.",
        description="Perform the ACR walkthrough 'automate gated imports of public content' "
        "on this machine: registries, a key vault, the node-public, base-import-node and "
        "hello-world tasks, commits that change the base image's colour, the gate that stops "
        "a bad one, the app redeployed as a container instance, and a rollback. Each step is "
        "printed as the airlock command it runs, with its output; the page colour is checked "
        "over HTTP at every stage, and the demo exits non-zero when an expected outcome is not "
        "seen. Uses the server at $AIRLOCK_URL if one answers, else starts one "
        "(state in $AIRLOCK_HOME). Without --keep it removes everything it made at the end.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--keep",
        action="store_true",
        help="Leave everything running (server, registries, tasks, the app) and print how to "
        "look around and how to clean up.",
    )
    mode.add_argument(
        "--clean",
        action="store_true",
        help="Remove what 'airlock demo --keep' left: its resource groups, files and server.",
    )
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace, ctx: Context) -> Any:
    # Imported here: the client commands must not pay for the demo at start-up.
    console_module = importlib.import_module("airlock.demo.console")
    main = importlib.import_module("airlock.demo.main")
    errors = importlib.import_module("airlock.demo.errors")
    console = console_module.Console()
    try:
        if args.clean:
            return ServerExit(main.clean(console))
        return ServerExit(main.perform(console, keep=args.keep))
    except errors.DemoError as exc:
        raise CLIError(f"demo: {exc}") from None
