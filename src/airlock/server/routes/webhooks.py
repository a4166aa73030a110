"""Commit webhooks: ``POST /api/webhooks/tasks/{task_id}`` (GitHub, Gitea and GitLab push
payloads), and ``GET /api/registries/{name}/tasks/{task}/webhook`` (its URL and secret).

The webhook has no session: it is signed in by the signature of the task's webhook secret
(``airlock.triggers.commits.verify_signature``). The checks, in order:

1. an unknown task: 404. Task ids are random UUIDs (122 bits) that only someone who may
   read the task learns, so telling "no such task" from "wrong signature" helps nobody
   guess one, and it tells whoever set a hook up that it points at a deleted task;
2. a missing or wrong signature: 401 (the body is not parsed before it is authenticated);
3. an event that is not a push (GitHub's ``ping`` excepted: 200), or a malformed payload: 400;
4. a push to the branch the task follows (its ``#branch``, or the repository's default
   branch): 202 ``{"queued": runId}``; otherwise 200 ``{"queued": null, "reason": ...}``
   (another branch, a deleted branch, the trigger off, the task disabled, the commit
   already fired, through this webhook or polling).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.errors import NotFoundError
from airlock.server.authz import PUBLIC, Gate, GuardedRoute, Rule, registry_scope
from airlock.server.services import Services
from airlock.triggers.commits import (
    DefaultBranches,
    GitLookupError,
    event_kind,
    find_task,
    fire,
    git_context,
    not_firing,
    parse_push,
    verify_signature,
)
from airlock.vault.masking import MASKER

_TASKS = "Microsoft.ContainerRegistry/registries/tasks"


def webhook_path(task_id: str) -> str:
    return f"/api/webhooks/tasks/{task_id}"


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    default_branches = DefaultBranches()

    def nothing(reason: str) -> JSONResponse:
        return JSONResponse({"queued": None, "reason": reason})

    async def receive(request: Request) -> Response:
        found = find_task(services, request.path_params["task_id"])
        if found is None:
            raise NotFoundError("no task has this webhook", "TaskNotFound")
        registry, task = found
        raw = await request.body()
        secret = services.trigger_settings.webhook_secret(task.id)
        MASKER.add(secret)
        verify_signature(request.headers, raw, secret)
        if event_kind(request.headers) == "ping":
            return nothing("ping: the webhook is set up")
        push = parse_push(raw)
        reason = not_firing(services, task)
        if reason is not None:
            return nothing(reason)
        if push.branch is None:
            return nothing(f"{push.ref} is not a branch")
        if push.deleted:
            return nothing(f"branch {push.branch} was deleted")
        spec = git_context(task)
        assert spec is not None  # not_firing checked it
        followed = spec.branch
        if followed is None:
            token = services.tasks.git_token(task) if spec.is_http else None
            try:
                followed = await asyncio.to_thread(default_branches.lookup, spec, token)
            except GitLookupError as exc:
                return nothing(f"the repository's default branch is unknown: {exc}")
        if push.branch != followed:
            return nothing(f"the task follows {followed}, not {push.branch}")
        outcome = fire(
            services,
            registry,
            task,
            push.after,
            push.branch,
            "webhook",
            author=push.author,
            message=push.message,
        )
        if outcome.run_id is None:
            return nothing(outcome.reason or "nothing to run")
        return JSONResponse({"queued": outcome.run_id}, status_code=202)

    async def show_webhook(request: Request) -> Response:
        record = services.registries.get(request.path_params["name"])
        task = services.tasks.get(record.id, request.path_params["task"])
        secret = services.trigger_settings.webhook_secret(task.id)
        MASKER.add(secret)
        base = services.runner.server_url or str(request.base_url).rstrip("/")
        return JSONResponse({"url": base + webhook_path(task.id), "secret": secret})

    return [
        gate.route("/api/webhooks/tasks/{task_id}", receive, ["POST"], PUBLIC),
        gate.route(
            "/api/registries/{name}/tasks/{task}/webhook",
            show_webhook,
            ["GET"],
            Rule(f"{_TASKS}/listDetails/action", registry_scope(services), audit_reads=True),
        ),
    ]
