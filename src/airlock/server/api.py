"""The REST API the CLI talks to (see docs/rest-api.md)."""

from __future__ import annotations

import logging
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.errors import AirlockError
from airlock.server.listeners import RegistryListeners
from airlock.server.routes import auth, identity, imports, registries, repositories, vault
from airlock.server.services import Services
from airlock.vault.masking import MASKER

log = logging.getLogger("airlock.api")


def build_api(services: Services, listeners: RegistryListeners) -> Starlette:
    routes = [
        *registries.routes(services, listeners),
        *repositories.routes(services),
        *vault.routes(services),
        *identity.routes(services, listeners),
        *auth.routes(services),
        *imports.routes(services),
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
    # A message may quote user input that happens to be a secret value.
    return _error(exc.status, exc.code, MASKER.mask(exc.message))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex[:12]
    log.error("request %s %s %s failed", request_id, request.method, request.url.path, exc_info=exc)
    return _error(500, "InternalError", f"internal error; the server log has request {request_id}")
