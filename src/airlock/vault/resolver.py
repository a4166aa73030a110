"""Secret references to values, on behalf of a principal (a task's identity).

This is the only way a task gets a secret: by URI, with the principal's ``get`` permission
checked, and the value registered with the masker before anyone else sees it.
"""

from __future__ import annotations

from airlock.vault.errors import AccessDeniedError
from airlock.vault.masking import SecretMasker
from airlock.vault.policies import PolicyStore
from airlock.vault.references import SecretReference, parse_reference
from airlock.vault.secret_store import SecretStore


class SecretResolver:
    def __init__(self, secrets: SecretStore, policies: PolicyStore, masker: SecretMasker) -> None:
        self.secrets = secrets
        self.policies = policies
        self.masker = masker

    def resolve(self, reference: str | SecretReference, principal_id: str) -> str:
        """The value ``reference`` points at, if ``principal_id`` may ``get`` it."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        vault = self.policies.vaults.get(ref.vault)
        policy = self.policies.policy(vault, principal_id)
        if policy is None or not policy.allows("get"):
            raise AccessDeniedError(
                f"identity {principal_id!r} may not get secrets of vault {vault.name!r}; "
                f"grant it with 'airlock keyvault set-policy --name {vault.name} "
                f"--object-id {principal_id} --secret-permissions get'"
            )
        _, value = self.secrets.show(vault.name, ref.name, ref.version)
        self.masker.add(value)
        return value
