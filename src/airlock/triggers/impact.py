"""The impact of a base image change: every task that would run, down the whole chain.

``acr task list --base-image REF``: the tasks tracking ``REF`` (depth 1), then the tasks
tracking an image one of those builds (depth 2), and so on, each task once at the smallest
depth; a cycle ends where it comes back. Read from the bases each task's last successful run
recorded (``runs.baseimages``), so a task that never ran is not in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.oci.errors import OciValueError
from airlock.oci.reference import Reference
from airlock.runs.baseimages import BaseImageStore
from airlock.runs.tasks import TaskStore

MAX_DEPTH = 32


@dataclass(frozen=True)
class Impact:
    task_id: str
    registry_id: int
    task: str
    depth: int
    via: str  # the base reference that starts it


def parse_base(text: str) -> tuple[str, str, str]:
    """``registry/repository:tag`` as tracked bases are stored (Docker Hub names normalised)."""
    try:
        reference = Reference.parse(text.strip())
    except OciValueError as exc:
        raise ValueError(f"--base-image {text[:100]!r} is not an image reference: {exc}") from None
    return reference.registry, reference.repository, reference.tag or "latest"


def impact(base_images: BaseImageStore, tasks: TaskStore, reference: str) -> list[Impact]:
    found: dict[str, Impact] = {}
    frontier = [parse_base(reference)]
    seen_refs: set[tuple[str, str, str]] = set(frontier)
    depth = 1
    while frontier and depth <= MAX_DEPTH:
        produced: list[tuple[str, str, str]] = []
        for registry, repository, tag in frontier:
            for dependent in base_images.dependents(registry, repository, tag):
                if dependent.task in found:
                    continue
                task = tasks.by_id(dependent.task)
                if task is None:
                    continue
                found[task.id] = Impact(
                    task.id, task.registry_id, task.name, depth, dependent.base.reference
                )
                for base in base_images.for_task(task.id):
                    try:
                        made = parse_base(base.image)
                    except ValueError:
                        continue
                    if made not in seen_refs:
                        seen_refs.add(made)
                        produced.append(made)
        frontier = produced
        depth += 1
    return sorted(found.values(), key=lambda i: (i.depth, i.task))
