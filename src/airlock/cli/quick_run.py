"""``airlock acr run`` and ``airlock acr build``: quick runs, with no task kept (``az acr``).

``acr run`` runs a task file (read here, like ``az acr run -f acb.yaml .``) or one command;
``acr build`` builds a Dockerfile of the context and pushes the images. Both queue a run and
follow it as ``acr task run`` does (cli/runs.py), exit status included. A local context is
sent as an absolute path: the server reads it from this machine. The options that define
the run are cli/run_options.py's, shared with ``acr task create|update``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from airlock.cli import runs
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument
from airlock.cli.run_options import (
    NO_CONTEXT,
    DockerfileOptions,
    absolute_context,
    add_run_definition_options,
    check_file_or_cmd,
    context_file_name,
    dockerfile_fields,
    is_local,
    read_file,
    settings_fields,
    value_fields,
)

# The name a task file read from stdin (-f -) gets; ACR's own default task file name.
STDIN_FILE_NAME = "acb.yaml"
# az acr build's names and wording of the Dockerfile options.
BUILD_OPTIONS = DockerfileOptions(
    arg="--build-arg",
    secret_arg="--secret-build-arg",
    secret_arg_help="A build argument masked in logs; repeatable.",
    image_first=True,
)


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
    add_run_definition_options(
        parser,
        file_help="The task file (YAML); - reads it from stdin.",
        cmd=True,
        set_secret_help="A secret value for {{.Values.NAME}}, masked in logs; repeatable.",
    )
    runs.add_follow_options(parser)
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
    add_run_definition_options(
        parser,
        file_help="The Dockerfile, relative to the context.",
        file_default="Dockerfile",
        values=False,
        dockerfile=BUILD_OPTIONS,
    )
    runs.add_follow_options(parser)
    parser.add_argument(
        "context",
        metavar="CONTEXT",
        help="The build context: a local folder, a git URL (#branch:folder) or a tarball URL.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=build, table=runs.run_table)


def run(args: argparse.Namespace, ctx: Context) -> Any:
    check_file_or_cmd(args)
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
    body["context"] = absolute_context(context)
    body.update(value_fields(args, omit_empty=False))
    body.update(settings_fields(args))
    return runs.start(args, ctx, runs.runs_path(args.registry), body)


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
        **dockerfile_fields(args, BUILD_OPTIONS),
        **settings_fields(args),
    }
    return runs.start(args, ctx, runs.runs_path(args.registry), body)
