"""Key vaults, their secrets and access policies: ``airlock keyvault``.

Request bodies (which carry secret values) are never logged; the access log has paths and
query keys only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import InvalidArgumentError
from airlock.identity.groups import check_group_name
from airlock.server.authz import Gate, GuardedRoute, Rule, group_in_body, vault_scope
from airlock.server.routes.common import json_body, required_text, text
from airlock.server.services import Services

_VAULTS = "Microsoft.KeyVault/vaults"
_SECRETS = "Microsoft.KeyVault/vaults/secrets"
# What 'az keyvault create' gives its creator under the access-policy model.
_CREATOR_PERMISSIONS = ["get", "list", "set", "delete"]


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    kv = services.vault

    async def create_vault(request: Request) -> Response:
        body = await json_body(request)
        group = text(body, "resourceGroup") or "default"
        check_group_name(group)
        record = kv.vaults.create(
            name=required_text(body, "name"),
            resource_group=group,
            location=text(body, "location") or "local",
        )
        services.identities.groups.ensure(record.resource_group)
        caller = request.state.caller
        scope = roles.vault_scope(record.resource_group, record.name)
        if not gate.allowed(caller, f"{_SECRETS}/setSecret/action", scope, data=True):
            # As Azure: the creator of a vault gets an access policy to its secrets.
            record = kv.policies.set_policy(record.name, caller.principal_id, _CREATOR_PERMISSIONS)
        request.state.created = scope
        return JSONResponse(kv.policies.to_json(record), status_code=201)

    async def list_vaults(request: Request) -> Response:
        group = request.query_params.get("resourceGroup")
        caller = request.state.caller
        visible = [
            v
            for v in kv.vaults.all(group)
            if gate.allowed(caller, f"{_VAULTS}/read", roles.vault_scope(v.resource_group, v.name))
        ]
        return JSONResponse([kv.policies.to_json(v) for v in visible])

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
        value = required_text(body, "value", allow_empty=True)
        params = request.path_params
        version = kv.secrets.set(params["vault"], params["name"], value, text(body, "contentType"))
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

    in_path = vault_scope(services)

    def manage(action: str) -> Rule:
        return Rule(f"{_VAULTS}/{action}", in_path)

    def secrets(action: str, policy: str, audit_reads: bool = False) -> Rule:
        return Rule(
            f"{_SECRETS}/{action}", in_path, data=True, policy=policy, audit_reads=audit_reads
        )

    base = "/api/vaults/{vault}"
    metadata = secrets("readMetadata/action", "list")
    value = secrets("getSecret/action", "get", audit_reads=True)
    return [
        gate.route(
            "/api/vaults", create_vault, ["POST"], Rule(f"{_VAULTS}/write", group_in_body())
        ),
        gate.route("/api/vaults", list_vaults, ["GET"], Rule(f"{_VAULTS}/read", filtered=True)),
        gate.route(base, show_vault, ["GET"], manage("read")),
        gate.route(base, delete_vault, ["DELETE"], manage("delete")),
        gate.route(
            base + "/policies/{objectId}", set_policy, ["PUT"], manage("accessPolicies/write")
        ),
        gate.route(
            base + "/policies/{objectId}", delete_policy, ["DELETE"], manage("accessPolicies/write")
        ),
        gate.route(base + "/secrets", list_secrets, ["GET"], metadata),
        gate.route(
            base + "/secrets/{name}", set_secret, ["PUT"], secrets("setSecret/action", "set")
        ),
        gate.route(base + "/secrets/{name}", show_secret, ["GET"], value),
        gate.route(
            base + "/secrets/{name}", delete_secret, ["DELETE"], secrets("delete", "delete")
        ),
        gate.route(base + "/secrets/{name}/versions", list_versions, ["GET"], metadata),
        gate.route(base + "/secrets/{name}/versions/{version}", show_secret, ["GET"], value),
    ]
