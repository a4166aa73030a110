"""The REST API the CLI talks to (see docs/rest-api.md)."""

from __future__ import annotations

import logging
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.errors import AirlockError, TooManyRequestsError
from airlock.server.apigate import ApiGate
from airlock.server.authz import Gate, GuardedRoute
from airlock.server.listeners import RegistryListeners
from airlock.server.routes import (
    accounts,
    auth,
    identity,
    imports,
    instances,
    registries,
    repositories,
    runs,
    task_credentials,
    task_timers,
    tasks,
    vault,
    webhooks,
    workers,
)
from airlock.server.services import Services
from airlock.vault.masking import MASKER

log = logging.getLogger("airlock.api")


def build_api(services: Services, listeners: RegistryListeners) -> ApiGate:
    gate = Gate(services)
    # Only GuardedRoute: every endpoint is declared with the rule that signs it in and
    # checks its role (airlock.server.authz); the route-table test walks this list.
    routes: list[GuardedRoute] = [
        *accounts.routes(services, gate),
        *registries.routes(services, gate, listeners),
        *repositories.routes(services, gate),
        *vault.routes(services, gate),
        *identity.routes(services, gate, listeners),
        *auth.routes(services, gate),
        *imports.routes(services, gate),
        *tasks.routes(services, gate),
        *runs.routes(services, gate),
        *workers.routes(services, gate),
        *task_credentials.routes(services, gate),
        *task_timers.routes(services, gate),
        *webhooks.routes(services, gate),
        *instances.routes(services, gate),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            AirlockError: _airlock_error,
            Exception: _unexpected_error,
        },
    )
    # Host, content-type and CORS checks before any route or sign-in (airlock.server.apigate).
    return ApiGate(app)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _airlock_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AirlockError)
    # A message may quote user input that happens to be a secret value.
    response = _error(exc.status, exc.code, MASKER.mask(exc.message))
    if exc.status == 401:
        response.headers["www-authenticate"] = 'Bearer realm="airlock"'
    if isinstance(exc, TooManyRequestsError):
        response.headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return response


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex[:12]
    log.error("request %s %s %s failed", request_id, request.method, request.url.path, exc_info=exc)
    return _error(500, "InternalError", f"internal error; the server log has request {request_id}")
