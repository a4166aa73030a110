"""Repository, tag and manifest attributes (locks): `airlock acr repository show|update`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airlock.server.routes.common import json_body, required
from airlock.server.services import Services


def routes(services: Services) -> list[Route]:
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

    return [
        Route("/api/registries/{name}/repository", show, methods=["GET"]),
        Route("/api/registries/{name}/attributes", update, methods=["PATCH"]),
    ]
