"""``airlock acr task``: ACR tasks. Today: ``validate``, which needs no server.

Creating and running tasks comes with the task runner; until then those commands do not
exist (``airlock acr task --help`` lists what does).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="Check a task file: YAML, properties, templates and step dependencies.",
        description="Load a task file as a run would (ACR's multi-step YAML: version, steps, "
        "when, templates) and print its steps and execution order, or the first problem "
        "with file, line and column. With --set or --values the file is rendered first. "
        "Needs no server.",
    )
    parser.add_argument("--file", "-f", required=True, help="The task file (YAML).")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A value for {{.Values.NAME}}; repeatable.",
    )
    parser.add_argument("--values", help="A YAML file of values ({{.Values.x}}).")
    parser.add_argument(
        "--strict", action="store_true", help="Refuse unknown properties instead of warning."
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=validate)


def validate(args: argparse.Namespace, ctx: Context) -> Any:
    # Imported here: the task engine reads YAML, which the other commands do not need.
    from airlock.tasks.errors import TaskFileError
    from airlock.tasks.render import load_values, parse_set
    from airlock.tasks.validate import validate as validate_task

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read the task file {path}: {exc}") from None
    try:
        values: dict[str, Any] = {}
        if args.values:
            values_path = Path(args.values)
            try:
                values_text = values_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CLIError(f"cannot read the values file {values_path}: {exc}") from None
            values.update(load_values(values_text, source=str(values_path)))
        values.update(parse_set(args.set))
        result = validate_task(text, source=str(path), values=values, strict=args.strict)
    except ValueError as exc:  # a malformed --set
        raise CLIError(str(exc)) from None
    except TaskFileError as exc:
        raise CLIError(str(exc)) from None
    for warning in result.to_json()["warnings"]:
        ctx.warn(warning)
    return result.to_json()
