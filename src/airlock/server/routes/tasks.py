"""Tasks: ``airlock acr task create|update|show|list|delete`` (``az acr task`` shapes).

A create is checked whole before anything is stored: the name, the task file (loaded and its
step graph built, as ``acr task validate`` does, with the given values), the context (parsed,
and a git or tarball context asked whether it answers). A context on this machine (a local
folder or ``file://``) is read by the server with its own rights, so only a principal with
Owner on the whole server may name one. Secret values and the git access token are sealed
(``airlock.runs.tasks``) and never shown again. Running tasks comes with the task runner.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import InvalidArgumentError
from airlock.registry.registries import RegistryRecord
from airlock.runner import ContextKind, check_reachable, parse_context
from airlock.runs.tasks import DEFAULT_TIMEOUT, ENABLED, Task, TaskSpec
from airlock.server.authz import Caller, Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import json_body, only, text, whole_number
from airlock.server.services import Services
from airlock.tasks.errors import TaskFileError
from airlock.tasks.validate import validate
from airlock.vault.masking import MASKER

_TASKS = "Microsoft.ContainerRegistry/registries/tasks"
_FIELDS = (
    "name",
    "file",
    "fileName",
    "cmd",
    "context",
    "values",
    "secretValues",
    "platform",
    "timeout",
    "status",
    "gitAccessToken",
    "assignIdentity",
)
_LOCAL_CONTEXTS = "Microsoft.Authorization/*"  # held by Owner (and UAA) only


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
        spec = await _spec(body, request.state.caller, gate)
        task = store.create(record.id, name, spec)
        if body.get("assignIdentity") is True:
            principal = services.identities.principals.ensure_system_identity(
                "task", owner_name(record, task.name)
            )
            task = store.set_identity(record.id, task.name, principal.principal_id)
        return JSONResponse(_json(record, task), status_code=201)

    async def list_tasks(request: Request) -> Response:
        record = registry(request)
        return JSONResponse([_json(record, t) for t in store.all(record.id)])

    async def show(request: Request) -> Response:
        record = registry(request)
        return JSONResponse(_json(record, store.get(record.id, request.path_params["task"])))

    async def update(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, *(f for f in _FIELDS if f != "name"))
        current = store.get(record.id, request.path_params["task"])
        merged = {
            "file": None,
            "cmd": None,
            "context": current.context,
            **{k: v for k, v in body.items() if v is not None},
        }
        keep_definition = "file" not in body and "cmd" not in body
        if keep_definition:
            # Checked again with the merged values, as stored (a --cmd task's generated file).
            merged["file"] = current.definition
            merged.setdefault("fileName", current.file_name or "cmd")
        values = {**current.values, **_mapping(body, "values")}
        merged["values"] = values
        merged.setdefault("timeout", current.timeout)
        merged.setdefault("status", current.status)
        merged.setdefault("platform", current.platform)
        spec = await _spec(merged, request.state.caller, gate, check="context" in body)
        if keep_definition:
            spec = replace(spec, kind=current.kind, file_name=current.file_name)
        changes = {f.name: getattr(spec, f.name) for f in fields(TaskSpec)}
        if not spec.git_token:
            del changes["git_token"]  # none given: the stored one stays
        task = store.update(record.id, current.name, **changes)
        if body.get("assignIdentity") is True and task.identity is None:
            principal = services.identities.principals.ensure_system_identity(
                "task", owner_name(record, task.name)
            )
            task = store.set_identity(record.id, task.name, principal.principal_id)
        return JSONResponse(_json(record, task))

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


async def _spec(
    body: dict[str, Any], caller: Caller, gate: Gate, *, check: bool = True
) -> TaskSpec:
    """The task as the body describes it, checked whole; raises a 4xx error."""
    file, cmd = text(body, "file"), text(body, "cmd")
    if (file is None) == (cmd is None):
        raise InvalidArgumentError("give a task file (--file) or a command (--cmd), not both")
    values = _mapping(body, "values")
    secrets = {k: str(v) for k, v in _mapping(body, "secretValues").items()}
    MASKER.add_many(secrets.values())
    source = text(body, "fileName", limit=255) or ("acb.yaml" if file is not None else "cmd")
    definition = file if file is not None else _cmd_task(cmd or "")
    try:
        validate(definition, source=source, values={**values, **secrets} or None)
    except TaskFileError as exc:
        raise InvalidArgumentError(str(exc), "InvalidTaskFile") from None
    # A relative path means nothing to the server: the CLI sends absolute ones.
    context = parse_context(text(body, "context") or "/dev/null")
    token = text(body, "gitAccessToken")
    if token:
        MASKER.add(token)
    on_this_machine = context.kind is ContextKind.LOCAL or (
        context.kind is ContextKind.GIT
        and not (context.is_http or context.location.startswith("git://"))
    )
    if on_this_machine:
        gate.require(caller, _LOCAL_CONTEXTS, roles.SERVER_SCOPE)
    if check:
        # git ls-remote or a HEAD request, bounded: off the event loop. The server's own
        # state folder is never a context.
        await asyncio.to_thread(
            lambda: check_reachable(context, token, protected=(gate.services.home,))
        )
    timeout = whole_number(body, "timeout")
    return TaskSpec(
        kind="file" if file is not None else "cmd",
        definition=definition,
        context=str(context),
        file_name=source if file is not None else None,
        values=values,
        secrets=secrets,
        git_token=token,
        platform=text(body, "platform") or "linux",
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        status=text(body, "status") or ENABLED,
    )


def _cmd_task(cmd: str) -> str:
    """``az acr task create --cmd``: a one-step task running the command."""
    if "\n" in cmd or not cmd.strip():
        raise InvalidArgumentError("--cmd is one command line")
    escaped = cmd.replace("\\", "\\\\").replace('"', '\\"')
    return f'version: v1.1.0\nsteps:\n  - cmd: "{escaped}"\n'


def _mapping(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidArgumentError(f"{key!r} must be an object of names to values")
    return value


def _json(record: RegistryRecord, task: Task) -> dict[str, Any]:
    """The shape of ``az acr task show`` (values shown, secret values only by name)."""
    registry_id = str(record.to_json()["id"])
    step: dict[str, Any] = {
        "type": "FileTask" if task.kind == "file" else "EncodedTask",
        "contextPath": task.context,
        "values": [{"name": k, "value": v, "isSecret": False} for k, v in task.values.items()]
        + [{"name": k, "isSecret": True} for k in task.secret_names],
    }
    if task.kind == "file":
        step["taskFilePath"] = task.file_name
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
    }
