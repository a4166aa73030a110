"""Registries and their repositories: `airlock acr` and `airlock acr repository`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock import __version__
from airlock.auth import roles
from airlock.errors import InvalidArgumentError
from airlock.identity.groups import check_group_name
from airlock.registry.events import list_events
from airlock.server.authz import PUBLIC, Gate, GuardedRoute, Rule, group_in_body, registry_scope
from airlock.server.listeners import RegistryListeners
from airlock.server.routes.common import flag, integer, json_body, required
from airlock.server.services import Services

REGISTRY_READ = "Microsoft.ContainerRegistry/registries/read"
REGISTRY_WRITE = "Microsoft.ContainerRegistry/registries/write"
REGISTRY_DELETE = "Microsoft.ContainerRegistry/registries/delete"


def routes(services: Services, gate: Gate, listeners: RegistryListeners) -> list[GuardedRoute]:
    in_path = registry_scope(services)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def create_registry(request: Request) -> Response:
        body = await json_body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidArgumentError("'name' is required")
        port = body.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise InvalidArgumentError("'port' must be a whole number from 1024 to 65535")
        group = str(body.get("resourceGroup") or "default")
        check_group_name(group)
        record = await listeners.create(
            name=name,
            port=port,
            resource_group=group,
            location=str(body.get("location") or "local"),
            sku=str(body.get("sku") or "Standard"),
        )
        # Recorded once the registry exists, so that bad input leaves no group behind.
        services.identities.groups.ensure(record.resource_group)
        document = record.to_json()
        request.state.created = document["id"]
        return JSONResponse(document, status_code=201)

    async def list_registries(request: Request) -> Response:
        group = request.query_params.get("resourceGroup")
        caller = request.state.caller
        visible = [
            r
            for r in services.registries.all(group)
            if gate.allowed(caller, REGISTRY_READ, roles.registry_scope(r.resource_group, r.name))
        ]
        return JSONResponse([r.to_json() for r in visible])

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

    read = Rule(REGISTRY_READ, in_path)
    pull = Rule(roles.PULL, in_path)
    erase = Rule(roles.DELETE_ARTIFACTS, in_path)
    base = "/api/registries/{name}"
    return [
        gate.route("/api/health", health, ["GET"], PUBLIC),
        gate.route(
            "/api/registries", create_registry, ["POST"], Rule(REGISTRY_WRITE, group_in_body())
        ),
        gate.route("/api/registries", list_registries, ["GET"], Rule(REGISTRY_READ, filtered=True)),
        gate.route(base, show_registry, ["GET"], read),
        gate.route(base, delete_registry, ["DELETE"], Rule(REGISTRY_DELETE, in_path)),
        gate.route(f"{base}/repositories", repositories, ["GET"], pull),
        gate.route(f"{base}/repositories", repositories, ["DELETE"], erase),
        gate.route(f"{base}/tags", tags, ["GET"], pull),
        gate.route(f"{base}/manifests", manifests, ["GET"], pull),
        gate.route(f"{base}/images", delete_image, ["DELETE"], erase),
        gate.route(f"{base}/events", events, ["GET"], read),
    ]
