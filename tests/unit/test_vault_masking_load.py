"""A server's masker knows every stored value when it opens, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

from airlock.server.services import Services
from airlock.vault.masking import MASKER


def password_values(credentials: dict[str, object]) -> list[str]:
    listed = credentials["passwords"]
    assert isinstance(listed, list)
    return [str(entry["value"]) for entry in listed]


def test_open_loads_every_version_and_admin_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    long_value = "-----BEGIN KEY-----\n" + "q7Zx" * 5000 + "\n-----END KEY-----"
    first = Services.open(home)
    try:
        first.vault.vaults.create("kv-load", "rg", "local")
        first.vault.secrets.set("kv-load", "s", "first-version-value")
        first.vault.secrets.set("kv-load", "s", "second-version-value")
        first.vault.secrets.set("kv-load", "pem", long_value)
        record = first.registries.add(
            name="loadreg", port=5999, resource_group="rg", location="local", sku="Basic"
        )
        first.auth.prepare_registry(record.id)  # makes the admin passwords
        admin = first.auth.admin
        passwords = password_values(admin.credentials(record.id, "loadreg"))
        # A renewed password is known at once, in this process.
        passwords = password_values(admin.renew(record.id, "loadreg", "password2"))
        assert MASKER.mask(passwords[1]) == "***"
    finally:
        first.close()
    MASKER.clear()  # as in a new process
    try:
        assert MASKER.mask("first-version-value") == "first-version-value"
        again = Services.open(home)
        try:
            text = f"a first-version-value b second-version-value c {long_value} d"
            assert MASKER.mask(text) == "a *** b *** c *** d"
            for password in passwords:
                assert MASKER.mask(f"pw={password}") == "pw=***"
            assert sorted(again.auth.admin.all_passwords()) == sorted(passwords)
            assert sorted(again.vault.secrets.all_values()) == sorted(
                ["first-version-value", "second-version-value", long_value]
            )
        finally:
            again.close()
    finally:
        MASKER.clear()
