"""Runs: ``acr task run|list-runs|show-run|logs|cancel-run``, ``acr run`` and ``acr build``.

A run is queued here and executed by a worker (``airlock.runner.worker``). Its log is read in
pages (``after`` the last line seen); ``wait`` holds the request until a new line comes or the
run ends, so ``acr task logs`` follows a run without polling fast.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import ConflictError, InvalidArgumentError
from airlock.registry.registries import RegistryRecord
from airlock.runner import check_reachable
from airlock.runner.plan import KIND_DOCKERFILE
from airlock.runner.service import RunRequest
from airlock.runs.store import MAX_LIST, Run, StepRecord
from airlock.runs.tasks import DEFAULT_TIMEOUT, DISABLED, MAX_TIMEOUT
from airlock.server.authz import Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import integer, json_body, only, text, whole_number
from airlock.server.routes.definitions import (
    DEFINITION_FIELDS,
    mapping,
    on_this_machine,
    read_context,
    read_definition,
    read_dockerfile,
)
from airlock.server.services import Services
from airlock.vault.masking import MASKER

_REGISTRY = "Microsoft.ContainerRegistry/registries"
_SCHEDULE = f"{_REGISTRY}/scheduleRun/action"
_READ = f"{_REGISTRY}/runs/read"
_LOGS = f"{_REGISTRY}/runs/listLogSasUrl/action"
_CANCEL = f"{_REGISTRY}/runs/cancel/action"
_LOCAL_CONTEXTS = "Microsoft.Authorization/*"  # held by Owner (and UAA) only
_QUICK_FIELDS = (
    *DEFINITION_FIELDS,
    "context",
    "values",
    "secretValues",
    "timeout",
    "platform",
    "gitAccessToken",
)
MAX_WAIT = 30
LOG_PAGE = 1000
_POLL = 0.2
LATEST = "latest"


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    def registry(request: Request) -> RegistryRecord:
        return services.registries.get(request.path_params["name"])

    def find(request: Request, record: RegistryRecord) -> Run:
        run_id = request.path_params["run"]
        if run_id == LATEST:
            return services.runs.latest(record.id, request.query_params.get("task"))
        return services.runs.get(record.id, run_id)

    async def run_task(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, "values")
        task = services.tasks.get(record.id, request.path_params["task"])
        if task.status == DISABLED:
            raise ConflictError(
                f"task {task.name!r} is disabled; enable it with 'airlock acr task update "
                f"--name {task.name} --registry {record.name} --status Enabled'",
                "TaskDisabled",
            )
        run = services.runner.queue_task(record, task, mapping(body, "values"))
        return JSONResponse(_json(services, record, run), status_code=202)

    async def quick_run(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body, *_QUICK_FIELDS)
        values = mapping(body, "values")
        secrets = {k: str(v) for k, v in mapping(body, "secretValues").items()}
        MASKER.add_many(secrets.values())
        if text(body, "kind") == KIND_DOCKERFILE:
            build = read_dockerfile(body, {})
            kind, definition, source, dockerfile = KIND_DOCKERFILE, "", build.dockerfile, build
            secrets.update(build.secret_build_args)
        else:
            found = read_definition(body, {**values, **secrets})
            kind, definition, source, dockerfile = (
                found.kind,
                found.definition,
                found.source,
                None,
            )
        context = read_context(body)
        token = text(body, "gitAccessToken")
        if token:
            MASKER.add(token)
        if on_this_machine(context):
            gate.require(request.state.caller, _LOCAL_CONTEXTS, roles.SERVER_SCOPE)
        await asyncio.to_thread(lambda: check_reachable(context, token, protected=(services.home,)))
        timeout = whole_number(body, "timeout") or DEFAULT_TIMEOUT
        if not 1 <= timeout <= MAX_TIMEOUT:
            raise InvalidArgumentError(f"--timeout must be from 1 to {MAX_TIMEOUT} seconds")
        platform = text(body, "platform") or "linux"
        if platform.split("/", 1)[0].lower() != "linux":
            raise InvalidArgumentError(
                f"platform {platform[:40]!r} cannot run here: Airlock runs linux containers"
            )
        run = services.runner.queue_quick(
            record,
            RunRequest(
                kind=kind,
                definition=definition,
                source=source,
                context=str(context),
                values=values,
                timeout=timeout,
                platform=platform,
                dockerfile=dockerfile,
                secret_values=secrets,
                git_token=token,
            ),
        )
        return JSONResponse(_json(services, record, run), status_code=202)

    async def list_runs(request: Request) -> Response:
        record = registry(request)
        query = request.query_params
        found = services.runs.recent(
            record.id,
            task=query.get("task") or None,
            status=query.get("status") or None,
            top=min(integer(query.get("top"), "top", 15), MAX_LIST),
            trigger=query.get("trigger") or None,
        )
        return JSONResponse([_json(services, record, run) for run in found])

    async def show_run(request: Request) -> Response:
        record = registry(request)
        return JSONResponse(_json(services, record, find(request, record)))

    async def logs(request: Request) -> Response:
        record = registry(request)
        run = find(request, record)
        after = integer(request.query_params.get("after"), "after", 0)
        wait = min(integer(request.query_params.get("wait"), "wait", 0), MAX_WAIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            # The status first: lines read after a final status are all the lines.
            current = services.runs.by_id(run.id)
            lines = services.logs.read(run.id, after, LOG_PAGE)
            if lines or current.final or loop.time() >= deadline:
                break
            await asyncio.sleep(_POLL)
        return JSONResponse(
            {
                "runId": current.run_id,
                "lines": [{"seq": ln.seq, "time": ln.at, "text": ln.text} for ln in lines],
                "next": lines[-1].seq if lines else after,
                "status": current.status,
                "final": current.final and len(lines) < LOG_PAGE,
            }
        )

    async def cancel(request: Request) -> Response:
        record = registry(request)
        body = await json_body(request)
        only(body)
        run = find(request, record)
        canceled = services.runs.cancel(record.id, run.run_id)
        services.runner.server_log(canceled.id, ["The run was canceled by request."])
        return JSONResponse(_json(services, record, canceled))

    in_path = registry_scope(services)
    base = "/api/registries/{name}"
    return [
        gate.route(base + "/tasks/{task}/runs", run_task, ["POST"], Rule(_SCHEDULE, in_path)),
        gate.route(base + "/runs", quick_run, ["POST"], Rule(_SCHEDULE, in_path)),
        gate.route(base + "/runs", list_runs, ["GET"], Rule(_READ, in_path)),
        gate.route(base + "/runs/{run}", show_run, ["GET"], Rule(_READ, in_path)),
        gate.route(base + "/runs/{run}/logs", logs, ["GET"], Rule(_LOGS, in_path)),
        gate.route(base + "/runs/{run}/cancel", cancel, ["POST"], Rule(_CANCEL, in_path)),
    ]


def _json(services: Services, record: RegistryRecord, run: Run) -> dict[str, Any]:
    """The shape of ``az acr task show-run``."""
    snapshot: dict[str, Any] = json.loads(run.definition)
    steps = services.runs.steps(run.id)
    registry_id = str(record.to_json()["id"])
    return {
        "id": f"{registry_id}/runs/{run.run_id}",
        "name": run.run_id,
        "runId": run.run_id,
        "type": "Airlock/registries/runs",
        "resourceGroup": record.resource_group,
        "status": run.status,
        "task": run.task,
        "runType": snapshot.get("runType"),
        "trigger": run.trigger,
        **_cause_json(run, snapshot),
        "platform": {"os": run.platform, "architecture": "amd64"},
        "createTime": run.created_at,
        "startTime": run.started_at,
        "finishTime": run.finished_at,
        "lastUpdatedTime": run.finished_at or run.heartbeat_at or run.started_at or run.created_at,
        "runErrorMessage": run.error,
        "outputImages": _output_images(steps),
        "steps": [_step_json(step) for step in steps],
        "provisioningState": "Succeeded",
        "worker": run.worker,
    }


def _cause_json(run: Run, snapshot: dict[str, Any]) -> dict[str, Any]:
    """What started the run, in az's fields: the base image with its old and new digest, the
    commit, the timer; a manual run names none."""
    cause = snapshot.get("cause") or {}
    if cause.get("kind") == "image":
        return {
            "imageUpdateTrigger": {
                "image": cause.get("reference"),
                "oldDigest": cause.get("oldDigest"),
                "newDigest": cause.get("newDigest"),
                "chain": len(cause.get("chain") or []),
            }
        }
    if run.trigger == "Commit":
        return {
            "sourceTrigger": {
                "eventType": "commit",
                "commitId": snapshot.get("commit"),
                "branchName": snapshot.get("branch"),
                "author": cause.get("author"),
                "message": cause.get("message"),
            }
        }
    if run.trigger == "Timer":
        return {"timerTrigger": {"timerTriggerName": cause.get("timer")}}
    return {}


def _step_json(step: StepRecord) -> dict[str, Any]:
    return {
        "id": step.step_id,
        "status": step.status,
        "exitCode": step.exit_code,
        "startTime": step.started_at,
        "finishTime": step.finished_at,
        "images": [{"image": image, "digest": digest} for image, digest in step.images],
        "error": step.error,
    }


def _output_images(steps: list[StepRecord]) -> list[dict[str, str]]:
    images = []
    for step in steps:
        for reference, digest in step.images:
            if not digest.startswith("sha256:"):
                continue
            name, _, tag = reference.rpartition(":")
            if "/" in tag or not name:
                name, tag = reference, ""
            registry, _, repository = name.partition("/")
            images.append(
                {"registry": registry, "repository": repository, "tag": tag, "digest": digest}
            )
    return images
