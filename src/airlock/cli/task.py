"""``airlock acr task``: ACR tasks (``az acr task`` shapes).

``validate`` needs no server. ``create|update|show|list|delete`` keep tasks on the server:
a task file (ACR's multi-step YAML, read here and sent), a ``--cmd``, or a Dockerfile in the
context (``--file Dockerfile --image ...``, sent by name and read by the server from the
context). ``run`` starts a run and follows its logs, ``list-runs``, ``logs``, ``show-run`` and
``cancel-run`` read and stop runs (the following and the exit status rule are in cli/runs.py);
``credential`` and ``identity`` are in cli/task_credential.py. The options that define a run
(shared with ``acr run|build``) and their request fields are in cli/run_options.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
from airlock.cli.run_options import (
    NO_CONTEXT,
    DockerfileOptions,
    absolute_context,
    add_run_definition_options,
    add_run_settings,
    add_values,
    check_file_or_cmd,
    command_values,
    context_file_name,
    dockerfile_fields,
    is_dockerfile,
    read_file,
    settings_fields,
    true_or_false,
    value_fields,
)

# az acr task's names and wording of the Dockerfile options (--file may be a task file too).
TASK_DOCKERFILE_OPTIONS = DockerfileOptions(
    arg="--arg",
    secret_arg="--secret-arg",
    secret_arg_help="A secret build argument, stored sealed; repeatable.",
    help_prefix="Dockerfile tasks: ",
    no_push_takes_value=True,
)


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
        add_run_definition_options(
            parser,
            file_help="The task file (ACR's multi-step YAML): a file on this machine, or else, "
            "as ACR reads it, a path inside --context that the server reads from the context "
            "when the task is created or updated; or a Dockerfile (named Dockerfile, "
            "Containerfile or *.dockerfile, or any file with --image), a path relative to the "
            "context that the server reads from the context at each run.",
            cmd=True,
            context_help="Where the steps run: a git URL (#branch:folder), a local folder, a "
            "tarball URL, or /dev/null for none.",
            context_required=name == "create",
            set_secret_help="A secret value for {{.Values.NAME}}, stored sealed and masked in "
            "logs.",
            dockerfile=TASK_DOCKERFILE_OPTIONS,
            settings=False,
        )
        parser.add_argument(
            "--assign-identity",
            nargs="?",
            const="[system]",
            metavar="[system]",
            help="Give the task a system-assigned identity.",
        )
        add_run_settings(parser)
        parser.add_argument(
            "--git-access-token", help="A token for the git context, stored sealed."
        )
        parser.add_argument(
            "--status", type=str.capitalize, choices=("Enabled", "Disabled"), help="Status."
        )
        _add_trigger_options(parser)
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)


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


def _path(args: argparse.Namespace) -> str:
    return f"/api/registries/{segment(args.registry)}/tasks/{segment(args.name)}"


def _body(args: argparse.Namespace, create: bool) -> dict[str, Any]:
    check_file_or_cmd(args)
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
    body.update(dockerfile_fields(args, TASK_DOCKERFILE_OPTIONS, complete=create and dockerfile))
    if args.context is not None:
        body["context"] = absolute_context(args.context)
    body.update(value_fields(args, omit_empty=True))
    if args.assign_identity is not None:
        if args.assign_identity.lower() != "[system]":
            raise CLIError(
                "--assign-identity takes [system]: user-assigned identities for tasks are "
                "not supported yet"
            )
        body["assignIdentity"] = True
    body.update(settings_fields(args))
    for option, field in (
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


def _dockerfile_options_given(args: argparse.Namespace) -> bool:
    return bool(args.image or args.arg or args.secret_arg) or (
        args.target is not None or args.no_push is not None
    )


def _add_trigger_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-image-trigger-enabled",
        type=true_or_false,
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
        type=true_or_false,
        metavar="{true,false}",
        help="Run the task on a commit to its git context's branch (default true for git).",
    )


def _context_may_hold(args: argparse.Namespace, create: bool) -> bool:
    """Whether a --file that is not on this machine may be the context's (ACR's reading)."""
    if args.context is None:
        return not create  # an update keeps the task's context
    return bool(args.context != NO_CONTEXT)


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
