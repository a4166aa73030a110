"""A task's registry credentials and identity: ``acr task credential add|update|remove|list``
and ``acr task identity assign|show|remove`` (``az acr task`` shapes).

A credential tells the task's runs how to log in to another registry: a user name and a
password (each plain or a key vault secret URI the task's identity reads at run time), or the
task's identity itself (``--use-identity [system]``), which gets what its role assignments on
that registry allow. Passwords are never shown again (``list`` says whether one is set).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.errors import NotFoundError
from airlock.registry.registries import RegistryRecord
from airlock.runs.credentials import TaskCredential, check_login_server
from airlock.runs.tasks import Task
from airlock.server.authz import Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import json_body, only, required_text, text
from airlock.server.services import Services
from airlock.vault.masking import MASKER

_TASKS = "Microsoft.ContainerRegistry/registries/tasks"
_FIELDS = ("loginServer", "username", "password", "useIdentity")


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    store = services.credentials

    def task_of(request: Request) -> tuple[RegistryRecord, Task]:
        record = services.registries.get(request.path_params["name"])
        return record, services.tasks.get(record.id, request.path_params["task"])

    def listing(task: Task) -> JSONResponse:
        return JSONResponse({c.login_server: _credential_json(c) for c in store.list(task.id)})

    async def add(request: Request) -> Response:
        _, task = task_of(request)
        body = await json_body(request)
        only(body, *_FIELDS)
        password = text(body, "password")
        if password:
            MASKER.add(password)
        store.add(
            task.id,
            required_text(body, "loginServer", limit=255),
            username=text(body, "username"),
            password=password,
            use_identity=text(body, "useIdentity"),
        )
        response = listing(task)
        response.status_code = 201
        return response

    async def update(request: Request) -> Response:
        _, task = task_of(request)
        body = await json_body(request)
        only(body, *_FIELDS)
        server = check_login_server(unquote(request.path_params["server"]))
        current = next((m for m in store.for_run(task.id) if m.login_server == server), None)
        if current is None:
            raise NotFoundError(
                f"task {task.name!r} has no credential for {server}; add one with "
                "'airlock acr task credential add'",
                "TaskCredentialNotFound",
            )
        password = text(body, "password")
        if password:
            MASKER.add(password)
        store.update(
            task.id,
            server,
            username=text(body, "username") or current.username,
            password=password or current.password or current.password_ref,
            use_identity=text(body, "useIdentity") or current.use_identity,
        )
        return listing(task)

    async def remove(request: Request) -> Response:
        _, task = task_of(request)
        store.remove(task.id, check_login_server(unquote(request.path_params["server"])))
        return listing(task)

    async def list_credentials(request: Request) -> Response:
        _, task = task_of(request)
        return listing(task)

    async def assign_identity(request: Request) -> Response:
        record, task = task_of(request)
        only(await json_body(request))
        principal = services.identities.principals.ensure_system_identity(
            "task", f"{record.name}/{task.name}"
        )
        if task.identity != principal.principal_id:
            task = services.tasks.set_identity(record.id, task.name, principal.principal_id)
        return JSONResponse(_identity_json(task))

    async def show_identity(request: Request) -> Response:
        _, task = task_of(request)
        if task.identity is None:
            raise NotFoundError(
                f"task {task.name!r} has no identity; assign one with "
                "'airlock acr task identity assign'",
                "IdentityNotFound",
            )
        return JSONResponse(_identity_json(task))

    async def remove_identity(request: Request) -> Response:
        record, task = task_of(request)
        services.tasks.set_identity(record.id, task.name, None)
        services.identities.principals.remove_system_identity("task", f"{record.name}/{task.name}")
        return Response(status_code=204)

    in_path = registry_scope(services)
    base = "/api/registries/{name}/tasks/{task}"
    write = Rule(f"{_TASKS}/write", in_path)
    return [
        gate.route(base + "/credentials", add, ["POST"], write),
        gate.route(
            base + "/credentials",
            list_credentials,
            ["GET"],
            Rule(f"{_TASKS}/listDetails/action", in_path),
        ),
        gate.route(base + "/credentials/{server}", update, ["PATCH"], write),
        gate.route(base + "/credentials/{server}", remove, ["DELETE"], write),
        gate.route(base + "/identity", assign_identity, ["POST"], write),
        gate.route(base + "/identity", show_identity, ["GET"], Rule(f"{_TASKS}/read", in_path)),
        gate.route(base + "/identity", remove_identity, ["DELETE"], write),
    ]


def _credential_json(credential: TaskCredential) -> dict[str, Any]:
    """As ``az acr task credential list`` shows one (never the password)."""
    return {
        "username": credential.username,
        "passwordSet": credential.password_set,
        "password": credential.password_ref,  # a secret URI, never a password
        "identity": credential.use_identity,
    }


def _identity_json(task: Task) -> dict[str, Any]:
    return {"principalId": task.identity, "tenantId": "local", "type": "SystemAssigned"}
