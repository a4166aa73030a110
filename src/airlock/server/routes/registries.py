"""Registries and their repositories: `airlock acr` and `airlock acr repository`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airlock import __version__
from airlock.errors import InvalidArgumentError
from airlock.registry.events import list_events
from airlock.server.listeners import RegistryListeners
from airlock.server.routes.common import flag, integer, json_body, required
from airlock.server.services import Services


def routes(services: Services, listeners: RegistryListeners) -> list[Route]:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def create_registry(request: Request) -> Response:
        body = await json_body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidArgumentError("'name' is required")
        port = body.get("port")
        if port is not None and not isinstance(port, int):
            raise InvalidArgumentError("'port' must be an integer")
        record = await listeners.create(
            name=name,
            port=port,
            resource_group=str(body.get("resourceGroup") or "default"),
            location=str(body.get("location") or "local"),
            sku=str(body.get("sku") or "Standard"),
        )
        return JSONResponse(record.to_json(), status_code=201)

    async def list_registries(request: Request) -> Response:
        group = request.query_params.get("resourceGroup")
        return JSONResponse([r.to_json() for r in services.registries.all(group)])

    async def show_registry(request: Request) -> Response:
        return JSONResponse(services.registries.get(request.path_params["name"]).to_json())

    async def delete_registry(request: Request) -> Response:
        await listeners.delete(request.path_params["name"])
        return Response(status_code=204)

    async def repositories(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        if request.method == "DELETE":
            repo = required(request, "repository")
            return JSONResponse(services.repositories.delete_repository(registry, repo))
        return JSONResponse(services.repositories.names(registry))

    async def tags(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        found = services.repositories.tags(
            registry,
            required(request, "repository"),
            detail=flag(request.query_params.get("detail")),
            orderby=request.query_params.get("orderby"),
        )
        return JSONResponse(found)

    async def manifests(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        found = services.repositories.manifests(
            registry,
            required(request, "repository"),
            detail=flag(request.query_params.get("detail")),
            orderby=request.query_params.get("orderby"),
        )
        return JSONResponse(found)

    async def delete_image(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        result = services.repositories.delete_image(
            registry, required(request, "repository"), required(request, "reference")
        )
        return JSONResponse(result)

    async def events(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        since = integer(request.query_params.get("since"), "since", 0)
        limit = min(max(integer(request.query_params.get("limit"), "limit", 100), 1), 1000)
        with services.engine.connect() as conn:
            found = list_events(conn, registry=registry.name, since=since, limit=limit)
        return JSONResponse([e.to_json() for e in found])

    return [
        Route("/api/health", health),
        Route("/api/registries", create_registry, methods=["POST"]),
        Route("/api/registries", list_registries, methods=["GET"]),
        Route("/api/registries/{name}", show_registry, methods=["GET"]),
        Route("/api/registries/{name}", delete_registry, methods=["DELETE"]),
        Route("/api/registries/{name}/repositories", repositories, methods=["GET", "DELETE"]),
        Route("/api/registries/{name}/tags", tags),
        Route("/api/registries/{name}/manifests", manifests),
        Route("/api/registries/{name}/images", delete_image, methods=["DELETE"]),
        Route("/api/registries/{name}/events", events),
    ]
