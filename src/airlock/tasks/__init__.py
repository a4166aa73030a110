"""The task engine's pure part: model, loader, graph, templates (no I/O besides yaml)."""

from airlock.tasks.errors import TaskError, TaskFileError
from airlock.tasks.graph import TaskGraph
from airlock.tasks.loader import load_task
from airlock.tasks.model import Step, StepKind, TaskFile
from airlock.tasks.render import RenderResult, RunContext, render, render_and_load

__all__ = [
    "RenderResult",
    "RunContext",
    "Step",
    "StepKind",
    "TaskError",
    "TaskFile",
    "TaskFileError",
    "TaskGraph",
    "load_task",
    "render",
    "render_and_load",
]
