"""The options that define a run, defined once for ``acr run|build`` and ``acr task``.

A run is a task file or a command (``--file``, ``--cmd``) or a Dockerfile of its context
(``--file`` with ``--image``, build arguments, ``--target``, ``--no-push``), the values its
templates see (``--set``, ``--values``, ``--set-secret``) and its settings (``--timeout``,
``--platform``). ``acr run|build`` (cli/quick_run.py) send them with one run; ``acr task
create|update`` (cli/task.py) keep them with a task, and ``acr task run|validate`` take the
values. The options are added here and turned into the request body's fields here; each
command passes the help text where its wording is its own. Following a queued run is
cli/runs.py's.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from airlock.cli import runs
from airlock.cli.errors import CLIError
from airlock.cli.options import positive_int

NO_CONTEXT = "/dev/null"
# File names that make --file a Dockerfile rather than a task file (any name does with --image).
_DOCKERFILE_NAMES = ("Dockerfile", "Containerfile")
_DOCKERFILE_SUFFIXES = (".dockerfile", "Dockerfile")


@dataclass(frozen=True)
class DockerfileOptions:
    """How a command spells the Dockerfile options: az names them differently per command."""

    arg: str  # the build argument option: --arg (acr task), --build-arg (acr build)
    secret_arg: str
    secret_arg_help: str
    # Put before each help where --file may be something else than a Dockerfile.
    help_prefix: str = ""
    # acr task's --no-push takes true or false (an update may turn it off); acr build's is a flag.
    no_push_takes_value: bool = False
    # acr build lists --image first, before --file.
    image_first: bool = False

    @property
    def arg_dest(self) -> str:
        return self.arg.removeprefix("--").replace("-", "_")

    @property
    def secret_arg_dest(self) -> str:
        return self.secret_arg.removeprefix("--").replace("-", "_")

    def help(self, text: str) -> str:
        return self.help_prefix + text[0].lower() + text[1:] if self.help_prefix else text


def add_run_definition_options(
    parser: argparse.ArgumentParser,
    *,
    file_help: str | None = None,
    file_default: str | None = None,
    cmd: bool = False,
    context_help: str | None = None,
    context_required: bool = False,
    values: bool = True,
    set_secret_help: str | None = None,
    dockerfile: DockerfileOptions | None = None,
    settings: bool = True,
) -> None:
    """The options that define a run, in the order the commands list them.

    An option is left out when its help (or flag) is not given; ``--context`` is an option only
    for tasks (``acr run|build`` take it as their last argument). With ``settings=False`` the
    caller adds :func:`add_run_settings` itself, after options of its own.
    """
    if dockerfile is not None and dockerfile.image_first:
        _add_image(parser, dockerfile)
    if file_help is not None:
        parser.add_argument("--file", "-f", default=file_default, help=file_help)
    if cmd:
        parser.add_argument("--cmd", help="A command to run in a container, as one step.")
    if context_help is not None:
        parser.add_argument("--context", "-c", required=context_required, help=context_help)
    if values:
        add_values(parser)
    if set_secret_help is not None:
        parser.add_argument(
            "--set-secret",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=set_secret_help,
        )
    if dockerfile is not None:
        _add_dockerfile_options(parser, dockerfile)
    if settings:
        add_run_settings(parser)


def add_values(parser: argparse.ArgumentParser) -> None:
    """``--set`` and ``--values``: the values of a run's templates (read by command_values)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A value for {{.Values.NAME}}; repeatable.",
    )
    parser.add_argument("--values", help="A YAML file of values ({{.Values.x}}).")


def add_run_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=positive_int, help="The run's timeout in seconds (default 3600)."
    )
    parser.add_argument("--platform", help="The platform (linux).")


def _add_image(parser: argparse.ArgumentParser, spec: DockerfileOptions) -> None:
    parser.add_argument(
        "--image",
        "-t",
        action="append",
        default=[],
        metavar="REPO:TAG",
        help=spec.help(
            "An image to build and push (templates allowed, e.g. hello:{{.Run.ID}}); repeatable."
        ),
    )


