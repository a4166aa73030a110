"""``acr task validate``: does a task file load, and what would run?

Without values the file is linted as written (template actions stand in for what they will
render to); with ``--set`` or a values file it is rendered first, as a run renders it, with
placeholder ``.Run`` values. Either way the step graph is built, so ``when`` cycles and
unknown ids are found here, not at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airlock.tasks.graph import TaskGraph
from airlock.tasks.loader import load_task
from airlock.tasks.model import TaskFile
from airlock.tasks.render import RunContext, render_and_load

# What .Run holds while validating: recognisable, never a real run's.
VALIDATION_RUN = RunContext(id="validate", registry="registry.local", task_name="validate")


@dataclass(frozen=True)
class Validation:
    task: TaskFile
    order: tuple[str, ...]
    rendered: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.task.source,
            "valid": True,
            "version": self.task.version,
            "rendered": self.rendered,
            "steps": [
                {
                    "id": step.id,
                    "kind": str(step.kind),
                    "when": list(step.when),
                    "line": step.line,
                }
                for step in self.task.steps
            ],
            "executionOrder": list(self.order),
            "warnings": [
                f"{self.task.source}:{w.line}:{w.column}: {w.message}" for w in self.task.warnings
            ],
        }


def validate(
    text: str,
    *,
    source: str,
    values: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> Validation:
    """The loaded task and its execution order; raises TaskFileError (file:line:col)."""
    if values:
        task, _ = render_and_load(
            text, source=source, run=VALIDATION_RUN, values=values, strict=strict
        )
    else:
        task = load_task(text, source=source, strict=strict)
    order = tuple(step.id for step in TaskGraph.build(task).execution_order())
    return Validation(task, order, rendered=bool(values))
