"""Registry identities: `airlock acr update|credential|scope-map|token|login`.

Secrets appear only in the answers that create them (token create, credential generate,
credential show/renew of the admin user, login-token); nothing here logs a body.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.auth.issuer import REFRESH_USERNAME, AuthenticationError
from airlock.auth.throttle import ThrottledError
from airlock.auth.webtokens import IssuedToken
from airlock.errors import (
    AirlockError,
    ForbiddenError,
    InvalidArgumentError,
    TooManyRequestsError,
)
from airlock.registry.registries import RegistryRecord
from airlock.server.authz import Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import boolean, json_body, only, text, whole_number
from airlock.server.services import Services
from airlock.vault.masking import MASKER

_REGISTRIES = "Microsoft.ContainerRegistry/registries"


class LoginRefusedError(AirlockError):
    status = 401
    default_code = "Unauthorized"


def _id(record: RegistryRecord) -> str:
    return str(record.to_json()["id"])


def _login_answer(record: RegistryRecord, issued: IssuedToken) -> Response:
    return JSONResponse(
        {
            "accessToken": issued.token,
            "loginServer": record.login_server,
            "username": REFRESH_USERNAME,
            "expiresIn": issued.expires_in,
        }
    )


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    auth = services.auth

    def registry(request: Request) -> RegistryRecord:
        return services.registries.get(request.path_params["name"])

    async def update_registry(request: Request) -> Response:
        body = await json_body(request)
        only(body, "anonymousPullEnabled", "adminUserEnabled")
        anonymous, admin = boolean(body, "anonymousPullEnabled"), boolean(body, "adminUserEnabled")
        record = services.registries.update(
            request.path_params["name"], anonymous_pull_enabled=anonymous, admin_user_enabled=admin
        )
        return JSONResponse(record.to_json())

    async def show_credentials(request: Request) -> Response:
        record = registry(request)
        return JSONResponse(auth.admin.credentials(record.id, record.name))

    async def renew_credentials(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, "name")
        name = text(body, "name")
        if name is None:
            raise InvalidArgumentError("'name' is required: password or password2")
        return JSONResponse(auth.admin.renew(record.id, record.name, name))

    async def list_maps(request: Request) -> Response:
        record = registry(request)
        return JSONResponse([m.to_json(_id(record)) for m in auth.scope_maps.all(record.id)])

    async def create_map(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, "name", "actions", "description")
        name = text(body, "name")
        if name is None:
            raise InvalidArgumentError("'name' is required")
        made = auth.scope_maps.create(
            record.id, name, body.get("actions"), text(body, "description") or ""
        )
        return JSONResponse(made.to_json(_id(record)), status_code=201)

    async def scope_map(request: Request) -> Response:
        record = registry(request)
        name = request.path_params["map"]
        if request.method == "DELETE":
            auth.scope_maps.delete(record.id, name)
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await json_body(request)
            only(body, "addActions", "removeActions", "description")
            found = auth.scope_maps.update(
                record.id,
                name,
                add=body.get("addActions"),
                remove=body.get("removeActions"),
                description=text(body, "description"),
            )
        else:
            found = auth.scope_maps.get(record.id, name)
        return JSONResponse(found.to_json(_id(record)))

    async def list_tokens(request: Request) -> Response:
        record = registry(request)
        return JSONResponse([t.to_json(_id(record)) for t in auth.tokens.all(record.id)])

    async def create_token(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, "name", "scopeMap", "actions", "status", "expirationInDays")
        name = text(body, "name")
        if name is None:
            raise InvalidArgumentError("'name' is required")
        token, values = auth.tokens.create(
            record.id,
            record.name,
            name,
            scope_map=text(body, "scopeMap"),
            actions=body.get("actions"),
            status=text(body, "status") or "enabled",
            expiry_days=whole_number(body, "expirationInDays"),
        )
        # Shown once, kept hashed: masked in this process's logs and errors from now on.
        MASKER.add_many(values.values())
        return JSONResponse(token.to_json(_id(record), values), status_code=201)

    async def token(request: Request) -> Response:
        record = registry(request)
        name = request.path_params["token"]
        if request.method == "DELETE":
            auth.tokens.delete(record.id, name)
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await json_body(request)
            only(body, "scopeMap", "status")
            found = auth.tokens.update(
                record.id, name, scope_map=text(body, "scopeMap"), status=text(body, "status")
            )
        else:
            found = auth.tokens.get(record.id, name)
        return JSONResponse(found.to_json(_id(record)))

    async def generate(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, "passwords", "expirationInDays")
        found, values = auth.tokens.generate(
            record.id,
            request.path_params["token"],
            body.get("passwords"),
            whole_number(body, "expirationInDays"),
        )
        MASKER.add_many(values.values())
        shown = found.to_json(_id(record), values)["credentials"]
        shown["passwords"] = [p for p in shown["passwords"] if "value" in p]
        return JSONResponse(shown)

    async def login_token(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, "username", "password")
        username, password = text(body, "username"), text(body, "password")
        realm = auth.realm(record.id, record.name, record.login_server)
        if username is None:
            # As 'az acr login': the signed-in principal's own rights, from its roles.
            try:
                issued = auth.token_service.issue_refresh_for_principal(
                    realm, request.state.caller.principal_id
                )
            except AuthenticationError as exc:
                raise ForbiddenError(str(exc), "NoRoleOnRegistry") from None
            return _login_answer(record, issued)
        source = request.client.host if request.client else ""
        try:
            identity = await auth.token_service.sign_in(realm, username, password or "", source)
        except ThrottledError as exc:
            raise TooManyRequestsError(exc.message, exc.retry_after) from None
        except AuthenticationError as exc:
            raise LoginRefusedError(str(exc)) from None
        return _login_answer(record, auth.token_service.issue_refresh(realm, identity))

    def rule(action: str) -> Rule:
        return Rule(f"{_REGISTRIES}/{action}", registry_scope(services))

    base = "/api/registries/{name}"
    return [
        gate.route(base, update_registry, ["PATCH"], rule("write")),
        gate.route(
            f"{base}/credentials", show_credentials, ["GET"], rule("listCredentials/action")
        ),
        gate.route(
            f"{base}/credentials/renew",
            renew_credentials,
            ["POST"],
            rule("regenerateCredential/action"),
        ),
        gate.route(f"{base}/scope-maps", list_maps, ["GET"], rule("scopeMaps/read")),
        gate.route(f"{base}/scope-maps", create_map, ["POST"], rule("scopeMaps/write")),
        gate.route(f"{base}/scope-maps/{{map}}", scope_map, ["GET"], rule("scopeMaps/read")),
        gate.route(f"{base}/scope-maps/{{map}}", scope_map, ["PATCH"], rule("scopeMaps/write")),
        gate.route(f"{base}/scope-maps/{{map}}", scope_map, ["DELETE"], rule("scopeMaps/delete")),
        gate.route(f"{base}/tokens", list_tokens, ["GET"], rule("tokens/read")),
        gate.route(f"{base}/tokens", create_token, ["POST"], rule("tokens/write")),
        gate.route(f"{base}/tokens/{{token}}", token, ["GET"], rule("tokens/read")),
        gate.route(f"{base}/tokens/{{token}}", token, ["PATCH"], rule("tokens/write")),
        gate.route(f"{base}/tokens/{{token}}", token, ["DELETE"], rule("tokens/delete")),
        gate.route(
            f"{base}/tokens/{{token}}/credentials",
            generate,
            ["POST"],
            rule("generateCredentials/action"),
        ),
        # The token's rights come from the caller's roles (or the token's scope map); asking
        # at all takes pull there, so that nobody without a role learns which registries exist.
        gate.route(
            f"{base}/login-token", login_token, ["POST"], Rule(roles.PULL, registry_scope(services))
        ),
    ]
