"""The REST API the CLI talks to (see docs/rest-api.md)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airlock import __version__
from airlock.errors import AirlockError, InvalidArgumentError
from airlock.registry.events import list_events
from airlock.server.listeners import RegistryListeners
from airlock.server.services import Services

log = logging.getLogger("airlock.api")


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, not {value!r}") from None


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise InvalidArgumentError(f"missing query parameter {name!r}")
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidArgumentError("request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidArgumentError("request body must be a JSON object")
    return body


def build_api(services: Services, listeners: RegistryListeners) -> Starlette:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def create_registry(request: Request) -> Response:
        body = await _json_body(request)
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
            repo = _required(request, "repository")
            return JSONResponse(services.repositories.delete_repository(registry, repo))
        return JSONResponse(services.repositories.names(registry))

    async def tags(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        found = services.repositories.tags(
            registry,
            _required(request, "repository"),
            detail=_bool(request.query_params.get("detail")),
            orderby=request.query_params.get("orderby"),
        )
        return JSONResponse(found)

    async def manifests(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        found = services.repositories.manifests(
            registry,
            _required(request, "repository"),
            detail=_bool(request.query_params.get("detail")),
            orderby=request.query_params.get("orderby"),
        )
        return JSONResponse(found)

    async def delete_image(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        result = services.repositories.delete_image(
            registry, _required(request, "repository"), _required(request, "reference")
        )
        return JSONResponse(result)

    async def events(request: Request) -> Response:
        registry = services.registries.get(request.path_params["name"])
        since = _int(request.query_params.get("since"), "since", 0)
        limit = min(max(_int(request.query_params.get("limit"), "limit", 100), 1), 1000)
        with services.engine.connect() as conn:
            found = list_events(conn, registry=registry.name, since=since, limit=limit)
        return JSONResponse([e.to_json() for e in found])

    routes = [
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
    return Starlette(
        routes=routes,
        exception_handlers={
            AirlockError: _airlock_error,
            Exception: _unexpected_error,
        },
    )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _airlock_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AirlockError)
    return _error(exc.status, exc.code, exc.message)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex[:12]
    log.error("request %s %s %s failed", request_id, request.method, request.url.path, exc_info=exc)
    return _error(500, "InternalError", f"internal error; the server log has request {request_id}")
