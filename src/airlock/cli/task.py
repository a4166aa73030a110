"""``airlock acr task``: ACR tasks (``az acr task`` shapes).

``validate`` needs no server. ``create|update|show|list|delete`` keep tasks on the server;
running them (``task run``, ``list-runs``, ``logs``) comes with the task runner, and until then
those commands do not exist (``airlock acr task --help`` lists what does).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import (
    Context,
    Subparsers,
    add_global_arguments,
    add_registry_argument,
    positive_int,
)


def register(subparsers: Subparsers) -> None:
    for name, text, handler in (
        ("create", "Create a task.", create),
        ("update", "Update a task; --set and --set-secret merge into its values.", update),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        _add_name(parser)
        parser.add_argument("--file", "-f", help="The task file (ACR's multi-step YAML).")
        parser.add_argument("--cmd", help="A command to run in a container, as one step.")
        parser.add_argument(
            "--context",
            "-c",
            required=name == "create",
            help="Where the steps run: a git URL (#branch:folder), a local folder, a tarball "
            "URL, or /dev/null for none.",
        )
        _add_values(parser)
        parser.add_argument(
            "--set-secret",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A secret value for {{.Values.NAME}}, stored sealed and masked in logs.",
        )
        parser.add_argument(
            "--assign-identity",
            nargs="?",
            const="[system]",
            metavar="[system]",
            help="Give the task a system-assigned identity.",
        )
        parser.add_argument(
            "--timeout", type=positive_int, help="The run's timeout in seconds (default 3600)."
        )
        parser.add_argument("--platform", help="The platform (linux).")
        parser.add_argument(
            "--git-access-token", help="A token for the git context, stored sealed."
        )
        parser.add_argument(
            "--status", type=str.capitalize, choices=("Enabled", "Disabled"), help="Status."
        )
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)
    for name, text, handler in (
        ("show", "Show a task.", show),
        ("delete", "Delete a task and its system-assigned identity.", delete),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        _add_name(parser)
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)
    parser = subparsers.add_parser("list", help="List a registry's tasks.", description="List.")
    add_registry_argument(parser, ("--registry", "-r"))
    add_global_arguments(parser)
    parser.set_defaults(handler=list_tasks, table=task_table)

    parser = subparsers.add_parser(
        "validate",
        help="Check a task file: YAML, properties, templates and step dependencies.",
        description="Load a task file as a run would (ACR's multi-step YAML: version, steps, "
        "when, templates) and print its steps and execution order, or the first problem "
        "with file, line and column. With --set or --values the file is rendered first. "
        "Needs no server.",
    )
    parser.add_argument("--file", "-f", required=True, help="The task file (YAML).")
    _add_values(parser)
    parser.add_argument(
        "--strict", action="store_true", help="Refuse unknown properties instead of warning."
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=validate)


def validate(args: argparse.Namespace, ctx: Context) -> Any:
    # Imported here: the task engine reads YAML, which the other commands do not need.
    from airlock.tasks.errors import TaskFileError
    from airlock.tasks.validate import validate as validate_task

    path = Path(args.file)
    text = _read(path, "task file")
    values = _values(args)
    try:
        result = validate_task(text, source=str(path), values=values, strict=args.strict)
    except TaskFileError as exc:
        raise CLIError(str(exc)) from None
    for warning in result.to_json()["warnings"]:
        ctx.warn(warning)
    return result.to_json()


def _add_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", "-n", required=True, help="The task's name.")
    add_registry_argument(parser, ("--registry", "-r"))


def _add_values(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A value for {{.Values.NAME}}; repeatable.",
    )
    parser.add_argument("--values", help="A YAML file of values ({{.Values.x}}).")


def _path(args: argparse.Namespace) -> str:
    return f"/api/registries/{segment(args.registry)}/tasks/{segment(args.name)}"


def _body(args: argparse.Namespace) -> dict[str, Any]:
    from airlock.tasks.render import parse_set

    if args.file is not None and args.cmd is not None:
        raise CLIError("give --file or --cmd, not both")
    body: dict[str, Any] = {}
    if args.file is not None:
        path = Path(args.file)
        body["file"] = _read(path, "task file")
        body["fileName"] = path.name
    if args.cmd is not None:
        body["cmd"] = args.cmd
    if args.context is not None:
        body["context"] = _absolute_context(args.context)
    values = _values(args)
    try:
        secrets = parse_set(args.set_secret)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if values:
        body["values"] = values
    if secrets:
        body["secretValues"] = secrets
    if args.assign_identity is not None:
        if args.assign_identity.lower() != "[system]":
            raise CLIError(
                "--assign-identity takes [system]: user-assigned identities for tasks are "
                "not supported yet"
            )
        body["assignIdentity"] = True
    for option, field in (
        ("timeout", "timeout"),
        ("platform", "platform"),
        ("git_access_token", "gitAccessToken"),
        ("status", "status"),
    ):
        if getattr(args, option) is not None:
            body[field] = getattr(args, option)
    return body


def _absolute_context(context: str) -> str:
    """A local path means nothing to the server: send it absolute (URLs as they are)."""
    if context == "/dev/null" or "://" in context:
        return context
    path, sep, fragment = context.partition("#")
    return str(Path(path).expanduser().resolve()) + sep + fragment


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body = _body(args)
    if "file" not in body and "cmd" not in body:
        raise CLIError("give --file (a task file) or --cmd (a command)")
    body["name"] = args.name
    return ctx.client.post(f"/api/registries/{segment(args.registry)}/tasks", body)


def update(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.request("PATCH", _path(args), body=_body(args))


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(_path(args))


def list_tasks(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"/api/registries/{segment(args.registry)}/tasks")


def task_table(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "NAME": t.get("name"),
            "PLATFORM": (t.get("platform") or {}).get("os"),
            "STATUS": t.get("status"),
            "SOURCE REPOSITORY": (t.get("step") or {}).get("contextPath"),
            "TRIGGERS": "",
        }
        for t in found
    ]


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read the {what} {path}: {exc}") from None


def _values(args: argparse.Namespace) -> dict[str, Any]:
    """--values FILE, then --set NAME=VALUE over it."""
    from airlock.tasks.errors import TaskFileError
    from airlock.tasks.render import load_values, parse_set

    values: dict[str, Any] = {}
    try:
        if args.values:
            path = Path(args.values)
            values.update(load_values(_read(path, "values file"), source=str(path)))
        values.update(parse_set(args.set))
    except (ValueError, TaskFileError) as exc:  # a malformed --set, a bad values file
        raise CLIError(str(exc)) from None
    return values
