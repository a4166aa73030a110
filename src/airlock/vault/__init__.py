"""The key vault: encrypted secrets, access policies, secret references and log masking.

``KeyVault`` bundles the parts a server needs; each lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from airlock.crypto import MasterKey
from airlock.vault.masking import MASKER, SecretMasker
from airlock.vault.policies import PolicyStore
from airlock.vault.resolver import SecretResolver
from airlock.vault.secret_store import SecretStore
from airlock.vault.store import VaultStore


@dataclass(frozen=True)
class KeyVault:
    vaults: VaultStore
    policies: PolicyStore
    secrets: SecretStore
    resolver: SecretResolver
    masker: SecretMasker

    @classmethod
    def open(cls, engine: Engine, key: MasterKey, masker: SecretMasker = MASKER) -> KeyVault:
        vaults = VaultStore(engine)
        policies = PolicyStore(engine, vaults)
        secrets = SecretStore(engine, vaults, key, masker)
        return cls(vaults, policies, secrets, SecretResolver(secrets, policies, masker), masker)


__all__ = ["KeyVault"]
