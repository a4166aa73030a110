"""The keyvault CLI's client-side parts: reading --file, --id, and staying light."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from airlock.cli.errors import CLIError
from airlock.cli.keyvault import parse_secret_id, read_value
from airlock.cli.main import build_parser


def test_read_value_encodings(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_bytes(b"\x00\xffbin")
    assert read_value(path, "base64") == base64.b64encode(b"\x00\xffbin").decode()
    assert read_value(path, "hex") == "00ff62696e"
    path.write_text("héllo\n", encoding="utf-8")
    assert read_value(path, "utf-8") == "héllo\n"


def test_read_value_refuses_undecodable_text_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_bytes(b"top\xffsecret")
    with pytest.raises(CLIError) as caught:
        read_value(path, "utf-8")
    assert "secret" not in str(caught.value).replace(str(path), "")
    assert "--encoding base64" in str(caught.value)


def test_read_value_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CLIError, match="cannot read"):
        read_value(tmp_path / "absent", "utf-8")


def test_parse_secret_id_both_forms() -> None:
    assert parse_secret_id("https://kv1.vault.azure.net/secrets/tok", None) == ("kv1", "tok", None)
    version = "a" * 32
    assert parse_secret_id(f"https://kv1.vault.airlock.internal/secrets/tok/{version}", None) == (
        "kv1",
        "tok",
        version,
    )
    with pytest.raises(CLIError, match="invalid secret identifier"):
        parse_secret_id("https://example.com/secrets/tok", None)


def test_seed_commands_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            "kv1",
            "--name",
            "tok",
            "--query",
            "value",
            "-o",
            "tsv",
        ]
    )
    assert (args.vault_name, args.name, args.query, args.output) == ("kv1", "tok", "value", "tsv")
    args = parser.parse_args(
        [
            "keyvault",
            "set-policy",
            "--name",
            "kv1",
            "--resource-group",
            "g",
            "--object-id",
            "p",
            "--secret-permissions",
            "get",
            "LIST",
        ]
    )
    assert args.secret_permissions == ["get", "list"]
    args = parser.parse_args(["group", "delete", "-n", "g", "--no-wait", "-y"])
    assert (args.group, args.yes) == ("g", True)


def test_cli_does_not_import_the_vault_or_cryptography() -> None:
    heavy = ("cryptography", "airlock.vault", "airlock.identity", "sqlalchemy")
    code = (
        "import sys, airlock.cli.main, airlock.cli.keyvault; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
