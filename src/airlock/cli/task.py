"""``airlock acr task``: ACR tasks (``az acr task`` shapes).

``validate`` needs no server. ``create|update|show|list|delete`` keep tasks on the server:
a task file (ACR's multi-step YAML, read here and sent), a ``--cmd``, or a Dockerfile in the
context (``--file Dockerfile --image ...``, sent by name and read by the server from the
context). ``run`` starts a run and follows its logs, ``list-runs``, ``logs``, ``show-run`` and
``cancel-run`` read and stop runs (the following and the exit status rule are in cli/runs.py);
``credential`` and ``identity`` are in cli/task_credential.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path, PurePath
from typing import Any

from airlock.cli import runs, task_credential, task_hook, task_timer
from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import (
    Context,
    Subparsers,
    add_global_arguments,
    add_registry_argument,
    positive_int,
)

# File names that make --file a Dockerfile rather than a task file (any name does with --image).
_DOCKERFILE_NAMES = ("Dockerfile", "Containerfile")
_DOCKERFILE_SUFFIXES = (".dockerfile", "Dockerfile")


def register(subparsers: Subparsers) -> None:
    _add_create_and_update(subparsers)
    for name, text, handler in (
        ("show", "Show a task.", show),
        ("delete", "Delete a task and its system-assigned identity.", delete),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        _add_name(parser)
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)
    parser = subparsers.add_parser(
        "list",
        help="List a registry's tasks.",
        description="List a registry's tasks; with --base-image, every task (in any registry "
        "you may read) that would run if that image changed, down the whole chain.",
    )
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument(
        "--base-image",
        metavar="REF",
        help="Show the impact of a change of this image (registry/repository:tag).",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=list_tasks, table=task_table)
    _add_run_commands(subparsers)
    task_credential.register(subparsers)
    task_hook.register(subparsers)
    task_timer.register(subparsers)
    _add_validate(subparsers)


def _add_create_and_update(subparsers: Subparsers) -> None:
    for name, text, handler in (
        ("create", "Create a task.", create),
        ("update", "Update a task; --set and --set-secret merge into its values.", update),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        _add_name(parser)
        parser.add_argument(
            "--file",
            "-f",
            help="The task file (ACR's multi-step YAML): a file on this machine, or else, as "
            "ACR reads it, a path inside --context that the server reads from the context "
            "when the task is created or updated; or a Dockerfile (named Dockerfile, "
            "Containerfile or *.dockerfile, or any file with --image), a path relative to the "
            "context that the server reads from the context at each run.",
        )
        parser.add_argument("--cmd", help="A command to run in a container, as one step.")
        parser.add_argument(
            "--context",
            "-c",
            required=name == "create",
            help="Where the steps run: a git URL (#branch:folder), a local folder, a tarball "
            "URL, or /dev/null for none.",
        )
        add_values(parser)
        parser.add_argument(
            "--set-secret",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A secret value for {{.Values.NAME}}, stored sealed and masked in logs.",
        )
        _add_dockerfile_options(parser)
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
        _add_trigger_options(parser)
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)


def _add_dockerfile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image",
        "-t",
        action="append",
        default=[],
        metavar="REPO:TAG",
        help="Dockerfile tasks: an image to build and push (templates allowed, e.g. "
        "hello:{{.Run.ID}}); repeatable.",
    )
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Dockerfile tasks: a build argument; repeatable.",
    )
    parser.add_argument(
        "--secret-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Dockerfile tasks: a secret build argument, stored sealed; repeatable.",
    )
    parser.add_argument("--target", help="Dockerfile tasks: the build stage to build.")
    parser.add_argument(
        "--no-push",
        nargs="?",
        const=True,
        type=_true_or_false,
        metavar="{true,false}",
        help="Dockerfile tasks: build the images without pushing them.",
    )


def _add_run_commands(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="Run a task and follow its logs.",
        description="Queue a run of a task, print its logs as they come and then the run. "
        "Exits 1 when the run ends in anything but Succeeded (ACR's CLI exits 0).",
    )
    _add_name(parser)
    add_values(parser)
    runs.add_follow_options(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=run_task, table=runs.run_table)

    parser = subparsers.add_parser(
        "list-runs",
        help="List the runs of a registry, newest first.",
        description="List the runs of a registry, newest first.",
    )
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument("--name", "-n", help="Only the runs of this task.")
    parser.add_argument(
        "--run-status",
        type=runs.run_status,
        metavar="{" + ",".join(runs.STATUSES) + "}",
        help="Only the runs with this status.",
    )
    parser.add_argument(
        "--top", type=positive_int, help="How many runs to list (the server's default: 15)."
    )
    parser.add_argument(
        "--trigger",
        choices=("Manual", "Commit", "Image Update", "Timer"),
        help="Only the runs started this way (an Airlock addition to az's options).",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=list_runs, table=runs.run_table)

    parser = subparsers.add_parser(
        "logs",
        help="Show the logs of a run, following it until it ends.",
        description="Print the logs of a run, and follow it until it ends when it is still "
        "going (Ctrl+C stops following and leaves the run going). Without --run-id: the last "
        "run of the registry, or of the task given with --name.",
    )
    add_registry_argument(parser, ("--registry", "-r"))
    parser.add_argument("--run-id", help="The run (default: the last one).")
    parser.add_argument("--name", "-n", help="The task whose last run to show.")
    add_global_arguments(parser)
    parser.set_defaults(handler=logs)

    for name, text, handler in (
        ("show-run", "Get the properties of a run.", show_run),
        ("cancel-run", "Stop a queued or running run.", cancel_run),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        add_registry_argument(parser, ("--registry", "-r"))
        parser.add_argument("--run-id", required=True, help="The run's ID, such as ca1.")
        add_global_arguments(parser)
        parser.set_defaults(handler=handler, table=runs.run_table)


def _add_validate(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="Check a task file: YAML, properties, templates and step dependencies.",
        description="Load a task file as a run would (ACR's multi-step YAML: version, steps, "
        "when, templates) and print its steps and execution order, or the first problem "
        "with file, line and column. With --set or --values the file is rendered first. "
        "Needs no server.",
    )
    parser.add_argument("--file", "-f", required=True, help="The task file (YAML).")
    add_values(parser)
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
    text = read_file(path, "task file")
    values = command_values(args)
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


def add_values(parser: argparse.ArgumentParser) -> None:
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


def _body(args: argparse.Namespace, create: bool) -> dict[str, Any]:
    if args.file is not None and args.cmd is not None:
        raise CLIError("give --file or --cmd, not both")
    body: dict[str, Any] = {}
    dockerfile = args.file is not None and is_dockerfile(args.file, bool(args.image))
    if dockerfile:
        body["kind"] = "dockerfile"
        body["fileName"] = context_file_name(args.file, args.context)
    elif args.file is not None:
        path = Path(args.file)
        if path.exists() or not _context_may_hold(args, create):
            body.update(kind="file", file=read_file(path, "task file"), fileName=path.name)
        else:
            # As ACR: the file is the context's, read by the server from it (a git clone).
            body.update(kind="file", fileName=context_file_name(args.file, args.context))
            body["fileFromContext"] = True
    elif args.cmd is not None:
        body.update(kind="cmd", cmd=args.cmd)
    if "kind" in body and not dockerfile and _dockerfile_options_given(args):
        raise CLIError(
            "--image, --arg, --secret-arg, --target and --no-push are for Dockerfile tasks "
            "(--file Dockerfile)"
        )
    body.update(_dockerfile_fields(args, complete=create and dockerfile))
    if args.context is not None:
        body["context"] = absolute_context(args.context)
    body.update(_values_fields(args))
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
        ("base_image_trigger_enabled", "baseImageTriggerEnabled"),
        ("base_image_trigger_type", "baseImageTriggerType"),
        ("base_image_trigger_name", "baseImageTriggerName"),
        ("commit_trigger_enabled", "commitTriggerEnabled"),
        ("schedule", "schedule"),
    ):
        if getattr(args, option) is not None:
            body[field] = getattr(args, option)
    return body


def _values_fields(args: argparse.Namespace) -> dict[str, Any]:
    from airlock.tasks.render import parse_set

    values = command_values(args)
    try:
        secrets = parse_set(args.set_secret)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    fields: dict[str, Any] = {}
    if values:
        fields["values"] = values
    if secrets:
        fields["secretValues"] = secrets
    return fields


def _dockerfile_options_given(args: argparse.Namespace) -> bool:
    return bool(args.image or args.arg or args.secret_arg) or (
        args.target is not None or args.no_push is not None
    )


def _dockerfile_fields(args: argparse.Namespace, complete: bool) -> dict[str, Any]:
    """A created Dockerfile task gets every field; an update sends only what was given."""
    fields: dict[str, Any] = {
        "images": args.image,
        "buildArgs": runs.parse_pairs(args.arg, "--arg"),
        "secretBuildArgs": runs.parse_pairs(args.secret_arg, "--secret-arg"),
        "target": args.target,
        "noPush": bool(args.no_push),
    }
    if complete:
        return fields
    given = {"images": bool(args.image), "buildArgs": bool(args.arg)}
    given.update(secretBuildArgs=bool(args.secret_arg), target=args.target is not None)
    given["noPush"] = args.no_push is not None
    return {key: value for key, value in fields.items() if given[key]}


def _add_trigger_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-image-trigger-enabled",
        type=_true_or_false,
        metavar="{true,false}",
        help="Run the task when a base image it built on changes (default true).",
    )
    parser.add_argument(
        "--base-image-trigger-type",
        type=str.capitalize,
        choices=("Runtime", "All"),
        help="Watch the final stage's base only (Runtime, default) or every stage's (All).",
    )
    parser.add_argument("--base-image-trigger-name", help="The base-image trigger's name.")
    parser.add_argument(
        "--schedule",
        metavar="CRON",
        help="A timer (five-field cron, UTC) named t1, as az does; more with 'acr task timer'.",
    )
    parser.add_argument(
        "--commit-trigger-enabled",
        type=_true_or_false,
        metavar="{true,false}",
        help="Run the task on a commit to its git context's branch (default true for git).",
    )


def _true_or_false(value: str) -> bool:
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def is_dockerfile(file: str, with_images: bool) -> bool:
    """Whether ``--file`` names a Dockerfile (built from the context) or a task file."""
    name = PurePath(file).name
    return with_images or name in _DOCKERFILE_NAMES or name.endswith(_DOCKERFILE_SUFFIXES)


def _context_may_hold(args: argparse.Namespace, create: bool) -> bool:
    """Whether a --file that is not on this machine may be the context's (ACR's reading)."""
    if args.context is None:
        return not create  # an update keeps the task's context
    return bool(args.context != "/dev/null")


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
    return context != "/dev/null" and "://" not in context


def absolute_context(context: str) -> str:
    """A local path means nothing to the server: send it absolute (URLs as they are)."""
    if not is_local(context):
        return context
    path, sep, fragment = context.partition("#")
    return str(Path(path).expanduser().resolve()) + sep + fragment


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body = _body(args, create=True)
    if "kind" not in body:
        raise CLIError("give --file (a task file or a Dockerfile) or --cmd (a command)")
    body["name"] = args.name
    return ctx.client.post(f"/api/registries/{segment(args.registry)}/tasks", body)


def update(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.request("PATCH", _path(args), body=_body(args, create=False))


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(_path(args))


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(_path(args))


def list_tasks(args: argparse.Namespace, ctx: Context) -> Any:
    query = {"baseImage": args.base_image} if args.base_image else None
    return ctx.client.get(f"/api/registries/{segment(args.registry)}/tasks", query)


def run_task(args: argparse.Namespace, ctx: Context) -> Any:
    return runs.start(args, ctx, _path(args) + "/runs", {"values": command_values(args)})


def list_runs(args: argparse.Namespace, ctx: Context) -> Any:
    query = {"task": args.name, "status": args.run_status, "top": args.top}
    if args.trigger is not None:
        query["trigger"] = args.trigger
    return ctx.client.get(runs.runs_path(args.registry), query)


def logs(args: argparse.Namespace, ctx: Context) -> Any:
    run_id = args.run_id
    if run_id is None:
        # The id is fixed first, so a run that starts while this one is followed does not
        # take its place.
        latest = ctx.client.get(runs.runs_path(args.registry) + "/latest", {"task": args.name})
        run_id = runs.run_id_of(latest)
        if not ctx.only_show_errors:
            print(f"Showing logs of the last created run.\nRun ID: {run_id}", file=ctx.stderr)
    runs.LogFollower(ctx, args.registry, run_id).follow()
    return None


def show_run(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(runs.run_path(args.registry, args.run_id))


def cancel_run(args: argparse.Namespace, ctx: Context) -> Any:
    run = ctx.client.post(runs.run_path(args.registry, args.run_id) + "/cancel", {})
    # az prints nothing for a cancel; an explicit format or query asks for the run.
    return run if args.output is not None or args.query is not None else None


def task_table(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if found and "depth" in found[0]:  # --base-image: the impact of a change
        return [
            {
                "DEPTH": t.get("depth"),
                "REGISTRY": t.get("registry"),
                "NAME": t.get("name"),
                "BASE IMAGE": t.get("baseImage"),
            }
            for t in found
        ]
    return [
        {
            "NAME": t.get("name"),
            "PLATFORM": (t.get("platform") or {}).get("os"),
            "STATUS": t.get("status"),
            "SOURCE REPOSITORY": (t.get("step") or {}).get("contextPath"),
            "TRIGGERS": _triggers_cell(t.get("trigger") or {}),
        }
        for t in found
    ]


def _triggers_cell(trigger: dict[str, Any]) -> str:
    """az's TRIGGERS column: the trigger kinds that are on."""
    kinds = []
    if (trigger.get("sourceTriggers") or [{}])[0].get("status") == "Enabled":
        kinds.append("SOURCE")
    if (trigger.get("baseImageTrigger") or {}).get("status") == "Enabled":
        kinds.append("BASE_IMAGE")
    if any(t.get("status") == "Enabled" for t in trigger.get("timerTriggers") or []):
        kinds.append("TIMER")
    return ", ".join(kinds)


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
