"""Role assignments, shaped as ``az role assignment`` shows them.

They are enforced: the REST API authorises every call by the caller's assignments whose
scope covers the resource (``airlock.server.authz``), and the registry data plane derives
what a principal may pull or push from them (``airlock.auth``). Every change bumps the
identity epoch in its transaction, so cached registry grants are dropped at once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.engine import Row

from airlock.auth.roles import SERVER_SCOPE, UnknownRoleError, normalise_scope
from airlock.auth.roles import role as role_definition
from airlock.common.clock import now_iso
from airlock.db import epochs
from airlock.db.schema import role_assignments
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.identity.groups import SUBSCRIPTION, GroupStore
from airlock.identity.principals import PrincipalStore

_GROUP_SCOPE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/([^/]+)(/.*)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    assignee: str
    role: str
    scope: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The shape of ``az role assignment create``."""
        return {
            "id": f"{self.scope.rstrip('/')}/providers/Microsoft.Authorization/"
            f"roleAssignments/{self.id}",
            "name": self.id,
            "principalId": self.assignee,
            "principalType": "ServicePrincipal",
            "roleDefinitionId": f"{SUBSCRIPTION}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{role_definition(self.role).id}",
            "roleDefinitionName": self.role,
            "scope": self.scope,
            "createdOn": self.created_at,
            "type": "Microsoft.Authorization/roleAssignments",
        }


def check_role(role: str) -> str:
    """The built-in role's canonical name (role names are case-insensitive, as in Azure)."""
    try:
        return role_definition(role).name
    except UnknownRoleError as exc:
        raise InvalidArgumentError(str(exc), "RoleNotFound") from None


def _record(row: Row[Any]) -> RoleAssignment:
    return RoleAssignment(row.id, row.assignee, row.role, row.scope, row.created_at)


class RoleStore:
    def __init__(self, engine: Engine, principals: PrincipalStore, groups: GroupStore) -> None:
        self.engine = engine
        self.principals = principals
        self.groups = groups

    def create(self, assignee: str, role: str, scope: str) -> RoleAssignment:
        canonical = check_role(role)
        scope = self._check_scope(scope)
        principal_id = self.principals.find(assignee).principal_id
        if self.all(assignee=principal_id, role=canonical, scope=scope):
            raise ConflictError(
                f"the role assignment already exists: {canonical} for {principal_id} at {scope}",
                "RoleAssignmentExists",
            )
        record = RoleAssignment(str(uuid.uuid4()), principal_id, canonical, scope, now_iso())
        with self.engine.begin() as conn:
            epochs.bump(conn)
            conn.execute(
                insert(role_assignments).values(
                    id=record.id,
                    assignee=record.assignee,
                    role=record.role,
                    scope=record.scope,
                    created_at=record.created_at,
                )
            )
        return record

    def all(
        self, assignee: str | None = None, role: str | None = None, scope: str | None = None
    ) -> list[RoleAssignment]:
        query = select(role_assignments).order_by(role_assignments.c.created_at)
        if assignee is not None:
            query = query.where(
                role_assignments.c.assignee == self.principals.find(assignee).principal_id
            )
        if role is not None:
            query = query.where(role_assignments.c.role == check_role(role))
        with self.engine.connect() as conn:
            found = [_record(row) for row in conn.execute(query)]
        if scope is not None:
            found = [a for a in found if a.scope.lower() == scope.rstrip("/").lower()]
        return found

    def delete(
        self,
        ids: list[str] | None = None,
        assignee: str | None = None,
        role: str | None = None,
        scope: str | None = None,
    ) -> list[RoleAssignment]:
        """Delete the assignments with the given ids, or else those matching the filters."""
        matching = self.matching(ids, assignee, role, scope)
        self._keep_an_owner(matching)
        with self.engine.begin() as conn:
            epochs.bump(conn)
            conn.execute(
                delete(role_assignments).where(role_assignments.c.id.in_([a.id for a in matching]))
            )
        return matching

    def matching(
        self,
        ids: list[str] | None = None,
        assignee: str | None = None,
        role: str | None = None,
        scope: str | None = None,
    ) -> list[RoleAssignment]:
        """The assignments with the given ids, or else those matching the filters; raises
        NotFoundError when there are none."""
        if ids:
            wanted = {i.rsplit("/", 1)[-1].lower() for i in ids}
            matching = [a for a in self.all() if a.id in wanted]
        elif assignee is None and role is None and scope is None:
            raise InvalidArgumentError(
                "say which role assignments to delete: ids, or an assignee, role or scope"
            )
        else:
            matching = self.all(assignee=assignee, role=role, scope=scope)
        if not matching:
            raise NotFoundError(
                "no role assignment matches; list them with 'airlock role assignment list'",
                "RoleAssignmentNotFound",
            )
        return matching

    def delete_under(self, scope: str) -> int:
        """Delete the assignments at ``scope`` or below it (a deleted group's)."""
        prefix = scope.rstrip("/").lower()
        doomed = [
            a.id
            for a in self.all()
            if a.scope.lower() == prefix or a.scope.lower().startswith(prefix + "/")
        ]
        if doomed:
            with self.engine.begin() as conn:
                epochs.bump(conn)
                conn.execute(delete(role_assignments).where(role_assignments.c.id.in_(doomed)))
        return len(doomed)

    def assigned(self, principal_id: str) -> tuple[tuple[str, str], ...]:
        """Every (role, scope) a principal is assigned, for ``roles.held_at``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(role_assignments.c.role, role_assignments.c.scope).where(
                    role_assignments.c.assignee == principal_id
                )
            ).all()
        return tuple((row.role, row.scope) for row in rows)

    def ensure(self, principal_id: str, role: str, scope: str) -> None:
        """Assign a role unless the principal already has it there (the owner's, at start)."""
        canonical, scope = check_role(role), normalise_scope(scope)
        existing = [a for a in self.all() if a.assignee == principal_id]
        if any(a.role == canonical and a.scope.lower() == scope.lower() for a in existing):
            return
        with self.engine.begin() as conn:
            epochs.bump(conn)
            conn.execute(
                insert(role_assignments).values(
                    id=str(uuid.uuid4()),
                    assignee=principal_id,
                    role=canonical,
                    scope=scope,
                    created_at=now_iso(),
                )
            )

    def _keep_an_owner(self, doomed: list[RoleAssignment]) -> None:
        """Refuse to delete the last Owner assignment on the whole server: nobody could
        assign roles any more."""
        server_owners = [
            a for a in self.all(role="Owner") if a.scope.lower() == SERVER_SCOPE.lower()
        ]
        doomed_ids = {a.id for a in doomed}
        if server_owners and all(a.id in doomed_ids for a in server_owners):
            raise InvalidArgumentError(
                f"this would delete the last Owner assignment at {SERVER_SCOPE}; assign Owner "
                "there to another principal first",
                "LastOwner",
            )

    def _check_scope(self, scope: str) -> str:
        scope = scope.strip().rstrip("/")
        if not scope.startswith("/") or len(scope) > 512:
            raise InvalidArgumentError(
                f"invalid scope {scope[:80]!r}: a scope is a resource id such as "
                f"'{SUBSCRIPTION}/resourceGroups/<group>' "
                "(airlock group show -n <group> --query id -o tsv)",
                "InvalidScope",
            )
        match = _GROUP_SCOPE.match(scope)
        if match is not None:
            self.groups.get(match.group(1))
        return scope
