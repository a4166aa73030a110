"""``airlock server``: runs the Airlock server in this process."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any, cast

from airlock.cli.options import Context, Subparsers, port_number
from airlock.common.paths import default_home

DEFAULT_PORT = 5080

RunServer = Callable[..., int]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "server",
        help="Run the Airlock server (REST API and registries) in the foreground.",
        description="Run the Airlock server in the foreground on 127.0.0.1. Its state lives "
        "in $AIRLOCK_HOME (default ~/.local/share/airlock).",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help="The port of the REST API.",
    )
    parser.set_defaults(handler=run_server)


def run_server(args: argparse.Namespace, ctx: Context) -> Any:
    # Imported here: the server pulls in SQLAlchemy and Starlette, which the client commands
    # must not pay for at start-up.
    module = importlib.import_module("airlock.server.main")
    run = cast(RunServer, module.run)
    return ServerExit(run(port=args.port, home=default_home()))


class ServerExit(int):
    """The server's exit status, returned instead of a result to print."""
