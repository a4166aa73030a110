"""Vault access policies: which principal may do what with a vault's secrets.

Permission names are Azure's secret permissions. The Airlock CLI user administers every vault
(as the creator of an Azure vault does); policies decide what task identities may read
through the resolver.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from airlock.common.clock import now_iso
from airlock.db.schema import principals, vault_policies
from airlock.errors import InvalidArgumentError, NotFoundError
from airlock.vault.store import TENANT, VaultRecord, VaultStore

SECRET_PERMISSIONS = (
    "all",
    "backup",
    "delete",
    "get",
    "list",
    "purge",
    "recover",
    "restore",
    "set",
)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    object_id: str
    secret_permissions: tuple[str, ...]

    def allows(self, permission: str) -> bool:
        return permission in self.secret_permissions or "all" in self.secret_permissions

    def to_json(self) -> dict[str, Any]:
        return {
            "objectId": self.object_id,
            "tenantId": TENANT,
            "applicationId": None,
            "permissions": {
                "secrets": list(self.secret_permissions),
                "keys": [],
                "certificates": [],
                "storage": [],
            },
        }


def check_permissions(names: Iterable[str]) -> tuple[str, ...]:
    """Normalise permission names (Azure's are case-insensitive); unknown ones are an error."""
    chosen: list[str] = []
    for name in names:
        lowered = name.strip().lower()
        if lowered not in SECRET_PERMISSIONS:
            raise InvalidArgumentError(
                f"unknown secret permission {name[:40]!r}; use any of "
                f"{', '.join(SECRET_PERMISSIONS)}"
            )
        if lowered not in chosen:
            chosen.append(lowered)
    if not chosen:
        raise InvalidArgumentError(
            f"give at least one secret permission ({', '.join(SECRET_PERMISSIONS)}); "
            "to remove a policy use 'airlock keyvault delete-policy'"
        )
    return tuple(chosen)


class PolicyStore:
    def __init__(self, engine: Engine, vaults: VaultStore) -> None:
        self.engine = engine
        self.vaults = vaults

    def policies(self, vault: VaultRecord) -> list[AccessPolicy]:
        query = (
            select(vault_policies)
            .where(vault_policies.c.vault_id == vault.id)
            .order_by(vault_policies.c.object_id)
        )
        with self.engine.connect() as conn:
            return [
                AccessPolicy(row.object_id, tuple(json.loads(row.secret_permissions)))
                for row in conn.execute(query)
            ]

    def policy(self, vault: VaultRecord, object_id: str) -> AccessPolicy | None:
        for policy in self.policies(vault):
            if policy.object_id == object_id.lower():
                return policy
        return None

    def set_policy(
        self, vault_name: str, object_id: str, permissions: Iterable[str]
    ) -> VaultRecord:
        """Grant ``permissions`` to a known principal, replacing what it had on this vault."""
        vault = self.vaults.get(vault_name)
        chosen = check_permissions(permissions)
        object_id = object_id.strip().lower()
        with self.engine.begin() as conn:
            known = conn.execute(
                select(principals.c.principal_id).where(principals.c.principal_id == object_id)
            ).first()
            if known is None:
                raise NotFoundError(
                    f"no identity has the object id {object_id[:40]!r}; it must be the "
                    "principalId of an identity ('airlock identity list') or of a task's "
                    "identity ('airlock acr task show --query identity.principalId')",
                    "PrincipalNotFound",
                )
            values = {"secret_permissions": json.dumps(list(chosen)), "updated_at": now_iso()}
            where = (vault_policies.c.vault_id == vault.id) & (
                vault_policies.c.object_id == object_id
            )
            if conn.execute(update(vault_policies).where(where).values(**values)).rowcount == 0:
                conn.execute(
                    insert(vault_policies).values(vault_id=vault.id, object_id=object_id, **values)
                )
        return vault

    def delete_policy(self, vault_name: str, object_id: str) -> VaultRecord:
        vault = self.vaults.get(vault_name)
        object_id = object_id.strip().lower()
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(vault_policies).where(
                    (vault_policies.c.vault_id == vault.id)
                    & (vault_policies.c.object_id == object_id)
                )
            ).rowcount
        if removed == 0:
            raise NotFoundError(
                f"vault {vault.name!r} has no access policy for object id {object_id[:40]!r}; "
                "see its policies with 'airlock keyvault show --name "
                f"{vault.name} --query properties.accessPolicies'",
                "PolicyNotFound",
            )
        return vault

    def to_json(self, vault: VaultRecord) -> dict[str, Any]:
        return vault.to_json([p.to_json() for p in self.policies(vault)])
