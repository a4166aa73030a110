"""A task's trigger settings in a create or update body, and as ``acr task show`` prints them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airlock.runner import ContextKind, parse_context
from airlock.runs.tasks import Task
from airlock.server.routes.common import boolean, text
from airlock.triggers.settings import TriggerSettings, check_settings
from airlock.triggers.timers import (
    DEFAULT_NAME,
    MAX_SCHEDULE,
    Timer,
    TimerStore,
    check_schedule,
)

TRIGGER_FIELDS = (
    "baseImageTriggerEnabled",
    "baseImageTriggerType",
    "baseImageTriggerName",
    "commitTriggerEnabled",
    "schedule",
)


def read_triggers(body: dict[str, Any], current: TriggerSettings) -> TriggerSettings:
    """``current`` with what the body changes, checked (a 400 names the bad field)."""
    changes: dict[str, Any] = {}
    for field, key in (
        ("base_image_enabled", "baseImageTriggerEnabled"),
        ("commit_enabled", "commitTriggerEnabled"),
    ):
        value = boolean(body, key)
        if value is not None:
            changes[field] = value
    kind = text(body, "baseImageTriggerType", limit=16)
    if kind is not None:
        changes["base_image_type"] = kind[:1].upper() + kind[1:].lower()
    name = text(body, "baseImageTriggerName", limit=64)
    if name is not None:
        changes["base_image_name"] = name
    return check_settings(replace(current, **changes))


def read_schedule(body: dict[str, Any]) -> str | None:
    """``--schedule``, checked (a 400 with the reason) before anything is stored."""
    schedule = text(body, "schedule", limit=MAX_SCHEDULE)
    return None if schedule is None else check_schedule(schedule)


def set_schedule(timers: TimerStore, task_id: str, schedule: str | None) -> None:
    """``--schedule`` sets the timer az names ``t1``: added, or its schedule changed."""
    if schedule is None:
        return
    if any(timer.name == DEFAULT_NAME for timer in timers.list(task_id)):
        timers.update(task_id, DEFAULT_NAME, schedule=schedule)
    else:
        timers.add(task_id, DEFAULT_NAME, schedule)


def triggers_json(
    task: Task, settings: TriggerSettings, timers: list[Timer], webhook: str | None
) -> dict[str, Any]:
    """The ``trigger`` object of ``az acr task show``."""
    shown: dict[str, Any] = {
        "baseImageTrigger": {
            "name": settings.base_image_name,
            "baseImageTriggerType": settings.base_image_type,
            "status": "Enabled" if settings.base_image_enabled else "Disabled",
            "updateTriggerPayloadType": "Default",
        },
        "sourceTriggers": None,
        "timerTriggers": [timer.to_json() for timer in timers] or None,
    }
    context = parse_context(task.context)
    if context.kind is ContextKind.GIT:
        shown["sourceTriggers"] = [
            {
                "name": "defaultSourceTriggerName",
                "sourceRepository": {
                    "repositoryUrl": context.location,
                    "branch": context.branch,
                    "sourceControlType": "Git",
                },
                "sourceTriggerEvents": ["commit"],
                "status": "Enabled" if settings.commit_enabled else "Disabled",
                "lastCommit": settings.last_commit,
                # Its secret: 'airlock acr task hook install', or GET .../webhook.
                "webhookUrl": webhook,
            }
        ]
    return shown
