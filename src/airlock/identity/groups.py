"""Resource groups: ``group create|show|list|delete|exists``.

Airlock has no subscriptions; a group is a recorded name whose ``id`` scopes role assignments
(``--scope $(airlock group show -n G --query id -o tsv)``, as in the seed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.engine import Row

from airlock.common.clock import now_iso
from airlock.db.schema import resource_groups
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

# Azure's rule: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not
# ending with a period.
_NAME_RE = re.compile(r"^[a-zA-Z0-9_.()-]{0,89}[a-zA-Z0-9_()-]$")
SUBSCRIPTION = "/subscriptions/local"


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    location: str
    created_at: str

    @property
    def id(self) -> str:
        return group_id(self.name)

    def to_json(self) -> dict[str, Any]:
        """The shape of ``az group show``."""
        return {
            "id": self.id,
            "name": self.name,
            "location": self.location,
            "managedBy": None,
            "properties": {"provisioningState": "Succeeded"},
            "tags": None,
            "type": "Microsoft.Resources/resourceGroups",
        }


def group_id(name: str) -> str:
    return f"{SUBSCRIPTION}/resourceGroups/{name}"


def check_group_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid resource group name {name[:100]!r}: use 1-90 letters, digits, "
            "underscores, hyphens, periods and parentheses, not ending with a period",
            "InvalidName",
        )
    return name


def _record(row: Row[Any]) -> GroupRecord:
    return GroupRecord(row.name, row.location, row.created_at)


class GroupStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find(self, name: str) -> GroupRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(resource_groups).where(resource_groups.c.name_key == name.lower())
            ).first()
        return None if row is None else _record(row)

    def get(self, name: str) -> GroupRecord:
        found = self.find(name)
        if found is None:
            raise NotFoundError(
                f"resource group {name!r} not found; list groups with 'airlock group list'",
                "ResourceGroupNotFound",
            )
        return found

    def all(self) -> list[GroupRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(resource_groups).order_by(resource_groups.c.name_key))
            return [_record(row) for row in rows]

    def create(self, name: str, location: str) -> tuple[GroupRecord, bool]:
        """Create a group; as ``az group create``, creating it again in the same location
        returns it unchanged. Returns the group and whether it was created."""
        check_group_name(name)
        existing = self.find(name)
        if existing is not None:
            if existing.location.lower() != location.lower():
                raise ConflictError(
                    f"resource group {existing.name!r} already exists in location "
                    f"{existing.location!r}; it cannot move to {location!r}",
                    "InvalidResourceGroupLocation",
                )
            return existing, False
        with self.engine.begin() as conn:
            conn.execute(
                insert(resource_groups).values(
                    name=name, name_key=name.lower(), location=location, created_at=now_iso()
                )
            )
        return self.get(name), True

    def ensure(self, name: str, location: str = "local") -> GroupRecord:
        """The group named ``name``, recorded now if it is not yet (a registry, vault or
        identity created in a group nobody created first, such as the default one)."""
        found = self.find(name)
        if found is not None:
            return found
        check_group_name(name)
        with self.engine.begin() as conn:
            # Two creators at once: one insert wins, the other does nothing.
            conn.execute(
                text(
                    "INSERT INTO resource_groups (name, name_key, location, created_at)"
                    " VALUES (:name, :key, :location, :at) ON CONFLICT (name_key) DO NOTHING"
                ),
                {"name": name, "key": name.lower(), "location": location, "at": now_iso()},
            )
        return self.get(name)

    def delete(self, name: str) -> GroupRecord:
        record = self.get(name)
        with self.engine.begin() as conn:
            conn.execute(delete(resource_groups).where(resource_groups.c.name_key == name.lower()))
        return record
