"""Secret references: Airlock's and Azure's URI forms, and the names Azure allows."""

from __future__ import annotations

import pytest

from airlock.errors import InvalidArgumentError
from airlock.vault.references import (
    SecretReference,
    check_secret_name,
    check_vault_name,
    is_reference,
    parse_reference,
)

VERSION = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "https://acr-task-credentials.vault.azure.net/secrets/github-token",
            SecretReference("acr-task-credentials", "github-token"),
        ),
        (
            f"https://kv1.vault.airlock.internal/secrets/registry-user/{VERSION}",
            SecretReference("kv1", "registry-user", VERSION),
        ),
        (
            "https://KV1.VAULT.AZURE.NET/secrets/Token/",
            SecretReference("KV1", "Token"),
        ),
        (
            "https://kv1.vault.azure.net:443/secrets/token",
            SecretReference("kv1", "token"),
        ),
    ],
)
def test_parse_both_forms(uri: str, expected: SecretReference) -> None:
    assert parse_reference(uri) == expected
    assert is_reference(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://kv1.vault.azure.net/secrets/token",  # not https
        "https://kv1.vault.example.com/secrets/token",  # another service
        "https://kv1.vault.azure.net/keys/token",  # keys are not secrets
        "https://kv1.vault.azure.net/secrets/",  # no name
        "https://kv1.vault.azure.net/secrets/a/b/c",  # too deep
        "kv1/token",
        "",
    ],
)
def test_other_uris_are_a_clear_error(uri: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_reference(uri)
    assert caught.value.code == "InvalidReference"
    assert "vault.airlock.internal/secrets/<name>" in caught.value.message
    assert not is_reference(uri)


def test_bad_parts_inside_a_well_formed_uri() -> None:
    with pytest.raises(InvalidArgumentError, match="invalid secret name"):
        parse_reference("https://kv1.vault.azure.net/secrets/bad_name")
    with pytest.raises(InvalidArgumentError, match="invalid vault name"):
        parse_reference("https://1kv.vault.azure.net/secrets/token")
    with pytest.raises(InvalidArgumentError, match="32 hexadecimal"):
        parse_reference("https://kv1.vault.azure.net/secrets/token/123")


def test_uri_round_trip() -> None:
    ref = SecretReference("MyVault", "token", VERSION)
    assert ref.uri() == f"https://myvault.vault.airlock.internal/secrets/token/{VERSION}"
    assert parse_reference(ref.uri()) == SecretReference("myvault", "token", VERSION)


@pytest.mark.parametrize("name", ["abc", "acr-task-credentials", "a1-b2", "x" * 24, "Kv9"])
def test_valid_vault_names(name: str) -> None:
    assert check_vault_name(name) == name


@pytest.mark.parametrize(
    "name", ["ab", "x" * 25, "1vault", "-vault", "vault-", "va--ult", "va_ult", "vält"]
)
def test_invalid_vault_names(name: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_vault_name(name)
    assert caught.value.code == "InvalidName"
    assert "3-24 characters" in caught.value.message


@pytest.mark.parametrize("name", ["a", "github-token", "A1", "x" * 127, "-lead"])
def test_valid_secret_names(name: str) -> None:
    assert check_secret_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 128, "with_underscore", "dot.ted", "sp ace", "é"])
def test_invalid_secret_names(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="1-127 characters"):
        check_secret_name(name)
