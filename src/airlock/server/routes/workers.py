"""The worker API: how ``airlock worker`` processes take runs and report them.

A worker long-polls ``POST /api/workers/claim`` for the next queued run and gets its plan
(``RunPlan.to_json()``: the definition, values, secrets and registry logins the run needs),
or 204 when nothing was queued within ``wait`` seconds. While it runs it, it heart-beats
(``{"continue": false}`` means the run was cancelled or taken away: stop it), sends log
lines and step reports, and finishes the run with its status.

Every route needs ``Microsoft.ContainerRegistry/registries/agentPools/write`` at the server
scope (Contributor or Owner; ``roles.least_role`` suggests Contributor): a worker sees the
secrets of every run it takes, so running one is granted like managing an ACR agent pool.

A worker names itself (``NAME``: 1-64 of letters, digits, ``.``, ``_``, ``-``); the server
stores ``NAME@<principal id>`` as the run's worker, so a principal can only heart-beat,
log to, report on and finish the runs it claimed itself, whatever name another one uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.errors import InvalidArgumentError
from airlock.runner.dependencies import dependencies_from_json
from airlock.runner.executor import RunResult, StepReport
from airlock.server.authz import Caller, Gate, GuardedRoute, Rule
from airlock.server.routes.common import json_body, only, required_text, text, whole_number
from airlock.server.services import Services
from airlock.server.workers import heartbeat_interval

AGENT_POOLS = "Microsoft.ContainerRegistry/registries/agentPools/write"
MAX_WAIT = 30
MAX_LINES = 1000
MAX_ERROR = 4096
_POLL = 0.5
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
STEP_FIELDS = ("step_id", "status", "exit_code", "started_at", "finished_at", "images", "error")


class QueueSignal:
    """Wakes the claims waiting on the event loop when a run is queued (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def wake(self) -> None:
        with self._lock:
            waiting = list(self._waiting)
        for loop, future in waiting:
            # A closed loop raises RuntimeError: nobody waits there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future)

    async def wait(self, timeout: float) -> None:
        """Return when a run is queued or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        entry = (loop, loop.create_future())
        with self._lock:
            self._waiting.add(entry)
        try:
            await asyncio.wait_for(entry[1], timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiting.discard(entry)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def worker_name(body: dict[str, Any], caller: Caller) -> str:
    """The run's worker as stored: the name the worker gives, bound to who calls."""
    name = required_text(body, "worker", 64)
    if not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"worker name {name[:64]!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-'"
        )
    return f"{name}@{caller.principal_id}"


def _run(request: Request) -> str:
    value = request.path_params["run"]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgumentError(f"{value[:40]!r} is not a run's uuid (RunPlan.run)") from None


def _lines(body: dict[str, Any]) -> list[tuple[str, str]]:
    lines = body.get("lines")
    if not isinstance(lines, list):
        raise InvalidArgumentError('\'lines\' must be a list of {"time", "text"} objects')
    if len(lines) > MAX_LINES:
        raise InvalidArgumentError(f"at most {MAX_LINES} lines per call, not {len(lines)}")
    found = []
    for line in lines:
        if not isinstance(line, dict):
            raise InvalidArgumentError('each line must be a {"time", "text"} object')
        only(line, "time", "text")
        found.append((required_text(line, "time", 64), text(line, "text") or ""))
    return found


def _images(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    images = body.get("images") or []
    if not isinstance(images, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(part, str) and len(part) <= 1024 for part in pair)
        for pair in images
    ):
        raise InvalidArgumentError("'images' must be a list of [reference, digest] pairs")
    return tuple((str(reference), str(digest)) for reference, digest in images)


def step_report(body: dict[str, Any]) -> StepReport:
    """A ``StepReport`` from its JSON (``dataclasses.asdict``; ``images`` as pairs)."""
    return StepReport(
        step_id=required_text(body, "step_id", 128),
        status=required_text(body, "status", 20),
        exit_code=whole_number(body, "exit_code"),
        started_at=text(body, "started_at", 64),
        finished_at=text(body, "finished_at", 64),
        images=_images(body),
        error=text(body, "error", MAX_ERROR),
    )


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    runner = services.runner
    queued = QueueSignal()
    runner.on_queued(queued.wake)

    async def claim(request: Request) -> Response:
        body = await json_body(request)
        only(body, "worker", "wait")
        worker = worker_name(body, request.state.caller)
        wait = whole_number(body, "wait") or 0
        if not 0 <= wait <= MAX_WAIT:
            raise InvalidArgumentError(f"'wait' must be from 0 to {MAX_WAIT} seconds")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if await request.is_disconnected():
                # The worker went away (stopped, killed): claiming now would hold a run
                # for nobody until it is recovered as stale.
                return Response(status_code=204)
            plan = runner.claim(worker)
            if plan is not None:
                answer = {"plan": plan.to_json(), "heartbeatSeconds": heartbeat_interval()}
                return JSONResponse(answer)
            left = deadline - loop.time()
            if left <= 0:
                return Response(status_code=204)
            # Woken by a run queued here; the poll finds runs queued by another process.
            await queued.wait(min(left, _POLL))

    async def heartbeat(request: Request) -> Response:
        body = await json_body(request)
        only(body, "worker")
        worker = worker_name(body, request.state.caller)
        return JSONResponse({"continue": runner.heartbeat(_run(request), worker)})

    async def logs(request: Request) -> Response:
        body = await json_body(request)
        only(body, "worker", "lines")
        worker = worker_name(body, request.state.caller)
        lines = _lines(body)
        return JSONResponse({"accepted": runner.append_log(_run(request), worker, lines)})

    async def steps(request: Request) -> Response:
        body = await json_body(request)
        only(body, "worker", *STEP_FIELDS)
        worker = worker_name(body, request.state.caller)
        report = step_report(body)
        return JSONResponse({"accepted": runner.record_step(_run(request), worker, report)})

    async def finish(request: Request) -> Response:
        body = await json_body(request)
        only(body, "worker", "status", "error", "dependencies")
        worker = worker_name(body, request.state.caller)
        result = RunResult(
            required_text(body, "status", 20),
            text(body, "error", MAX_ERROR),
            dependencies=dependencies_from_json(body.get("dependencies") or []),
        )
        return JSONResponse({"accepted": runner.finish(_run(request), worker, result)})

    rule = Rule(AGENT_POOLS)
    base = "/api/workers"
    return [
        gate.route(base + "/claim", claim, ["POST"], rule),
        gate.route(base + "/runs/{run}/heartbeat", heartbeat, ["POST"], rule),
        gate.route(base + "/runs/{run}/logs", logs, ["POST"], rule),
        gate.route(base + "/runs/{run}/steps", steps, ["POST"], rule),
        gate.route(base + "/runs/{run}/finish", finish, ["POST"], rule),
    ]
