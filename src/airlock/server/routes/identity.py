"""Identities, resource groups and role assignments: ``airlock identity|group|role``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airlock.errors import InvalidArgumentError
from airlock.server.listeners import RegistryListeners
from airlock.server.routes.common import json_body
from airlock.server.services import Services


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise InvalidArgumentError(f"{key!r} is required and must be a string")
    return value


def routes(services: Services, listeners: RegistryListeners) -> list[Route]:
    return [
        *_identity_routes(services),
        *_group_routes(services, listeners),
        *_role_routes(services),
    ]


def _identity_routes(services: Services) -> list[Route]:
    principals = services.identities.principals

    async def create(request: Request) -> Response:
        body = await json_body(request)
        record = principals.create(
            _text(body, "name", required=True) or "",
            _text(body, "resourceGroup", required=True) or "",
        )
        return JSONResponse(record.to_json(), status_code=201)

    async def list_all(request: Request) -> Response:
        group = request.query_params.get("resourceGroup")
        return JSONResponse([p.to_json() for p in principals.all(group)])

    async def show(request: Request) -> Response:
        params = request.path_params
        return JSONResponse(principals.get(params["group"], params["name"]).to_json())

    async def delete(request: Request) -> Response:
        params = request.path_params
        principals.delete(params["group"], params["name"])
        return Response(status_code=204)

    path = "/api/identities/{group}/{name}"
    return [
        Route("/api/identities", create, methods=["POST"]),
        Route("/api/identities", list_all, methods=["GET"]),
        Route(path, show, methods=["GET"]),
        Route(path, delete, methods=["DELETE"]),
    ]


def _group_routes(services: Services, listeners: RegistryListeners) -> list[Route]:
    groups = services.identities.groups

    async def create(request: Request) -> Response:
        body = await json_body(request)
        record, created = groups.create(
            _text(body, "name", required=True) or "", _text(body, "location") or "local"
        )
        return JSONResponse(record.to_json(), status_code=201 if created else 200)

    async def list_all(_: Request) -> Response:
        return JSONResponse([g.to_json() for g in groups.all()])

    async def show(request: Request) -> Response:
        return JSONResponse(groups.get(request.path_params["name"]).to_json())

    async def delete(request: Request) -> Response:
        # As 'az group delete': the group goes with everything in it.
        group = groups.get(request.path_params["name"])
        deleted: dict[str, Any] = {"registries": [], "vaults": [], "identities": []}
        for registry in services.registries.all():
            if registry.resource_group.lower() == group.name.lower():
                deleted["registries"].append((await listeners.delete(registry.name)).name)
        for vault in services.vault.vaults.all(group.name):
            deleted["vaults"].append(services.vault.vaults.delete(vault.name).name)
        for principal in services.identities.principals.all(group.name):
            services.identities.principals.delete(group.name, principal.name)
            deleted["identities"].append(principal.name)
        deleted["roleAssignments"] = services.identities.roles.delete_under(group.id)
        groups.delete(group.name)
        return JSONResponse({"name": group.name, "deleted": deleted})

    path = "/api/groups/{name}"
    return [
        Route("/api/groups", create, methods=["POST"]),
        Route("/api/groups", list_all, methods=["GET"]),
        Route(path, show, methods=["GET"]),
        Route(path, delete, methods=["DELETE"]),
    ]


def _role_routes(services: Services) -> list[Route]:
    roles = services.identities.roles

    async def create(request: Request) -> Response:
        body = await json_body(request)
        record = roles.create(
            _text(body, "assignee", required=True) or "",
            _text(body, "role", required=True) or "",
            _text(body, "scope", required=True) or "",
        )
        return JSONResponse(record.to_json(), status_code=201)

    def _filters(request: Request) -> dict[str, str | None]:
        query = request.query_params
        return {key: query.get(key) for key in ("assignee", "role", "scope")}

    async def list_all(request: Request) -> Response:
        return JSONResponse([a.to_json() for a in roles.all(**_filters(request))])

    async def delete(request: Request) -> Response:
        ids = request.query_params.getlist("id")
        removed = roles.delete(ids=ids, **_filters(request))
        return JSONResponse([a.to_json() for a in removed])

    return [
        Route("/api/role-assignments", create, methods=["POST"]),
        Route("/api/role-assignments", list_all, methods=["GET"]),
        Route("/api/role-assignments", delete, methods=["DELETE"]),
    ]
