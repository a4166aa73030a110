"""Repository, tag and manifest attributes (locks): `airlock acr repository show|update`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.server.authz import Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import json_body, required
from airlock.server.services import Services


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    async def show(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        view = services.repositories.show(
            registry, required(request, "repository"), request.query_params.get("reference")
        )
        return JSONResponse(view)

    async def update(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        view = services.repositories.update(
            registry,
            required(request, "repository"),
            request.query_params.get("reference"),
            await json_body(request),
        )
        return JSONResponse(view)

    in_path = registry_scope(services)
    return [
        gate.route("/api/registries/{name}/repository", show, ["GET"], Rule(roles.PULL, in_path)),
        gate.route(
            "/api/registries/{name}/attributes",
            update,
            ["PATCH"],
            Rule(roles.METADATA_WRITE, in_path),
        ),
    ]
