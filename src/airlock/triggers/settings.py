"""A task's trigger settings, as ``az acr task create|update`` sets them.

Defaults are ACR's: the base-image trigger on (type ``Runtime``, name
``defaultBaseimageTriggerName``); the commit trigger on for a git context. A task with no row
has the defaults. The commit webhook's secret is made when the commit trigger is first on and
sealed with the master key, bound to the task; it is shown by ``acr task show`` to whoever may
read the task, as ACR shows a task's webhook.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, text

from airlock.common.clock import now_iso
from airlock.crypto import MasterKey
from airlock.db.schema import task_triggers
from airlock.errors import InvalidArgumentError

RUNTIME, ALL = "Runtime", "All"
BASE_IMAGE_TYPES = (RUNTIME, ALL)
DEFAULT_BASE_IMAGE_NAME = "defaultBaseimageTriggerName"


@dataclass(frozen=True)
class TriggerSettings:
    base_image_enabled: bool = True
    base_image_type: str = RUNTIME
    base_image_name: str = DEFAULT_BASE_IMAGE_NAME
    commit_enabled: bool = True
    last_commit: str | None = None


def check_settings(settings: TriggerSettings) -> TriggerSettings:
    if settings.base_image_type not in BASE_IMAGE_TYPES:
        raise InvalidArgumentError(
            f"--base-image-trigger-type must be {' or '.join(BASE_IMAGE_TYPES)}, "
            f"not {settings.base_image_type[:20]!r}"
        )
    name = settings.base_image_name
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgumentError(
            "--base-image-trigger-name must be 1-64 letters, digits, '-' and '_'"
        )
    return settings


class TriggerSettingsStore:
    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self.engine = engine
        self.key = master_key

    def get(self, task_id: str) -> TriggerSettings:
        with self.engine.connect() as conn:
            row = conn.execute(select(task_triggers).where(task_triggers.c.task == task_id)).first()
        if row is None:
            return TriggerSettings()
        return TriggerSettings(
            base_image_enabled=bool(row.base_image_enabled),
            base_image_type=row.base_image_type,
            base_image_name=row.base_image_name,
            commit_enabled=bool(row.commit_enabled),
            last_commit=row.last_commit,
        )

    def put(self, task_id: str, settings: TriggerSettings) -> TriggerSettings:
        check_settings(settings)
        params = {
            "task": task_id,
            "bi": settings.base_image_enabled,
            "bt": settings.base_image_type,
            "bn": settings.base_image_name,
            "ce": settings.commit_enabled,
            "now": now_iso(),
        }
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO task_triggers (task, base_image_enabled, base_image_type,"
                    " base_image_name, commit_enabled, updated_at)"
                    " VALUES (:task, :bi, :bt, :bn, :ce, :now)"
                    " ON CONFLICT (task) DO UPDATE SET base_image_enabled = :bi,"
                    " base_image_type = :bt, base_image_name = :bn, commit_enabled = :ce,"
                    " updated_at = :now"
                ),
                params,
            )
        return self.get(task_id)

    def webhook_secret(self, task_id: str) -> str:
        """The task's webhook secret, made on first use (one statement: two callers racing
        keep the first one's)."""
        made = secrets.token_urlsafe(32)
        sealed = self.key.seal(made.encode(), _aad(task_id))
        with self.engine.begin() as conn:
            self._upsert(
                conn,
                task_id,
                "sealed_webhook_secret",
                sealed,
                "COALESCE(task_triggers.sealed_webhook_secret, :value)",
            )
            stored = conn.execute(
                select(task_triggers.c.sealed_webhook_secret).where(task_triggers.c.task == task_id)
            ).scalar_one()
        return self.key.open(stored, _aad(task_id)).decode()

    def set_last_commit(self, task_id: str, commit: str) -> None:
        """The head commit polling last saw (the row is made with the defaults if the task
        has none yet)."""
        with self.engine.begin() as conn:
            self._upsert(conn, task_id, "last_commit", commit, ":value")

    @staticmethod
    def _upsert(conn: Connection, task_id: str, column: str, value: object, update: str) -> None:
        """Set one column of the task's row, inserting the row with the default settings when
        there is none (one dialect-neutral statement, no read-then-write race)."""
        defaults = TriggerSettings()
        conn.execute(
            text(
                "INSERT INTO task_triggers (task, base_image_enabled, base_image_type,"
                f" base_image_name, commit_enabled, {column}, updated_at)"
                " VALUES (:task, :bi, :bt, :bn, :ce, :value, :now)"
                f" ON CONFLICT (task) DO UPDATE SET {column} = {update}"
            ),
            {
                "task": task_id,
                "bi": defaults.base_image_enabled,
                "bt": defaults.base_image_type,
                "bn": defaults.base_image_name,
                "ce": defaults.commit_enabled,
                "value": value,
                "now": now_iso(),
            },
        )


def _aad(task_id: str) -> str:
    return f"task:{task_id}:webhook-secret"
