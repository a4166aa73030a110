"""Tasks as ``az acr task create`` stores them: what to run, where from, with which values.

A task is a task file (ACR's multi-step YAML), an inline command (``--cmd``) or a Dockerfile
(built and pushed). Its name follows ACR's rule and is unique per registry, ignoring case.
Values are stored as given; secret values (``--set-secret``, ``--secret-arg``) and the git
access token are sealed with the master key (AES-GCM, bound to the task's id), so the
database never holds them in clear, and they are shown to nobody: ``show`` lists their names.

The checks that need the task engine or the context (does the file load, does the git URL
answer) are the caller's: this store keeps what was accepted.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from airlock.common.clock import now_iso
from airlock.crypto import MasterKey
from airlock.db.schema import tasks
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

KINDS = ("file", "cmd", "dockerfile")
ENABLED, DISABLED = "Enabled", "Disabled"
DEFAULT_TIMEOUT = 3600
MAX_TIMEOUT = 28800  # ACR's limit for a run: 8 hours
MAX_DEFINITION = 256 * 1024
# ACR: 5-50 alphanumerics, hyphens and underscores.
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{4,49}$")


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    registry_id: int
    name: str
    kind: str
    file_name: str | None
    definition: str
    context: str
    values: dict[str, Any]
    secret_names: tuple[str, ...]
    has_git_token: bool
    platform: str
    timeout: int
    status: str
    identity: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What a create or an update sets."""

    kind: str
    definition: str
    context: str
    file_name: str | None = None
    values: dict[str, Any] | None = None
    secrets: dict[str, str] | None = None
    git_token: str | None = None
    platform: str = "linux"
    timeout: int = DEFAULT_TIMEOUT
    status: str = ENABLED


def check_task_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid task name {name[:60]!r}: use 5-50 letters, digits, hyphens and "
            "underscores, starting with a letter or digit",
            "InvalidName",
        )
    return name


def check_spec(spec: TaskSpec) -> TaskSpec:
    if spec.kind not in KINDS:
        raise InvalidArgumentError(f"unknown task kind {spec.kind[:20]!r}; use {', '.join(KINDS)}")
    if not spec.definition.strip():
        raise InvalidArgumentError("a task needs a file, a command or a Dockerfile to run")
    if len(spec.definition.encode()) > MAX_DEFINITION:
        raise InvalidArgumentError(f"the task definition is larger than {MAX_DEFINITION} bytes")
    if not 1 <= spec.timeout <= MAX_TIMEOUT:
        raise InvalidArgumentError(f"--timeout must be from 1 to {MAX_TIMEOUT} seconds")
    if spec.status not in (ENABLED, DISABLED):
        raise InvalidArgumentError(f"--status must be {ENABLED} or {DISABLED}")
    if spec.platform.split("/", 1)[0].lower() != "linux":
        raise InvalidArgumentError(
            f"platform {spec.platform[:40]!r} cannot run here: Airlock runs linux containers"
        )
    return spec


