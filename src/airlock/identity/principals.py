"""Principals: the identities that access policies and role assignments name.

Two kinds share one table: user-assigned identities (``identity create``), unique by name in
a resource group, and the system-assigned identities of resources such as tasks
(``ensure_system_identity``), unique by owner. Each has a ``principalId`` (what policies and
role assignments name) and a ``clientId``, both random UUIDs as in Azure.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select
from sqlalchemy.engine import Connection, Row

from airlock.auth.identities import SERVICE_PRINCIPAL_KIND
from airlock.common.clock import now_iso
from airlock.db import epochs
from airlock.db.schema import principals, role_assignments, vault_policies
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

TENANT = "local"
USER_ASSIGNED = "user"
# Principals that sign in (airlock.identity.accounts).
OWNER = "owner"
DIRECTORY_USER = "directory-user"
SERVICE_PRINCIPAL = SERVICE_PRINCIPAL_KIND
# System-assigned kinds are stored as "system/<owner kind>", e.g. "system/task".
SYSTEM_PREFIX = "system/"
# Azure's rule for user-assigned identity names.
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")


@dataclass(frozen=True, slots=True)
class Principal:
    principal_id: str
    client_id: str
    name: str
    resource_group: str
    kind: str
    created_at: str
    display_name: str = ""

    @property
    def system_assigned(self) -> bool:
        return self.kind.startswith(SYSTEM_PREFIX)

    def to_json(self) -> dict[str, Any]:
        """The shape of ``az identity show``."""
        return {
            "id": f"/subscriptions/local/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{self.name}",
            "name": self.name,
            "principalId": self.principal_id,
            "clientId": self.client_id,
            "tenantId": TENANT,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "resourceGroup": self.resource_group,
            "location": "local",
        }

    def identity_json(self) -> dict[str, Any]:
        """The ``identity`` block of a resource with this system-assigned identity."""
        return {"principalId": self.principal_id, "tenantId": TENANT, "type": "SystemAssigned"}


def check_identity_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid identity name {name[:130]!r}: use 3-128 letters, digits, hyphens and "
            "underscores, starting with a letter or digit",
            "InvalidName",
        )
    return name


def principal_from_row(row: Row[Any]) -> Principal:
    return Principal(
        row.principal_id,
        row.client_id,
        row.name,
        row.resource_group,
        row.kind,
        row.created_at,
        row.display_name,
    )


def _identity_not_found(group: str, name: str) -> NotFoundError:
    return NotFoundError(
        f"identity {name!r} not found in resource group {group!r}; "
        "list identities with 'airlock identity list'",
        "IdentityNotFound",
    )


class PrincipalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str, resource_group: str) -> Principal:
        check_identity_name(name)
        with self.engine.begin() as conn:
            if self._user(conn, resource_group, name) is not None:
                raise ConflictError(
                    f"an identity named {name!r} already exists in resource group "
                    f"{resource_group!r}"
                )
            return self.insert(conn, name, resource_group, USER_ASSIGNED)

    def get(self, resource_group: str, name: str) -> Principal:
        with self.engine.connect() as conn:
            found = self._user(conn, resource_group, name)
        if found is None:
            raise _identity_not_found(resource_group, name)
        return found

    def find(self, principal_or_client_id: str) -> Principal:
        """A principal of either kind by its principalId or clientId."""
        key = principal_or_client_id.strip().lower()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(principals).where(
                    or_(principals.c.principal_id == key, principals.c.client_id == key)
                )
            ).first()
            if row is None:
                # As az accepts a user principal name for --assignee.
                row = conn.execute(
                    select(principals).where(
                        principals.c.kind.in_((OWNER, DIRECTORY_USER))
                        & (func.lower(principals.c.name) == key)
                    )
                ).first()
        if row is None:
            raise NotFoundError(
                f"no principal has the id or user name {principal_or_client_id[:40]!r}; use "
                "the principalId or clientId of an identity ('airlock identity list'), a "
                "service principal's appId ('airlock ad sp list') or a user's name "
                "('airlock ad user list')",
                "PrincipalNotFound",
            )
        return principal_from_row(row)

    def all(self, resource_group: str | None = None) -> list[Principal]:
        """User-assigned identities (as ``az identity list``), optionally of one group."""
        query = select(principals).where(principals.c.kind == USER_ASSIGNED)
        if resource_group is not None:
            query = query.where(func.lower(principals.c.resource_group) == resource_group.lower())
        query = query.order_by(
            func.lower(principals.c.resource_group), func.lower(principals.c.name)
        )
        with self.engine.connect() as conn:
            return [principal_from_row(row) for row in conn.execute(query)]

    def delete(self, resource_group: str, name: str) -> Principal:
        found = self.get(resource_group, name)
        with self.engine.begin() as conn:
            self.forget(conn, found)
        return found

    def ensure_system_identity(self, kind: str, owner_name: str) -> Principal:
        """The system-assigned identity of resource ``owner_name`` (e.g. kind "task",
        owner "myregistry/node-public"), created on first use."""
        stored_kind = SYSTEM_PREFIX + kind
        with self.engine.begin() as conn:
            row = conn.execute(
                select(principals).where(
                    (principals.c.kind == stored_kind) & (principals.c.name == owner_name)
                )
            ).first()
            if row is not None:
                return principal_from_row(row)
            return self.insert(conn, owner_name, "", stored_kind)

    def remove_system_identity(self, kind: str, owner_name: str) -> None:
        """Forget a resource's system-assigned identity, with its grants (no-op if none)."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(principals).where(
                    (principals.c.kind == SYSTEM_PREFIX + kind) & (principals.c.name == owner_name)
                )
            ).all()
            for row in rows:
                self.forget(conn, principal_from_row(row))

    @staticmethod
    def _user(conn: Connection, resource_group: str, name: str) -> Principal | None:
        row = conn.execute(
            select(principals).where(
                (principals.c.kind == USER_ASSIGNED)
                & (func.lower(principals.c.name) == name.lower())
                & (func.lower(principals.c.resource_group) == resource_group.lower())
            )
        ).first()
        return None if row is None else principal_from_row(row)

    @staticmethod
    def insert(
        conn: Connection, name: str, resource_group: str, kind: str, display_name: str = ""
    ) -> Principal:
        """A new principal with fresh ids and stamp, in the caller's transaction."""
        record = Principal(
            str(uuid.uuid4()),
            str(uuid.uuid4()),
            name,
            resource_group,
            kind,
            now_iso(),
            display_name,
        )
        conn.execute(
            insert(principals).values(
                principal_id=record.principal_id,
                client_id=record.client_id,
                name=record.name,
                resource_group=record.resource_group,
                kind=record.kind,
                created_at=record.created_at,
                stamp=str(uuid.uuid4()),
                display_name=display_name,
            )
        )
        return record

    @staticmethod
    def forget(conn: Connection, principal: Principal) -> None:
        """Delete a principal with everything that names it, in the caller's transaction."""
        # Azure leaves grants of a deleted identity behind as "unknown"; Airlock removes them
        # in the same transaction, so no policy or assignment outlives what it names. The
        # epoch tells every server process to drop grants it cached for it.
        pid = principal.principal_id
        epochs.bump(conn)
        conn.execute(delete(vault_policies).where(vault_policies.c.object_id == pid))
        conn.execute(delete(role_assignments).where(role_assignments.c.assignee == pid))
        conn.execute(delete(principals).where(principals.c.principal_id == pid))
