"""Named key vaults: create, show, list, delete (their secrets and policies go with them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.engine import Row

from airlock.common.clock import now_iso
from airlock.db.schema import vaults
from airlock.errors import ConflictError, NotFoundError
from airlock.vault.references import check_vault_name, vault_uri

TENANT = "local"


@dataclass(frozen=True, slots=True)
class VaultRecord:
    id: int
    name: str
    resource_group: str
    location: str
    created_at: str

    @property
    def uri(self) -> str:
        return vault_uri(self.name)

    def to_json(self, access_policies: list[dict[str, Any]]) -> dict[str, Any]:
        """The shape of ``az keyvault show``."""
        return {
            "id": f"/subscriptions/local/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.KeyVault/vaults/{self.name}",
            "name": self.name,
            "location": self.location,
            "resourceGroup": self.resource_group,
            "type": "Microsoft.KeyVault/vaults",
            "tags": {},
            "systemData": {"createdAt": self.created_at},
            "properties": {
                "vaultUri": self.uri,
                "tenantId": TENANT,
                "sku": {"family": "A", "name": "standard"},
                "accessPolicies": access_policies,
                "enableSoftDelete": False,
                "provisioningState": "Succeeded",
            },
        }


def _record(row: Row[Any]) -> VaultRecord:
    return VaultRecord(row.id, row.name, row.resource_group, row.location, row.created_at)


def vault_not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"vault {name!r} not found; list vaults with 'airlock keyvault list'", "VaultNotFound"
    )


class VaultStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> VaultRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(vaults).where(vaults.c.name_key == name.lower())).first()
        if row is None:
            raise vault_not_found(name)
        return _record(row)

    def all(self, resource_group: str | None = None) -> list[VaultRecord]:
        query = select(vaults).order_by(vaults.c.name_key)
        with self.engine.connect() as conn:
            found = [_record(row) for row in conn.execute(query)]
        if resource_group is None:
            return found
        # Azure resource group names are case-insensitive.
        return [v for v in found if v.resource_group.lower() == resource_group.lower()]

    def create(self, name: str, resource_group: str, location: str) -> VaultRecord:
        check_vault_name(name)
        with self.engine.begin() as conn:
            taken = conn.execute(
                select(vaults.c.name).where(vaults.c.name_key == name.lower())
            ).first()
            if taken is not None:
                raise ConflictError(f"a vault named {taken.name!r} already exists")
            conn.execute(
                insert(vaults).values(
                    name=name,
                    name_key=name.lower(),
                    resource_group=resource_group,
                    location=location,
                    created_at=now_iso(),
                )
            )
        return self.get(name)

    def delete(self, name: str) -> VaultRecord:
        """Delete a vault with its secrets and policies (by cascade; no soft delete)."""
        record = self.get(name)
        with self.engine.begin() as conn:
            conn.execute(delete(vaults).where(vaults.c.id == record.id))
        return record