class TaskStore:
    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self.engine = engine
        self.key = master_key

    def create(self, registry_id: int, name: str, spec: TaskSpec) -> Task:
        check_task_name(name)
        check_spec(spec)
        task_id = str(uuid.uuid4())
        now = now_iso()
        try:
            with self.engine.begin() as conn:
                # The unique (registry, name) key decides between two creators, not a read.
                conn.execute(
                    insert(tasks).values(
                        id=task_id,
                        registry_id=registry_id,
                        name=name,
                        name_key=name.lower(),
                        created_at=now,
                        **self._columns(task_id, spec, now),
                    )
                )
        except IntegrityError as exc:
            if "unique" not in str(exc.orig).lower():
                raise
            raise ConflictError(
                f"a task named {name!r} already exists in this registry", "TaskExists"
            ) from None
        return self.get(registry_id, name)

    def get(self, registry_id: int, name: str) -> Task:
        with self.engine.connect() as conn:
            return self._task(self._get_row(conn, registry_id, name))

    def by_id(self, task_id: str) -> Task | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        return None if row is None else self._task(row)

    def all(self, registry_id: int) -> list[Task]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tasks).where(tasks.c.registry_id == registry_id).order_by(tasks.c.name_key)
            )
            return [self._task(row) for row in rows]

    def update(self, registry_id: int, name: str, **changes: Any) -> Task:
        """Change some fields; ``values`` and ``secrets`` merge into what is there (as
        ``az acr task update --set`` does)."""
        with self.engine.begin() as conn:
            row = self._get_row(conn, registry_id, name)
            current = self._spec(row)
            merged_values = {**(current.values or {}), **(changes.pop("values", None) or {})}
            merged_secrets = {**(current.secrets or {}), **(changes.pop("secrets", None) or {})}
            spec = check_spec(
                replace(current, values=merged_values, secrets=merged_secrets, **changes)
            )
            now = now_iso()
            conn.execute(
                update(tasks).where(tasks.c.id == row.id).values(**self._columns(row.id, spec, now))
            )
            return self._task(self._get_row(conn, registry_id, name))

    def set_identity(self, registry_id: int, name: str, principal_id: str | None) -> Task:
        with self.engine.begin() as conn:
            row = self._get_row(conn, registry_id, name)
            conn.execute(
                update(tasks)
                .where(tasks.c.id == row.id)
                .values(identity=principal_id, updated_at=now_iso())
            )
            return self._task(self._get_row(conn, registry_id, name))

    def delete(self, registry_id: int, name: str) -> Task:
        with self.engine.begin() as conn:
            row = self._get_row(conn, registry_id, name)
            conn.execute(delete(tasks).where(tasks.c.id == row.id))
            return self._task(row)

    def secrets(self, task: Task) -> dict[str, str]:
        """The task's secret values, for a run (never for display)."""
        with self.engine.connect() as conn:
            row = self._get_row(conn, task.registry_id, task.name)
        return self._open_secrets(row)

    def git_token(self, task: Task) -> str | None:
        with self.engine.connect() as conn:
            row = self._get_row(conn, task.registry_id, task.name)
        if row.sealed_git_token is None:
            return None
        return self.key.open(row.sealed_git_token, f"task:{row.id}:git-token").decode()

    # --- internals -------------------------------------------------------------------------

    def _columns(self, task_id: str, spec: TaskSpec, now: str) -> dict[str, Any]:
        secrets = spec.secrets or {}
        return {
            "kind": spec.kind,
            "file_name": spec.file_name,
            "definition": spec.definition,
            "context": spec.context,
            "values_json": json.dumps(spec.values or {}, sort_keys=True),
            "sealed_secrets": self.key.seal(
                json.dumps(secrets, sort_keys=True).encode(), f"task:{task_id}:secrets"
            )
            if secrets
            else None,
            "sealed_git_token": self.key.seal(spec.git_token.encode(), f"task:{task_id}:git-token")
            if spec.git_token
            else None,
            "platform": spec.platform,
            "timeout": spec.timeout,
            "status": spec.status,
            "updated_at": now,
        }

    def _open_secrets(self, row: Any) -> dict[str, str]:
        if row.sealed_secrets is None:
            return {}
        opened = self.key.open(row.sealed_secrets, f"task:{row.id}:secrets")
        values: dict[str, str] = json.loads(opened)
        return values

    def _spec(self, row: Any) -> TaskSpec:
        token = (
            None
            if row.sealed_git_token is None
            else self.key.open(row.sealed_git_token, f"task:{row.id}:git-token").decode()
        )
        return TaskSpec(
            kind=row.kind,
            definition=row.definition,
            context=row.context,
            file_name=row.file_name,
            values=json.loads(row.values_json),
            secrets=self._open_secrets(row),
            git_token=token,
            platform=row.platform,
            timeout=row.timeout,
            status=row.status,
        )

    def _task(self, row: Any) -> Task:
        return Task(
            id=row.id,
            registry_id=row.registry_id,
            name=row.name,
            kind=row.kind,
            file_name=row.file_name,
            definition=row.definition,
            context=row.context,
            values=json.loads(row.values_json),
            secret_names=tuple(sorted(self._open_secrets(row))),
            has_git_token=row.sealed_git_token is not None,
            platform=row.platform,
            timeout=row.timeout,
            status=row.status,
            identity=row.identity,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @staticmethod
    def _row(conn: Connection, registry_id: int, name: str) -> Any:
        return conn.execute(
            select(tasks).where(
                (tasks.c.registry_id == registry_id) & (tasks.c.name_key == func.lower(name))
            )
        ).first()

    def _get_row(self, conn: Connection, registry_id: int, name: str) -> Any:
        row = self._row(conn, registry_id, name)
        if row is None:
            raise NotFoundError(
                f"task {name[:60]!r} not found; list tasks with "
                "'airlock acr task list --registry <registry>'",
                "TaskNotFound",
            )
        return row
