"""Imports: ``airlock acr import`` (see docs/import.md).

``POST /api/registries/{name}/imports`` checks the request, starts a job and answers 202 with
it; with ``?wait=true`` it answers when the job is done: 200 with the job, or the job's
error. ``GET /api/imports/{id}`` reports a job. A password is read from the body and never
written back, logged or quoted in an error.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import NotFoundError
from airlock.importer.service import ImportRequest
from airlock.registry.registries import RegistryRecord
from airlock.server.authz import Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import boolean, flag, json_body, required_text, strings, text
from airlock.server.services import Services

IMPORT = "Microsoft.ContainerRegistry/registries/importImage/action"


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    async def job_scope(request: Request) -> str | None:
        job = services.importer.get(request.path_params["id"])
        if job is None:
            return None
        try:
            record = services.registries.get(job.registry)
        except NotFoundError:
            return None
        return roles.registry_scope(record.resource_group, record.name)

    async def start(request: Request) -> Response:
        body = await json_body(request)
        caller = request.state.caller

        def may_read(source: RegistryRecord) -> None:
            gate.require(
                caller, roles.PULL, roles.registry_scope(source.resource_group, source.name)
            )

        job = await services.importer.submit(
            request.path_params["name"], import_request(body), may_read
        )
        if not flag(request.query_params.get("wait")):
            return JSONResponse(job.to_json(), status_code=202)
        await job.wait()
        if job.error is not None:
            raise job.error
        return JSONResponse(job.to_json())

    async def show(request: Request) -> Response:
        job = services.importer.get(request.path_params["id"])
        if job is None:
            raise NotFoundError(
                f"import job {request.path_params['id'][:64]!r} not found; jobs are kept in "
                "memory and a server restart forgets them",
                "ImportNotFound",
            )
        return JSONResponse(job.to_json())

    return [
        gate.route(
            "/api/registries/{name}/imports",
            start,
            ["POST"],
            Rule(IMPORT, registry_scope(services)),
        ),
        # Watching an import is reading the registry it writes to.
        gate.route(
            "/api/imports/{id}",
            show,
            ["GET"],
            Rule("Microsoft.ContainerRegistry/registries/read", job_scope),
        ),
    ]


def import_request(body: dict[str, Any]) -> ImportRequest:
    return ImportRequest(
        source=required_text(body, "source"),
        images=strings(body, "images"),
        repositories=strings(body, "repositories"),
        force=boolean(body, "force") or False,
        registry=text(body, "registry"),
        username=text(body, "username"),
        password=text(body, "password"),
    )
