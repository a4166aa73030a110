"""Identities, resource groups and role assignments: ``airlock identity|group|role``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import AirlockError
from airlock.identity.groups import check_group_name
from airlock.server.authz import (
    Gate,
    GuardedRoute,
    Rule,
    group_in_body,
    group_in_path,
    scope_in_body,
)
from airlock.server.listeners import RegistryListeners
from airlock.server.routes.common import json_body, required_text, text
from airlock.server.services import Services

_IDENTITIES = "Microsoft.ManagedIdentity/userAssignedIdentities"
_GROUPS = "Microsoft.Resources/subscriptions/resourceGroups"
_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"


def routes(services: Services, gate: Gate, listeners: RegistryListeners) -> list[GuardedRoute]:
    return [
        *_identity_routes(services, gate),
        *_group_routes(services, gate, listeners),
        *_role_routes(services, gate),
    ]


def _identity_routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    principals = services.identities.principals

    async def create(request: Request) -> Response:
        body = await json_body(request)
        group = required_text(body, "resourceGroup")
        check_group_name(group)
        record = principals.create(required_text(body, "name"), group)
        services.identities.groups.ensure(group)
        document = record.to_json()
        request.state.created = document["id"]
        return JSONResponse(document, status_code=201)

    async def list_all(request: Request) -> Response:
        group = request.query_params.get("resourceGroup")
        caller = request.state.caller
        visible = [
            p
            for p in principals.all(group)
            if gate.allowed(caller, f"{_IDENTITIES}/read", roles.group_scope(p.resource_group))
        ]
        return JSONResponse([p.to_json() for p in visible])

    async def show(request: Request) -> Response:
        params = request.path_params
        return JSONResponse(principals.get(params["group"], params["name"]).to_json())

    async def delete(request: Request) -> Response:
        params = request.path_params
        principals.delete(params["group"], params["name"])
        return Response(status_code=204)

    path = "/api/identities/{group}/{name}"
    in_body = group_in_body(default=None)
    return [
        gate.route("/api/identities", create, ["POST"], Rule(f"{_IDENTITIES}/write", in_body)),
        gate.route(
            "/api/identities", list_all, ["GET"], Rule(f"{_IDENTITIES}/read", filtered=True)
        ),
        gate.route(path, show, ["GET"], Rule(f"{_IDENTITIES}/read", group_in_path())),
        gate.route(path, delete, ["DELETE"], Rule(f"{_IDENTITIES}/delete", group_in_path())),
    ]


def _group_routes(
    services: Services, gate: Gate, listeners: RegistryListeners
) -> list[GuardedRoute]:
    groups = services.identities.groups

    async def create(request: Request) -> Response:
        body = await json_body(request)
        record, created = groups.create(
            required_text(body, "name"), text(body, "location") or "local"
        )
        return JSONResponse(record.to_json(), status_code=201 if created else 200)

    async def list_all(request: Request) -> Response:
        caller = request.state.caller
        visible = [g for g in groups.all() if gate.allowed(caller, f"{_GROUPS}/read", g.id)]
        return JSONResponse([g.to_json() for g in visible])

    async def show(request: Request) -> Response:
        return JSONResponse(groups.get(request.path_params["name"]).to_json())

    async def delete(request: Request) -> Response:
        # As 'az group delete': the group goes with everything in it.
        group = groups.get(request.path_params["name"])
        members = [
            r for r in services.registries.all() if r.resource_group.lower() == group.name.lower()
        ]
        # Locked content stops the whole delete before anything is gone.
        for registry in members:
            services.registries.check_removable(registry.name)
        deleted: dict[str, Any] = {"registries": [], "vaults": [], "identities": []}
        for registry in members:
            deleted["registries"].append((await listeners.delete(registry.name)).name)
        for vault in services.vault.vaults.all(group.name):
            deleted["vaults"].append(services.vault.vaults.delete(vault.name).name)
        for principal in services.identities.principals.all(group.name):
            services.identities.principals.delete(group.name, principal.name)
            deleted["identities"].append(principal.name)
        deleted["containerGroups"] = []
        for instance in services.instances.all(group.name):
            services.instances.remove(instance.id)
            services.instance_deployer.in_background(instance, services.instance_deployer.remove)
            deleted["containerGroups"].append(instance.name)
        deleted["roleAssignments"] = services.identities.roles.delete_under(group.id)
        groups.delete(group.name)
        return JSONResponse({"name": group.name, "deleted": deleted})

    path = "/api/groups/{name}"
    in_path = group_in_path("name")
    return [
        gate.route(
            "/api/groups", create, ["POST"], Rule(f"{_GROUPS}/write", group_in_body("name"))
        ),
        gate.route("/api/groups", list_all, ["GET"], Rule(f"{_GROUPS}/read", filtered=True)),
        gate.route(path, show, ["GET"], Rule(f"{_GROUPS}/read", in_path)),
        gate.route(path, delete, ["DELETE"], Rule(f"{_GROUPS}/delete", in_path)),
    ]


def _role_routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    assignments = services.identities.roles

    async def create(request: Request) -> Response:
        body = await json_body(request)
        record = assignments.create(
            required_text(body, "assignee"),
            required_text(body, "role"),
            required_text(body, "scope"),
        )
        return JSONResponse(record.to_json(), status_code=201)

    def _filters(request: Request) -> dict[str, str | None]:
        query = request.query_params
        return {key: query.get(key) for key in ("assignee", "role", "scope")}

    async def list_all(request: Request) -> Response:
        caller = request.state.caller
        visible = [
            a
            for a in assignments.all(**_filters(request))
            if gate.allowed(caller, f"{_ASSIGNMENTS}/read", a.scope)
        ]
        return JSONResponse([a.to_json() for a in visible])

    async def doomed(request: Request) -> str | None:
        """Where the first assignment the call would delete sits (each is checked again)."""
        try:
            found = assignments.matching(
                ids=request.query_params.getlist("id"), **_filters(request)
            )
        except AirlockError:
            return None  # nothing matches (or bad filters): decided at the top, then 4xx
        return found[0].scope

    async def delete(request: Request) -> Response:
        ids = request.query_params.getlist("id")
        caller = request.state.caller
        # The route checked the query's scope (or the server's); each assignment is checked
        # at its own scope as well.
        doomed = assignments.matching(ids=ids, **_filters(request))
        for assignment in doomed:
            gate.require(caller, f"{_ASSIGNMENTS}/delete", assignment.scope)
        removed = assignments.delete(ids=[a.id for a in doomed])
        return JSONResponse([a.to_json() for a in removed])

    return [
        gate.route(
            "/api/role-assignments",
            create,
            ["POST"],
            Rule(f"{_ASSIGNMENTS}/write", scope_in_body()),
        ),
        gate.route(
            "/api/role-assignments",
            list_all,
            ["GET"],
            Rule(f"{_ASSIGNMENTS}/read", filtered=True),
        ),
        gate.route(
            "/api/role-assignments", delete, ["DELETE"], Rule(f"{_ASSIGNMENTS}/delete", doomed)
        ),
    ]
