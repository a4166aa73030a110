"""Role assignments: recorded as ``az role assignment`` records them.

Airlock enforces vault access through access policies and registry access through tokens;
role assignments are kept so that the seed's commands run and can be listed, and so that
later features can consult them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.engine import Row

from airlock.db.schema import role_assignments
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.identity.clock import now_iso
from airlock.identity.groups import SUBSCRIPTION, GroupStore
from airlock.identity.principals import PrincipalStore

# The Azure built-in roles the seeds use, with their well-known definition ids.
BUILTIN_ROLES = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "AcrDelete": "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
    "AcrImageSigner": "6cef56e8-d556-48e5-a04f-b8b64b1a3c2b",
}
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
            f"roleDefinitions/{BUILTIN_ROLES.get(self.role, '')}",
            "roleDefinitionName": self.role,
            "scope": self.scope,
            "createdOn": self.created_at,
            "type": "Microsoft.Authorization/roleAssignments",
        }


def check_role(role: str) -> str:
    """The built-in role's canonical name (role names are case-insensitive, as in Azure)."""
    for known in BUILTIN_ROLES:
        if known.lower() == role.strip().lower():
            return known
    raise InvalidArgumentError(
        f"unknown role {role[:60]!r}; Airlock knows the built-in roles {', '.join(BUILTIN_ROLES)}",
        "RoleNotFound",
    )


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
        with self.engine.begin() as conn:
            conn.execute(
                delete(role_assignments).where(role_assignments.c.id.in_([a.id for a in matching]))
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
                conn.execute(delete(role_assignments).where(role_assignments.c.id.in_(doomed)))
        return len(doomed)

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
