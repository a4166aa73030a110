"""A task's timer triggers: ``acr task timer add|update|list|remove``.

Every answer is the task's timers as ``az acr task timer list`` prints timer triggers:
``[{"name", "schedule", "status": "Enabled"|"Disabled", "nextRunTime"}]``. A schedule is
checked when it is given (five cron fields in UTC); a refused one stores nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.errors import InvalidArgumentError
from airlock.runs.tasks import Task
from airlock.server.authz import Gate, GuardedRoute, Rule, registry_scope
from airlock.server.routes.common import boolean, json_body, only, required_text, text
from airlock.server.services import Services
from airlock.triggers.timers import MAX_SCHEDULE, check_timer_name

_TASKS = "Microsoft.ContainerRegistry/registries/tasks"


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    store = services.timers

    def task_of(request: Request) -> Task:
        record = services.registries.get(request.path_params["name"])
        return services.tasks.get(record.id, request.path_params["task"])

    def listing(task: Task, status: int = 200) -> JSONResponse:
        return JSONResponse([t.to_json() for t in store.list(task.id)], status_code=status)

    async def add(request: Request) -> Response:
        task = task_of(request)
        body = await json_body(request)
        only(body, "name", "schedule", "enabled")
        enabled = boolean(body, "enabled")
        store.add(
            task.id,
            check_timer_name(required_text(body, "name", limit=64)),
            required_text(body, "schedule", limit=MAX_SCHEDULE),
            enabled=True if enabled is None else enabled,
        )
        return listing(task, 201)

    async def update(request: Request) -> Response:
        task = task_of(request)
        body = await json_body(request)
        only(body, "schedule", "enabled")
        schedule = text(body, "schedule", limit=MAX_SCHEDULE)
        enabled = boolean(body, "enabled")
        if schedule is None and enabled is None:
            raise InvalidArgumentError("nothing to update: give 'schedule' or 'enabled'")
        store.update(task.id, request.path_params["timer"], schedule=schedule, enabled=enabled)
        return listing(task)

    async def remove(request: Request) -> Response:
        task = task_of(request)
        store.remove(task.id, request.path_params["timer"])
        return listing(task)

    async def list_timers(request: Request) -> Response:
        return listing(task_of(request))

    in_path = registry_scope(services)
    base = "/api/registries/{name}/tasks/{task}/timers"
    write = Rule(f"{_TASKS}/write", in_path)
    return [
        gate.route(base, list_timers, ["GET"], Rule(f"{_TASKS}/read", in_path)),
        gate.route(base, add, ["POST"], write),
        gate.route(base + "/{timer}", update, ["PATCH"], write),
        gate.route(base + "/{timer}", remove, ["DELETE"], write),
    ]
