"""Signing in and the directory: ``airlock login|logout|account show``, ``airlock ad user|sp``
and ``airlock monitor activity-log list``.

``POST /api/login`` is the only REST call that needs no session: it takes a user's name and
password or a service principal's appId and secret and answers with a session token (shown
once). Failed attempts are slowed down, then refused for a while, per source address and per
name; an unknown name costs the same time as a wrong password; no answer or log line quotes
the name or the secret.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.auth.throttle import SignInThrottle, ThrottledError, fingerprint
from airlock.errors import InvalidArgumentError, TooManyRequestsError, UnauthenticatedError
from airlock.identity.accounts import USER, Account
from airlock.identity.principals import OWNER, SERVICE_PRINCIPAL, TENANT
from airlock.server.authz import PUBLIC, SIGNED_IN, Caller, Gate, GuardedRoute, Rule
from airlock.server.routes.common import integer, json_body, only, required_text, text
from airlock.server.services import Services
from airlock.vault.masking import MASKER

log = logging.getLogger("airlock.api")

_USERS = "Airlock.Directory/users"
_SPS = "Airlock.Directory/servicePrincipals"
_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
ACTIVITY_READ = "Microsoft.Insights/eventtypes/values/read"


def _days(body: dict[str, Any]) -> int | None:
    value = body.get("years")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise InvalidArgumentError("'years' must be a whole number from 1 to 10")
    return value * 365


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    return [
        # One throttle for both planes: guesses against a registry and against the API add up.
        *_session_routes(services, gate, services.auth.throttle),
        *_user_routes(services, gate),
        *_sp_routes(services, gate),
        *_activity_routes(services, gate),
    ]


def _session_routes(services: Services, gate: Gate, throttle: SignInThrottle) -> list[GuardedRoute]:
    identities = services.identities

    async def login(request: Request) -> Response:
        body = await json_body(request)
        only(body, "username", "password", "appId", "secret")
        if "appId" in body:
            kind, name, secret = (
                SERVICE_PRINCIPAL,
                required_text(body, "appId", limit=256),
                required_text(body, "secret", limit=256),
            )
        else:
            kind, name, secret = (
                USER,
                required_text(body, "username", limit=256),
                required_text(body, "password", limit=256),
            )
        source = request.client.host if request.client else ""
        try:
            wait = throttle.check(source, name)
        except ThrottledError as exc:
            raise TooManyRequestsError(exc.message, exc.retry_after) from None
        if wait:
            await asyncio.sleep(wait)
        # argon2 takes ~20 ms and releases the GIL: off the event loop.
        account = await asyncio.to_thread(identities.accounts.verify, kind, name, secret)
        if account is None:
            throttle.failed(source, name)
            log.warning("sign-in refused for %s from %s", fingerprint(name), source)
            raise UnauthenticatedError(
                "invalid user name or password"
                if kind == USER
                else "invalid service principal appId or secret",
                "InvalidCredentials",
            )
        throttle.succeeded(source, name)
        session, token = identities.sessions.open(account.principal_id, source=source)
        # The activity log names who signed in (a refused attempt stays anonymous: its
        # name may be a password typed in the wrong field).
        request.state.caller = Caller(
            account.principal_id, session.principal_name, account.kind, session.id
        )
        return JSONResponse(
            {
                "accessToken": token,
                "tokenType": "Bearer",
                "expiresOn": session.expires_at,
                "user": _user_json(account),
            }
        )

    async def logout(request: Request) -> Response:
        caller: Caller = request.state.caller
        if caller.kind == OWNER:
            # The owner has no password to sign in again with: its local session stays.
            raise InvalidArgumentError(
                "the owner's local session is not signed out; to replace it, delete "
                "owner-credentials.json in the server's state folder and restart the server",
                "OwnerSession",
            )
        identities.sessions.revoke(caller.session_id)
        return Response(status_code=204)

    async def account(request: Request) -> Response:
        caller: Caller = request.state.caller
        held = identities.roles.all(assignee=caller.principal_id)
        return JSONResponse(
            {
                "user": {"name": caller.name, "type": caller.kind, "id": caller.principal_id},
                "tenantId": TENANT,
                "id": "local",
                "name": "Airlock",
                "isDefault": True,
                "state": "Enabled",
                "roleAssignments": [{"role": a.role, "scope": a.scope} for a in held],
            }
        )

    return [
        gate.route("/api/login", login, ["POST"], PUBLIC),
        gate.route("/api/logout", logout, ["POST"], SIGNED_IN),
        gate.route("/api/account", account, ["GET"], SIGNED_IN),
    ]


def _user_json(account: Account) -> dict[str, Any]:
    kind = {SERVICE_PRINCIPAL: "servicePrincipal"}.get(account.kind, "user")
    name = account.app_id if account.kind == SERVICE_PRINCIPAL else account.name
    return {"name": name, "type": kind, "id": account.principal_id}


def _user_routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    accounts = services.identities.accounts

    async def create(request: Request) -> Response:
        body = await json_body(request)
        only(body, "userPrincipalName", "displayName", "password")
        name = required_text(body, "userPrincipalName", limit=255)
        MASKER.add(required_text(body, "password", limit=256))
        made = accounts.create_user(
            name,
            text(body, "displayName", limit=120) or name,
            required_text(body, "password", limit=256),
        )
        return JSONResponse(made.to_json(), status_code=201)

    async def list_all(_: Request) -> Response:
        return JSONResponse([a.to_json() for a in accounts.users()])

    async def show(request: Request) -> Response:
        return JSONResponse(accounts.user(request.path_params["id"]).to_json())

    async def delete(request: Request) -> Response:
        accounts.delete_user(request.path_params["id"])
        return Response(status_code=204)

    return [
        gate.route("/api/ad/users", create, ["POST"], Rule(f"{_USERS}/write")),
        gate.route("/api/ad/users", list_all, ["GET"], Rule(f"{_USERS}/read")),
        gate.route("/api/ad/users/{id}", show, ["GET"], Rule(f"{_USERS}/read")),
        gate.route("/api/ad/users/{id}", delete, ["DELETE"], Rule(f"{_USERS}/delete")),
    ]


def _sp_routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    accounts = services.identities.accounts
    assignments = services.identities.roles

    async def create_for_rbac(request: Request) -> Response:
        body = await json_body(request)
        only(body, "name", "role", "scopes", "years")
        role, scopes = body.get("role"), body.get("scopes") or []
        if role is not None and not isinstance(role, str):
            raise InvalidArgumentError("'role' must be a role name")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise InvalidArgumentError("'scopes' must be a list of resource ids")
        if role is None and scopes:
            raise InvalidArgumentError("--scopes needs --role")
        if role is not None and not scopes:
            raise InvalidArgumentError("--role needs --scopes: the resource ids to grant it at")
        caller: Caller = request.state.caller
        for scope in scopes:
            # Granting the role is a role assignment like any other: check it first, so
            # that a refused grant leaves no service principal behind.
            gate.require(caller, f"{_ASSIGNMENTS}/write", roles.normalise_scope(scope))
        account, secret = accounts.create_service_principal(
            required_text(body, "name", limit=256), _days(body)
        )
        MASKER.add(secret)
        for scope in scopes:
            assignments.create(account.principal_id, str(role), scope)
        return JSONResponse(
            {
                "appId": account.app_id,
                "displayName": account.name,
                "password": secret,
                "tenant": TENANT,
            },
            status_code=201,
        )

    async def list_all(_: Request) -> Response:
        return JSONResponse([a.to_json() for a in accounts.service_principals()])

    async def show(request: Request) -> Response:
        return JSONResponse(accounts.service_principal(request.path_params["id"]).to_json())

    async def delete(request: Request) -> Response:
        accounts.delete_service_principal(request.path_params["id"])
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        body = await json_body(request)
        only(body, "years")
        account, secret = accounts.reset_credential(request.path_params["id"], _days(body))
        MASKER.add(secret)
        return JSONResponse({"appId": account.app_id, "password": secret, "tenant": TENANT})

    path = "/api/ad/sps/{id}"
    return [
        gate.route("/api/ad/sps", create_for_rbac, ["POST"], Rule(f"{_SPS}/write")),
        gate.route("/api/ad/sps", list_all, ["GET"], Rule(f"{_SPS}/read")),
        gate.route(path, show, ["GET"], Rule(f"{_SPS}/read")),
        gate.route(path, delete, ["DELETE"], Rule(f"{_SPS}/delete")),
        gate.route(f"{path}/credentials", reset, ["POST"], Rule(f"{_SPS}/credentials/write")),
    ]


def _activity_routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    activity = services.identities.activity

    async def list_entries(request: Request) -> Response:
        query = request.query_params
        found = activity.entries(
            caller=query.get("caller"),
            start_time=query.get("startTime"),
            limit=integer(query.get("limit"), "limit", 1000),
        )
        return JSONResponse([e.to_json() for e in found])

    return [
        gate.route("/api/activity-log", list_entries, ["GET"], Rule(ACTIVITY_READ)),
    ]
