"""Key vaults, their secrets and access policies: ``airlock keyvault``.

Request bodies (which carry secret values) are never logged; the access log has paths and
query keys only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airlock.errors import InvalidArgumentError
from airlock.server.routes.common import json_body
from airlock.server.services import Services


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{key!r} is required and must be a string")
    return value


def routes(services: Services) -> list[Route]:
    kv = services.vault

    async def create_vault(request: Request) -> Response:
        body = await json_body(request)
        record = kv.vaults.create(
            name=_text(body, "name", required=True) or "",
            resource_group=_text(body, "resourceGroup") or "default",
            location=_text(body, "location") or "local",
        )
        return JSONResponse(kv.policies.to_json(record), status_code=201)

    async def list_vaults(request: Request) -> Response:
        group = request.query_params.get("resourceGroup")
        return JSONResponse([kv.policies.to_json(v) for v in kv.vaults.all(group)])

    async def show_vault(request: Request) -> Response:
        return JSONResponse(kv.policies.to_json(kv.vaults.get(request.path_params["vault"])))

    async def delete_vault(request: Request) -> Response:
        kv.vaults.delete(request.path_params["vault"])
        return Response(status_code=204)

    async def set_policy(request: Request) -> Response:
        body = await json_body(request)
        permissions = body.get("secretPermissions")
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise InvalidArgumentError("'secretPermissions' must be a list of permission names")
        params = request.path_params
        record = kv.policies.set_policy(params["vault"], params["objectId"], permissions)
        return JSONResponse(kv.policies.to_json(record))

    async def delete_policy(request: Request) -> Response:
        params = request.path_params
        record = kv.policies.delete_policy(params["vault"], params["objectId"])
        return JSONResponse(kv.policies.to_json(record))

    async def set_secret(request: Request) -> Response:
        body = await json_body(request)
        value = _text(body, "value", required=True) or ""
        params = request.path_params
        version = kv.secrets.set(params["vault"], params["name"], value, _text(body, "contentType"))
        return JSONResponse(version.to_json(value))

    async def list_secrets(request: Request) -> Response:
        found = kv.secrets.all(request.path_params["vault"])
        return JSONResponse([s.to_json(with_version=False) for s in found])

    async def show_secret(request: Request) -> Response:
        params = request.path_params
        version, value = kv.secrets.show(params["vault"], params["name"], params.get("version"))
        return JSONResponse(version.to_json(value))

    async def list_versions(request: Request) -> Response:
        params = request.path_params
        return JSONResponse(
            [s.to_json() for s in kv.secrets.versions(params["vault"], params["name"])]
        )

    async def delete_secret(request: Request) -> Response:
        params = request.path_params
        return JSONResponse(kv.secrets.delete(params["vault"], params["name"]).to_json())

    base = "/api/vaults/{vault}"
    return [
        Route("/api/vaults", create_vault, methods=["POST"]),
        Route("/api/vaults", list_vaults, methods=["GET"]),
        Route(base, show_vault, methods=["GET"]),
        Route(base, delete_vault, methods=["DELETE"]),
        Route(base + "/policies/{objectId}", set_policy, methods=["PUT"]),
        Route(base + "/policies/{objectId}", delete_policy, methods=["DELETE"]),
        Route(base + "/secrets", list_secrets, methods=["GET"]),
        Route(base + "/secrets/{name}", set_secret, methods=["PUT"]),
        Route(base + "/secrets/{name}", show_secret, methods=["GET"]),
        Route(base + "/secrets/{name}", delete_secret, methods=["DELETE"]),
        Route(base + "/secrets/{name}/versions", list_versions, methods=["GET"]),
        Route(base + "/secrets/{name}/versions/{version}", show_secret, methods=["GET"]),
    ]
