"""The base images each task builds on, from its last successful run.

A run's build steps report, for every image they produced, the base of every stage resolved
to registry/repository:tag and the digest the build used (``runtime`` for the final stage,
``buildtime`` for the others). When a run of a task succeeds, those replace what the task
had: they are what its base-image trigger watches, and what ``acr task show`` prints as
``baseImageDependencies``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from airlock.common.clock import now_iso
from airlock.db.schema import task_base_images

RUNTIME, BUILDTIME = "runtime", "buildtime"


@dataclass(frozen=True)
class BaseImage:
    """One base of one image a task builds."""

    image: str  # what the build produced, as tagged
    registry: str
    repository: str
    tag: str
    digest: str | None
    kind: str  # runtime | buildtime

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    def to_json(self) -> dict[str, str | None]:
        """As ``az acr task show`` prints a base image dependency."""
        return {
            "type": "RunTime" if self.kind == RUNTIME else "BuildTime",
            "registry": self.registry,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "image": self.image,
        }


@dataclass(frozen=True)
class Dependent:
    task: str  # the task's id
    base: BaseImage


class BaseImageStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replace(self, task_id: str, bases: Sequence[BaseImage]) -> None:
        """The task's bases are now ``bases`` (one transaction)."""
        now = now_iso()
        unique = {(b.image, b.registry, b.repository, b.tag): b for b in bases}
        with self.engine.begin() as conn:
            conn.execute(delete(task_base_images).where(task_base_images.c.task == task_id))
            if unique:
                conn.execute(
                    insert(task_base_images),
                    [
                        {
                            "task": task_id,
                            "image": b.image[:512],
                            "registry": b.registry,
                            "repository": b.repository,
                            "tag": b.tag,
                            "digest": b.digest,
                            "kind": b.kind,
                            "updated_at": now,
                        }
                        for b in unique.values()
                    ],
                )

    def for_task(self, task_id: str) -> list[BaseImage]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(task_base_images)
                .where(task_base_images.c.task == task_id)
                .order_by(task_base_images.c.image, task_base_images.c.kind.desc())
            ).all()
        return [_base(row) for row in rows]

    def dependents(self, registry: str, repository: str, tag: str) -> list[Dependent]:
        """Every task with a base at ``registry/repository:tag``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(task_base_images).where(
                    (task_base_images.c.registry == registry)
                    & (task_base_images.c.repository == repository)
                    & (task_base_images.c.tag == tag)
                )
            ).all()
        return [Dependent(row.task, _base(row)) for row in rows]

    def producers(self, image: str) -> list[str]:
        """The tasks whose builds produce ``image`` (a tag), by their recorded bases."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(task_base_images.c.task).where(task_base_images.c.image == image).distinct()
            ).all()
        return [str(row.task) for row in rows]


def _base(row: Any) -> BaseImage:
    return BaseImage(row.image, row.registry, row.repository, row.tag, row.digest, row.kind)
