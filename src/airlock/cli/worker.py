"""``airlock worker``: runs task runs for a server from this process (``airlock.runner.remote``)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from airlock.cli.options import Context, Subparsers, positive_int
from airlock.cli.server import ServerExit

Serve = Callable[[argparse.Namespace], int]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="Run task runs for an Airlock server from this machine, in the foreground.",
        description="Take queued runs from the server at --server and run them with this "
        "machine's podman, as the server's own workers do (GitLab Runner style: the worker "
        "long-polls the server). It acts as a principal with Contributor on the server: a "
        "service principal it signs in as, again whenever its session ends "
        "(--service-principal APPID, the secret in $AIRLOCK_WORKER_SECRET), or a session "
        "token ('airlock account get-access-token --query accessToken -o tsv'), which ends "
        "after $AIRLOCK_SESSION_HOURS. SIGTERM or SIGINT "
        "stops it; runs in progress end Failed as interrupted.",
    )
    parser.add_argument(
        "--server",
        help="The Airlock server's URL (default: $AIRLOCK_URL).",
    )
    parser.add_argument(
        "--service-principal",
        metavar="APPID",
        help="Sign in as this service principal (Contributor on the server), with its secret "
        "from $AIRLOCK_WORKER_SECRET, and again whenever the session ends: what a long-lived "
        "worker should use.",
    )
    parser.add_argument(
        "--token",
        help="A session token (als_...) of a principal with Contributor on the server "
        "(default: $AIRLOCK_WORKER_TOKEN, which keeps it out of the process list); it cannot "
        "be renewed, so the worker stops when it expires.",
    )
    parser.add_argument(
        "--name",
        help="The worker's name in runs' 'worker' field, 1-60 letters, digits, '.', '_' or "
        "'-' (default: <hostname>-<pid>).",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=1,
        help="How many runs this worker executes at a time.",
    )
    parser.add_argument(
        "--home",
        type=Path,
        help="Where the engine configuration, image store and run folders live (default: "
        "$AIRLOCK_HOME, else ~/.local/share/airlock).",
    )
    parser.set_defaults(handler=run_worker)


def run_worker(args: argparse.Namespace, ctx: Context) -> Any:
    # Imported here: the worker pulls in httpx and the runner, which the client commands
    # must not pay for at start-up.
    module = importlib.import_module("airlock.runner.remote")
    arguments = module.parse_args(_argv(args))
    serve = cast(Serve, module.serve)
    return ServerExit(serve(arguments))


def _argv(args: argparse.Namespace) -> list[str]:
    """The options given, for the worker's own parser (which fills in the defaults)."""
    argv = ["--concurrency", str(args.concurrency)]
    for option in ("server", "token", "service_principal", "name", "home"):
        value = getattr(args, option)
        if value is not None:
            argv += [f"--{option.replace('_', '-')}", str(value)]
    return argv
