"""Secrets of a vault, versioned and sealed at rest.

Every ``set`` adds a version (32 hex characters, as Azure's); ``show`` opens the latest or a
given one; ``delete`` removes every version. Values are sealed with the master key under the
context ``vault/<vault-id>/secret/<name>/<version>``, so a sealed value copied to another row
does not open. Nothing here logs or raises with a value in it, and every value that passes
through is registered with the masker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.engine import Row

from airlock.common.clock import now_iso
from airlock.crypto import MasterKey, SealError
from airlock.db.schema import vault_secrets
from airlock.errors import InvalidArgumentError, NotFoundError
from airlock.vault.errors import SecretUnreadableError
from airlock.vault.masking import SecretMasker
from airlock.vault.references import check_secret_name, check_version, secret_uri
from airlock.vault.store import VaultRecord, VaultStore

# Azure Key Vault's limit on a secret value.
MAX_VALUE_BYTES = 25 * 1024


@dataclass(frozen=True, slots=True)
class SecretVersion:
    vault: str
    name: str
    version: str
    content_type: str | None
    enabled: bool
    created: str
    updated: str

    def to_json(self, value: str | None = None, with_version: bool = True) -> dict[str, Any]:
        """The shape of ``az keyvault secret show`` (``value`` only when given)."""
        shown: dict[str, Any] = {
            "id": secret_uri(self.vault, self.name, self.version if with_version else None),
            "name": self.name,
            "attributes": {
                "enabled": self.enabled,
                "created": self.created,
                "updated": self.updated,
                "expires": None,
                "notBefore": None,
                "recoveryLevel": "Purgeable",
            },
            "contentType": self.content_type,
            "kid": None,
            "managed": None,
            "tags": {},
        }
        if value is not None:
            shown["value"] = value
        return shown


def _context(vault: VaultRecord, name: str, version: str) -> str:
    return _sealed_context(vault.id, name, version)


def _sealed_context(vault_id: int, name: str, version: str) -> str:
    # Names are case-insensitive, so the context uses the lower-case form.
    return f"vault/{vault_id}/secret/{name.lower()}/{version}"


def _secret_not_found(vault: VaultRecord, name: str, version: str | None = None) -> NotFoundError:
    what = f"secret {name!r}" + (f" version {version!r}" if version else "")
    return NotFoundError(
        f"{what} not found in vault {vault.name!r}; list its secrets with "
        f"'airlock keyvault secret list --vault-name {vault.name}'",
        "SecretNotFound",
    )


class SecretStore:
    def __init__(
        self, engine: Engine, vaults: VaultStore, key: MasterKey, masker: SecretMasker
    ) -> None:
        self.engine = engine
        self.vaults = vaults
        self.key = key
        self.masker = masker

    def set(
        self, vault_name: str, name: str, value: str, content_type: str | None = None
    ) -> SecretVersion:
        """Store ``value`` as the new current version of secret ``name``."""
        vault = self.vaults.get(vault_name)
        check_secret_name(name)
        size = len(value.encode("utf-8"))
        if size > MAX_VALUE_BYTES:
            raise InvalidArgumentError(
                f"the value of secret {name!r} is {size} bytes; the limit is {MAX_VALUE_BYTES}"
            )
        self.masker.add(value)
        version = uuid.uuid4().hex
        stamp = now_iso()
        with self.engine.begin() as conn:
            # Keep the spelling the secret was first stored with (names are case-insensitive).
            first = conn.execute(
                select(vault_secrets.c.name).where(self._named(vault, name)).limit(1)
            ).first()
            stored_name = first.name if first is not None else name
            conn.execute(
                insert(vault_secrets).values(
                    vault_id=vault.id,
                    name=stored_name,
                    version=version,
                    sealed=self.key.seal(value.encode("utf-8"), _context(vault, name, version)),
                    content_type=content_type,
                    enabled=True,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        return SecretVersion(vault.name, stored_name, version, content_type, True, stamp, stamp)

    def show(
        self, vault_name: str, name: str, version: str | None = None
    ) -> tuple[SecretVersion, str]:
        """The latest (or the given) version and its value, now registered with the masker."""
        vault = self.vaults.get(vault_name)
        check_secret_name(name)
        query = select(vault_secrets).where(self._named(vault, name))
        if version is not None:
            query = query.where(vault_secrets.c.version == check_version(version))
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(vault_secrets.c.id.desc()).limit(1)).first()
        if row is None:
            raise _secret_not_found(vault, name, version)
        try:
            plain = self.key.open(row.sealed, _context(vault, row.name, row.version))
        except SealError as exc:
            raise SecretUnreadableError(str(exc)) from None
        value = plain.decode("utf-8")
        self.masker.add(value)
        return self._version(vault, row), value

    def all(self, vault_name: str) -> list[SecretVersion]:
        """The current version of every secret of the vault, without values."""
        vault = self.vaults.get(vault_name)
        latest = (
            select(func.max(vault_secrets.c.id))
            .where(vault_secrets.c.vault_id == vault.id)
            .group_by(func.lower(vault_secrets.c.name))
        )
        query = (
            select(vault_secrets)
            .where(vault_secrets.c.id.in_(latest))
            .order_by(func.lower(vault_secrets.c.name))
        )
        with self.engine.connect() as conn:
            return [self._version(vault, row) for row in conn.execute(query)]

    def versions(self, vault_name: str, name: str) -> list[SecretVersion]:
        """Every version of one secret, oldest first, without values."""
        vault = self.vaults.get(vault_name)
        check_secret_name(name)
        query = select(vault_secrets).where(self._named(vault, name)).order_by(vault_secrets.c.id)
        with self.engine.connect() as conn:
            found = [self._version(vault, row) for row in conn.execute(query)]
        if not found:
            raise _secret_not_found(vault, name)
        return found

    def delete(self, vault_name: str, name: str) -> SecretVersion:
        """Delete every version of a secret; returns what its current version was."""
        current = self.versions(vault_name, name)[-1]
        vault = self.vaults.get(vault_name)
        with self.engine.begin() as conn:
            conn.execute(delete(vault_secrets).where(self._named(vault, name)))
        return current

    def all_values(self) -> Iterator[str]:
        """Every value stored, of every version of every secret of every vault, for the
        masker to know them all when a server starts. A value whose seal does not open is
        skipped: it cannot be shown either."""
        query = select(
            vault_secrets.c.vault_id,
            vault_secrets.c.name,
            vault_secrets.c.version,
            vault_secrets.c.sealed,
        ).order_by(vault_secrets.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            try:
                plain = self.key.open(
                    row.sealed, _sealed_context(row.vault_id, row.name, row.version)
                )
            except SealError:
                continue
            yield plain.decode("utf-8")

    @staticmethod
    def _named(vault: VaultRecord, name: str) -> Any:
        return (vault_secrets.c.vault_id == vault.id) & (
            func.lower(vault_secrets.c.name) == name.lower()
        )

    @staticmethod
    def _version(vault: VaultRecord, row: Row[Any]) -> SecretVersion:
        return SecretVersion(
            vault.name,
            row.name,
            row.version,
            row.content_type,
            bool(row.enabled),
            row.created_at,
            row.updated_at,
        )
