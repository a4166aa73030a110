"""The activity log: who changed what, and who read which secret value, with the result.

One row per management call that changes state or reads a secret value, refused calls
included: the time, the principal (or ``anonymous``), the action (Azure's operation name),
the target (the resource id or path), the source address and the result. Never a request
body, a value or a credential: only names that the caller put in a URL. Shaped for
``airlock monitor activity-log list`` as ``az monitor activity-log list`` prints entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from airlock.common.clock import now_iso
from airlock.db.schema import audit_log
from airlock.errors import InvalidArgumentError

SUCCEEDED = "Succeeded"
FAILED = "Failed"
DENIED = "Denied"
MAX_LIST = 5000


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    id: int
    at: str
    principal_id: str | None
    principal_name: str
    action: str
    target: str
    source: str
    status: int
    result: str

    def to_json(self) -> dict[str, Any]:
        return {
            "eventTimestamp": self.at,
            "caller": self.principal_name,
            "callerId": self.principal_id,
            "operationName": self.action,
            "resourceId": self.target,
            "httpRequest": {"clientIpAddress": self.source},
            "status": self.result,
            "httpStatusCode": self.status,
            "id": self.id,
        }


def result_of(status: int) -> str:
    if status in (401, 403):
        return DENIED
    return SUCCEEDED if status < 400 else FAILED


class ActivityLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        *,
        principal_id: str | None,
        principal_name: str,
        action: str,
        target: str,
        source: str,
        status: int,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=now_iso(),
                    principal_id=principal_id,
                    principal_name=principal_name[:128],
                    action=action[:160],
                    target=target[:512],
                    source=source[:64],
                    status=status,
                    result=result_of(status),
                )
            )

    def entries(
        self,
        caller: str | None = None,
        start_time: str | None = None,
        limit: int = 1000,
    ) -> list[ActivityEntry]:
        """Newest first; ``caller`` matches a principal's id or name, ``start_time`` is an
        ISO 8601 time or an offset such as ``2h`` or ``7d`` before now."""
        query = (
            select(audit_log).order_by(audit_log.c.id.desc()).limit(min(max(limit, 1), MAX_LIST))
        )
        if caller:
            query = query.where(
                (audit_log.c.principal_id == caller.lower())
                | (audit_log.c.principal_name == caller)
            )
        if start_time:
            query = query.where(audit_log.c.at >= parse_start_time(start_time))
        with self.engine.connect() as conn:
            return [
                ActivityEntry(
                    row.id,
                    row.at,
                    row.principal_id,
                    row.principal_name,
                    row.action,
                    row.target,
                    row.source,
                    row.status,
                    row.result,
                )
                for row in conn.execute(query)
            ]


_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_start_time(text: str) -> str:
    """An ISO 8601 time (UTC when it has no offset) or ``<n>m|h|d`` ago, as stored."""
    value = text.strip()
    if value[:-1].isdigit() and value[-1:] in _UNITS:
        delta = timedelta(**{_UNITS[value[-1]]: int(value[:-1])})
        return (datetime.now(UTC) - delta).isoformat(timespec="microseconds")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgumentError(
            f"invalid start time {value[:40]!r}: use ISO 8601 (2026-11-30T08:00:00Z) or an "
            "offset such as 30m, 2h or 7d",
            "InvalidStartTime",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
