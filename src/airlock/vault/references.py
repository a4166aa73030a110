"""Secret references: the URIs by which tasks name a secret without holding its value.

Two forms name a secret of one of Airlock's own vaults::

    https://<vault>.vault.airlock.internal/secrets/<name>[/<version>]   (Airlock's identifier)
    https://<vault>.vault.azure.net/secrets/<name>[/<version>]          (Azure's, as in the seeds)

Azure's form is read as a pointer into Airlock's vault of the same name, so that the seeds'
commands and real task files resolve unchanged; nothing is ever fetched from Azure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airlock.errors import InvalidArgumentError

AIRLOCK_SUFFIX = ".vault.airlock.internal"
AZURE_SUFFIX = ".vault.azure.net"

# Azure's rules: vault names 3-24 characters, letters, digits and hyphens, starting with a
# letter, ending with a letter or digit, no two hyphens in a row; secret names 1-127
# letters, digits and hyphens; versions 32 hex characters.
VAULT_NAME_RE = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
SECRET_NAME_RE = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
VERSION_RE = re.compile(r"^[0-9a-fA-F]{32}$")

_URI_RE = re.compile(
    r"^https://(?P<vault>[^./]+)(?P<suffix>\.vault\.airlock\.internal|\.vault\.azure\.net)"
    r"(?::443)?/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SecretReference:
    vault: str
    name: str
    version: str | None = None

    def uri(self) -> str:
        """Airlock's own identifier of the secret (the ``id`` the API returns)."""
        return secret_uri(self.vault, self.name, self.version)


def vault_uri(vault: str) -> str:
    return f"https://{vault.lower()}{AIRLOCK_SUFFIX}/"


def secret_uri(vault: str, name: str, version: str | None = None) -> str:
    base = f"{vault_uri(vault)}secrets/{name}"
    return f"{base}/{version}" if version else base


def check_vault_name(name: str) -> str:
    if not VAULT_NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid vault name {name[:40]!r}: a vault name has 3-24 characters, letters, "
            "digits and hyphens, starts with a letter, ends with a letter or digit and has no "
            "two hyphens in a row (as Azure Key Vault)",
            "InvalidName",
        )
    return name


def check_secret_name(name: str) -> str:
    if not SECRET_NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid secret name {name[:40]!r}: a secret name has 1-127 characters, letters, "
            "digits and hyphens only (as Azure Key Vault)",
            "InvalidName",
        )
    return name


def check_version(version: str) -> str:
    if not VERSION_RE.match(version):
        raise InvalidArgumentError(
            f"invalid secret version {version[:40]!r}: a version is 32 hexadecimal characters",
            "InvalidArgument",
        )
    return version.lower()


def parse_reference(text: str) -> SecretReference:
    """Parse a secret URI in either form; anything else is an ``InvalidReference`` error."""
    match = _URI_RE.match(text.strip())
    if match is None:
        raise InvalidArgumentError(
            f"invalid secret reference {text[:120]!r}: use "
            f"https://<vault>{AIRLOCK_SUFFIX}/secrets/<name>[/<version>] or "
            f"https://<vault>{AZURE_SUFFIX}/secrets/<name>[/<version>]",
            "InvalidReference",
        )
    version = match["version"] or None
    return SecretReference(
        vault=check_vault_name(match["vault"]),
        name=check_secret_name(match["name"]),
        version=check_version(version) if version else None,
    )


def is_reference(text: str) -> bool:
    """Whether ``text`` looks like a secret URI (for callers that take a value or a URI)."""
    return _URI_RE.match(text.strip()) is not None
