"""``airlock acr run`` and ``airlock acr build``: quick runs, with no task kept (``az acr``).

``acr run`` runs a task file (read here, like ``az acr run -f acb.yaml .``) or one command;
``acr build`` builds a Dockerfile of the context and pushes the images. Both queue a run and
follow it as ``acr task run`` does (cli/runs.py), exit status included. A local context is
sent as an absolute path: the server reads it from this machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from airlock.cli import runs
from airlock.cli.errors import CLIError
from airlock.cli.options import (
    Context,
    Subparsers,
    add_global_arguments,
    add_registry_argument,
    positive_int,
)
from airlock.cli.task import (
    absolute_context,
    add_values,
    command_values,
    context_file_name,
    is_local,
    read_file,
)

NO_CONTEXT = "/dev/null"
# The name a task file read from stdin (-f -) gets; ACR's own default task file name.
STDIN_FILE_NAME = "acb.yaml"


def register(subparsers: Subparsers) -> None:
    _add_run(subparsers)
    _add_build(subparsers)


def _add_run(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="Queue a quick run: a task file or a command, with no task kept.",
        description="Run a task file (ACR's multi-step YAML) or one command in a container "
        "against a context, print its logs as they come and then the run. The task file is "
        "read on this machine: from its path, else from inside a local context folder, or "
        "from stdin with -f -. Exits 1 when the run ends in anything but Succeeded.",
    )
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument("--file", "-f", help="The task file (YAML); - reads it from stdin.")
    parser.add_argument("--cmd", help="A command to run in a container, as one step.")
    add_values(parser)
    parser.add_argument(
        "--set-secret",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A secret value for {{.Values.NAME}}, masked in logs; repeatable.",
    )
    _add_run_options(parser)
    parser.add_argument(
        "context",
        nargs="?",
        metavar="CONTEXT",
        help="Where the steps run: a local folder, a git URL (#branch:folder), a tarball URL, "
        "or /dev/null for none (the default with --cmd).",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=run, table=runs.run_table)


def _add_build(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "build",
        help="Queue a quick build: build a Dockerfile of the context and push the images.",
        description="Build an image from a Dockerfile in the context and push it, printing "
        "the logs as they come and then the run. Exits 1 when the run ends in anything but "
        "Succeeded.",
    )
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument(
        "--image",
        "-t",
        action="append",
        default=[],
        metavar="REPO:TAG",
        help="The image to build and push (templates allowed, e.g. hello:{{.Run.ID}}); repeatable.",
    )
    parser.add_argument(
        "--file",
        "-f",
        default="Dockerfile",
        help="The Dockerfile, relative to the context.",
    )
    parser.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A build argument; repeatable.",
    )
    parser.add_argument(
        "--secret-build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A build argument masked in logs; repeatable.",
    )
    parser.add_argument("--target", help="The build stage to build.")
    parser.add_argument(
        "--no-push", action="store_true", help="Build the images without pushing them."
    )
    _add_run_options(parser)
    parser.add_argument(
        "context",
        metavar="CONTEXT",
        help="The build context: a local folder, a git URL (#branch:folder) or a tarball URL.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=build, table=runs.run_table)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=positive_int, help="The run's timeout in seconds (default 3600)."
    )
    parser.add_argument("--platform", help="The platform (linux).")
    runs.add_follow_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from airlock.tasks.render import parse_set

    if args.file is not None and args.cmd is not None:
        raise CLIError("give --file or --cmd, not both")
    if args.file is None and args.cmd is None:
        raise CLIError("give --file (a task file) or --cmd (a command)")
    context = args.context
    if context is None:
        if args.cmd is None:
            raise CLIError("give the context: a folder, a git URL, or /dev/null for none")
        context = NO_CONTEXT
    body: dict[str, Any]
    if args.cmd is not None:
        body = {"kind": "cmd", "cmd": args.cmd}
    else:
        text, name = _task_file(args.file, context, ctx)
        body = {"kind": "file", "file": text, "fileName": name}
    try:
        secrets = parse_set(args.set_secret)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    body.update(
        context=absolute_context(context), values=command_values(args), secretValues=secrets
    )
    return runs.start(args, ctx, runs.runs_path(args.registry), _with_run_options(body, args))


def _task_file(file: str, context: str, ctx: Context) -> tuple[str, str]:
    """The task file's text and name: from its path, else from inside a local context."""
    if file == "-":
        return ctx.stdin.read(), STDIN_FILE_NAME
    path = Path(file)
    if not path.exists() and not path.is_absolute() and is_local(context):
        inside = Path(context.partition("#")[0]).expanduser() / path
        if inside.is_file():
            path = inside
    return read_file(path, "task file"), path.name


def build(args: argparse.Namespace, ctx: Context) -> Any:
    body = {
        "kind": "dockerfile",
        "fileName": context_file_name(args.file, args.context),
        "context": absolute_context(args.context),
        "images": args.image,
        "buildArgs": runs.parse_pairs(args.build_arg, "--build-arg"),
        "secretBuildArgs": runs.parse_pairs(args.secret_build_arg, "--secret-build-arg"),
        "target": args.target,
        "noPush": args.no_push,
    }
    return runs.start(args, ctx, runs.runs_path(args.registry), _with_run_options(body, args))


def _with_run_options(body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    if args.timeout is not None:
        body["timeout"] = args.timeout
    if args.platform is not None:
        body["platform"] = args.platform
    return body
