"""Tasks: ``airlock acr task create|update|show|list|delete`` (``az acr task`` shapes).

A create is checked whole before anything is stored: the name, the task file (loaded and its
step graph built, as ``acr task validate`` does, with the given values), the context (parsed,
and a git or tarball context asked whether it answers). A context on this machine (a local
folder or ``file://``) is read by the server with its own rights, so only a principal with
Owner on the whole server may name one. Secret values and the git access token are sealed
(``airlock.runs.tasks``) and never shown again. Runs are in ``airlock.server.routes.runs``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import InvalidArgumentError
from airlock.registry.registries import RegistryRecord
from airlock.runner import ContextKind, check_reachable, parse_context
from airlock.runner.context_files import read_context_file
from airlock.runner.contexts import ContextSpec
from airlock.runner.plan import KIND_CMD, KIND_DOCKERFILE, KIND_FILE
from airlock.runs.tasks import DEFAULT_TIMEOUT, ENABLED, Task, TaskSpec
from airlock.server.authz import Caller, Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import boolean, json_body, only, text, whole_number
from airlock.server.routes.definitions import (
    DEFINITION_FIELDS,
    check_definition,
    dockerfile_definition,
    kind_of,
    mapping,
    on_this_machine,
    read_context,
    read_definition,
    read_dockerfile,
    stored_dockerfile,
)
from airlock.server.routes.task_triggers import (
    TRIGGER_FIELDS,
    read_schedule,
    read_triggers,
    set_schedule,
    triggers_json,
)
from airlock.server.routes.webhooks import webhook_path
from airlock.server.services import Services
from airlock.triggers.impact import impact
from airlock.triggers.settings import TriggerSettings
from airlock.vault.masking import MASKER

_TASKS = "Microsoft.ContainerRegistry/registries/tasks"
_FIELDS = (
    "name",
    *DEFINITION_FIELDS,
    "context",
    "values",
    "secretValues",
    "platform",
    "timeout",
    "status",
    "gitAccessToken",
    "assignIdentity",
    "fileFromContext",
    *TRIGGER_FIELDS,
)
_LOCAL_CONTEXTS = "Microsoft.Authorization/*"  # held by Owner (and UAA) only
_STEP_TYPES = {KIND_FILE: "FileTask", KIND_CMD: "EncodedTask", KIND_DOCKERFILE: "DockerBuildStep"}


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    store = services.tasks

    def registry(request: Request) -> RegistryRecord:
        return services.registries.get(request.path_params["name"])

    def owner_name(record: RegistryRecord, task: str) -> str:
        return f"{record.name}/{task}"

    async def create(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, *_FIELDS)
        name = text(body, "name") or ""
        spec = await _spec(body, request.state.caller, gate, None)
        git = parse_context(spec.context).kind is ContextKind.GIT
        triggers = read_triggers(body, TriggerSettings(commit_enabled=git))
        schedule = read_schedule(body)
        task = store.create(record.id, name, spec)
        services.trigger_settings.put(task.id, triggers)
        set_schedule(services.timers, task.id, schedule)
        if body.get("assignIdentity") is True:
            principal = services.identities.principals.ensure_system_identity(
                "task", owner_name(record, task.name)
            )
            task = store.set_identity(record.id, task.name, principal.principal_id)
        return JSONResponse(_json(services, record, task), status_code=201)

    async def list_tasks(request: Request) -> Response:
        record = registry(request)
        base = request.query_params.get("baseImage")
        if base:
            return JSONResponse(_impact(services, gate, request.state.caller, base))
        return JSONResponse([_json(services, record, t) for t in store.all(record.id)])

    async def show(request: Request) -> Response:
        record = registry(request)
        return JSONResponse(
            _json(services, record, store.get(record.id, request.path_params["task"]))
        )

    async def update(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, *(f for f in _FIELDS if f != "name"))
        current = store.get(record.id, request.path_params["task"])
        spec = await _spec(body, request.state.caller, gate, current)
        triggers = read_triggers(body, services.trigger_settings.get(current.id))
        schedule = read_schedule(body)
        changes = {f.name: getattr(spec, f.name) for f in fields(TaskSpec)}
        if not spec.git_token:
            del changes["git_token"]  # none given: the stored one stays
        task = store.update(record.id, current.name, **changes)
        services.trigger_settings.put(task.id, triggers)
        set_schedule(services.timers, task.id, schedule)
        if body.get("assignIdentity") is True and task.identity is None:
            principal = services.identities.principals.ensure_system_identity(
                "task", owner_name(record, task.name)
            )
            task = store.set_identity(record.id, task.name, principal.principal_id)
        return JSONResponse(_json(services, record, task))

    async def delete(request: Request) -> Response:
        record = registry(request)
        task = store.delete(record.id, request.path_params["task"])
        services.identities.principals.remove_system_identity("task", owner_name(record, task.name))
        return Response(status_code=204)

    in_path = registry_scope(services)
    base = "/api/registries/{name}/tasks"
    return [
        gate.route(base, create, ["POST"], Rule(f"{_TASKS}/write", in_path)),
        gate.route(base, list_tasks, ["GET"], Rule(f"{_TASKS}/read", in_path)),
        gate.route(base + "/{task}", show, ["GET"], Rule(f"{_TASKS}/read", in_path)),
        gate.route(base + "/{task}", update, ["PATCH"], Rule(f"{_TASKS}/write", in_path)),
        gate.route(base + "/{task}", delete, ["DELETE"], Rule(f"{_TASKS}/delete", in_path)),
    ]


async def _spec(body: dict[str, Any], caller: Caller, gate: Gate, current: Task | None) -> TaskSpec:
    """The task as the body describes it (over ``current`` for an update), checked whole;
    raises a 4xx error."""
    values = {**(current.values if current else {}), **mapping(body, "values")}
    secrets = {k: str(v) for k, v in mapping(body, "secretValues").items()}
    MASKER.add_many(secrets.values())
    given_context = current is None or "context" in body
    context = (
        parse_context(current.context) if current and not given_context else read_context(body)
    )
    token = text(body, "gitAccessToken")
    if token:
        MASKER.add(token)
    if on_this_machine(context):
        gate.require(caller, _LOCAL_CONTEXTS, roles.SERVER_SCOPE)
    if boolean(body, "fileFromContext"):
        body = await _with_file_from_context(body, context, token, gate, current)
    kind, definition, source = _definition(body, current, {**values, **secrets}, secrets)
    if given_context:
        # git ls-remote or a HEAD request, bounded: off the event loop. The server's own
        # state folder is never a context.
        await asyncio.to_thread(
            lambda: check_reachable(context, token, protected=(gate.services.home,))
        )
    timeout = whole_number(body, "timeout")
    return TaskSpec(
        kind=kind,
        definition=definition,
        context=str(context),
        file_name=source,
        values=values,
        secrets=secrets,
        git_token=token,
        platform=text(body, "platform") or (current.platform if current else "linux"),
        timeout=timeout or (current.timeout if current else DEFAULT_TIMEOUT),
        status=text(body, "status") or (current.status if current else ENABLED),
    )


async def _with_file_from_context(
    body: dict[str, Any],
    context: ContextSpec,
    token: str | None,
    gate: Gate,
    current: Task | None,
) -> dict[str, Any]:
    """ACR reads ``-f`` from the context: the body names the file (``fileName``), the server
    reads it (a git clone or a folder copy, off the event loop) and carries on as if the
    CLI had sent it."""
    if text(body, "file") is not None or kind_of(body) not in (None, KIND_FILE):
        raise InvalidArgumentError("'fileFromContext' goes with a task file name only")
    name = text(body, "fileName", limit=255)
    if not name:
        raise InvalidArgumentError("'fileFromContext' needs 'fileName', the file's path in it")
    # A context on this machine was authorised by the caller (Owner on the server) already.
    secret = token or (gate.services.tasks.git_token(current) if current else None)
    found = await asyncio.to_thread(
        lambda: read_context_file(context, name, secret, protected=(gate.services.home,))
    )
    return {**body, "kind": KIND_FILE, "file": found, "fileName": name}


def _definition(
    body: dict[str, Any],
    current: Task | None,
    values: dict[str, Any],
    secrets: dict[str, str],
) -> tuple[str, str, str | None]:
    """(kind, definition, file name) from the body, or the stored ones for an update that
    changes neither; secret build arguments are added to ``secrets``."""
    kind = kind_of(body)
    if current is not None and kind is None:
        if current.kind == KIND_DOCKERFILE:
            build = read_dockerfile(body, stored_dockerfile(current.definition))
            secrets.update(build.secret_build_args)
            return KIND_DOCKERFILE, dockerfile_definition(build), build.dockerfile
        # checked again with the merged values, as stored
        check_definition(current.definition, current.file_name or "cmd", values)
        return current.kind, current.definition, current.file_name
    if kind == KIND_DOCKERFILE:
        stored: dict[str, Any] = {}
        if current is not None and current.kind == KIND_DOCKERFILE:
            stored = stored_dockerfile(current.definition)
        build = read_dockerfile(body, stored)
        secrets.update(build.secret_build_args)
        return KIND_DOCKERFILE, dockerfile_definition(build), build.dockerfile
    found = read_definition(body, values)
    return found.kind, found.definition, found.source if found.kind == KIND_FILE else None


def _impact(services: Services, gate: Gate, caller: Caller, base: str) -> list[dict[str, Any]]:
    """``acr task list --base-image REF``: every task that would run if REF changed, down the
    chain, in the registries the caller may read tasks of (others are left out)."""
    try:
        found = impact(services.base_images, services.tasks, base)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    shown = []
    for entry in found:
        record = services.registries.get_by_id(entry.registry_id)
        scope = roles.registry_scope(record.resource_group, record.name)
        if gate.allowed(caller, f"{_TASKS}/read", scope):
            shown.append(
                {
                    "name": entry.task,
                    "registry": record.name,
                    "depth": entry.depth,
                    "baseImage": entry.via,
                }
            )
    return shown


def _json(services: Services, record: RegistryRecord, task: Task) -> dict[str, Any]:
    """The shape of ``az acr task show`` (values shown, secret values only by name)."""
    registry_id = str(record.to_json()["id"])
    step: dict[str, Any] = {
        "type": _STEP_TYPES[task.kind],
        "contextPath": task.context,
        "values": [{"name": k, "value": v, "isSecret": False} for k, v in task.values.items()]
        + [{"name": k, "isSecret": True} for k in task.secret_names],
    }
    if task.kind == KIND_FILE:
        step["taskFilePath"] = task.file_name
    elif task.kind == KIND_DOCKERFILE:
        build = json.loads(task.definition)
        secret_args = [{"name": k, "isSecret": True} for k in build["secretBuildArgNames"]]
        step.update(
            dockerFilePath=build["dockerfile"],
            imageNames=build["images"],
            arguments=[
                {"name": k, "value": v, "isSecret": False} for k, v in build["buildArgs"].items()
            ]
            + secret_args,
            target=build["target"],
            isPushEnabled=not build["noPush"],
        )
    else:
        step["encodedTaskContent"] = task.definition
    return {
        "id": f"{registry_id}/tasks/{task.name}",
        "name": task.name,
        "status": task.status,
        "platform": {"os": task.platform, "architecture": "amd64"},
        "timeout": task.timeout,
        "step": step,
        "identity": None
        if task.identity is None
        else {"principalId": task.identity, "tenantId": "local", "type": "SystemAssigned"},
        "creationDate": task.created_at,
        "provisioningState": "Succeeded",
        "credentials": {"sourceRegistry": {"loginMode": "Default"}},
        "resourceGroup": record.resource_group,
        "type": "Airlock/registries/tasks",
        "gitAccessToken": task.has_git_token,
        "trigger": triggers_json(
            task,
            services.trigger_settings.get(task.id),
            services.timers.list(task.id),
            f"{services.runner.server_url}{webhook_path(task.id)}"
            if services.runner.server_url
            else None,
        ),
        "baseImageDependencies": [b.to_json() for b in services.base_images.for_task(task.id)],
    }