def _add_dockerfile_options(parser: argparse.ArgumentParser, spec: DockerfileOptions) -> None:
    if not spec.image_first:
        _add_image(parser, spec)
    parser.add_argument(
        spec.arg,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=spec.help("A build argument; repeatable."),
    )
    parser.add_argument(
        spec.secret_arg,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=spec.help(spec.secret_arg_help),
    )
    parser.add_argument("--target", help=spec.help("The build stage to build."))
    no_push_help = spec.help("Build the images without pushing them.")
    if spec.no_push_takes_value:
        parser.add_argument(
            "--no-push",
            nargs="?",
            const=True,
            type=true_or_false,
            metavar="{true,false}",
            help=no_push_help,
        )
    else:
        parser.add_argument("--no-push", action="store_true", help=no_push_help)


def true_or_false(value: str) -> bool:
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def check_file_or_cmd(args: argparse.Namespace) -> None:
    if args.file is not None and args.cmd is not None:
        raise CLIError("give --file or --cmd, not both")


def value_fields(args: argparse.Namespace, omit_empty: bool) -> dict[str, Any]:
    """``values`` (--values, then --set over it) and ``secretValues`` (--set-secret)."""
    from airlock.tasks.render import parse_set

    values = command_values(args)
    try:
        secrets = parse_set(args.set_secret)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    fields = {"values": values, "secretValues": secrets}
    return {key: value for key, value in fields.items() if value or not omit_empty}


def dockerfile_fields(
    args: argparse.Namespace, spec: DockerfileOptions, complete: bool = True
) -> dict[str, Any]:
    """Every Dockerfile field when ``complete``; else (an update) only those given."""
    build_args, secret_build_args = (
        getattr(args, spec.arg_dest),
        getattr(args, spec.secret_arg_dest),
    )
    fields: dict[str, Any] = {
        "images": args.image,
        "buildArgs": runs.parse_pairs(build_args, spec.arg),
        "secretBuildArgs": runs.parse_pairs(secret_build_args, spec.secret_arg),
        "target": args.target,
        "noPush": bool(args.no_push),
    }
    if complete:
        return fields
    given = {"images": bool(args.image), "buildArgs": bool(build_args)}
    given.update(secretBuildArgs=bool(secret_build_args), target=args.target is not None)
    given["noPush"] = args.no_push is not None
    return {key: value for key, value in fields.items() if given[key]}


def settings_fields(args: argparse.Namespace) -> dict[str, Any]:
    """``timeout`` and ``platform``, when given."""
    fields = {"timeout": args.timeout, "platform": args.platform}
    return {key: value for key, value in fields.items() if value is not None}


def is_dockerfile(file: str, with_images: bool) -> bool:
    """Whether ``--file`` names a Dockerfile (built from the context) or a task file."""
    name = PurePath(file).name
    return with_images or name in _DOCKERFILE_NAMES or name.endswith(_DOCKERFILE_SUFFIXES)


def context_file_name(file: str, context: str | None) -> str:
    """A file of the context by its path inside it; an absolute path under a local context
    folder is made relative to it."""
    path = PurePath(file)
    if path.is_absolute() and context is not None and is_local(context):
        root = Path(context.partition("#")[0]).expanduser().resolve()
        try:
            return Path(file).resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def is_local(context: str) -> bool:
    return context != NO_CONTEXT and "://" not in context


def absolute_context(context: str) -> str:
    """A local path means nothing to the server: send it absolute (URLs as they are)."""
    if not is_local(context):
        return context
    path, sep, fragment = context.partition("#")
    return str(Path(path).expanduser().resolve()) + sep + fragment


def read_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read the {what} {path}: {exc}") from None


def command_values(args: argparse.Namespace) -> dict[str, Any]:
    """--values FILE, then --set NAME=VALUE over it."""
    from airlock.tasks.errors import TaskFileError
    from airlock.tasks.render import load_values, parse_set

    values: dict[str, Any] = {}
    try:
        if args.values:
            path = Path(args.values)
            values.update(load_values(read_file(path, "values file"), source=str(path)))
        values.update(parse_set(args.set))
    except (ValueError, TaskFileError) as exc:  # a malformed --set, a bad values file
        raise CLIError(str(exc)) from None
    return values
