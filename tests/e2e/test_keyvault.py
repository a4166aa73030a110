"""The key vault, identities, groups and role assignments through the CLI and a real server:
the seed's commands, bad input, and secrets that never reach the state folder or the log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import Airlock, start_airlock

AKV = "acr-task-credentials"
AKV_RG = f"{AKV}-rg"
ACI_RG = "hello-world-aci-rg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    airlock = start_airlock(tmp_path_factory.mktemp("kv-home"))
    try:
        yield airlock
    finally:
        airlock.stop()


def run(server: Airlock, *args: str) -> Any:
    done = server.cli(*args, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith(("{", "[")) else done.stdout


def tsv(server: Airlock, *args: str) -> str:
    return str(run(server, *args, "-o", "tsv")).strip()


def test_seed_sequence(server: Airlock, tmp_path: Path) -> None:
    for group in (AKV_RG, ACI_RG):
        run(server, "group", "create", "--name", group, "--location", "eastus")
    run(server, "keyvault", "create", "--resource-group", AKV_RG, "--name", AKV)
    run(
        server,
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        AKV,
        "--name",
        "registry-dockerhub-user",
        "--value",
        "dockeruser",
    )
    run(
        server,
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        AKV,
        "--name",
        "registry-dockerhub-password",
        "--value",
        "dockerpassword",
    )
    run(
        server,
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        AKV,
        "--name",
        "github-token",
        "--value",
        "ghp_first",
    )
    assert (
        tsv(
            server,
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            AKV,
            "--name",
            "github-token",
            "--query",
            "value",
        )
        == "ghp_first"
    )

    # --file, a new version, and the old one still readable by version.
    token_file = tmp_path / "token"
    token_file.write_text("ghp_second\n", encoding="utf-8")
    first_version = tsv(
        server,
        "keyvault",
        "secret",
        "show",
        "--vault-name",
        AKV,
        "--name",
        "github-token",
        "--query",
        "id",
    ).rsplit("/", 1)[1]
    second = run(
        server,
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        AKV,
        "--name",
        "github-token",
        "--file",
        str(token_file),
    )
    assert second["value"] == "ghp_second\n"
    assert second["id"].startswith(f"https://{AKV}.vault.airlock.internal/secrets/github-token/")
    shown = run(server, "keyvault", "secret", "show", "--vault-name", AKV, "--name", "github-token")
    assert shown["value"] == "ghp_second\n" and shown["id"] == second["id"]
    assert set(shown) >= {"id", "name", "value", "attributes", "contentType", "tags"}
    assert shown["attributes"]["enabled"] is True
    old = run(
        server,
        "keyvault",
        "secret",
        "show",
        "--vault-name",
        AKV,
        "--name",
        "github-token",
        "--version",
        first_version,
    )
    assert old["value"] == "ghp_first"
    versions = run(
        server, "keyvault", "secret", "list-versions", "--vault-name", AKV, "--name", "github-token"
    )
    assert len(versions) == 2 and all("value" not in v for v in versions)
    by_azure_id = run(
        server,
        "keyvault",
        "secret",
        "show",
        "--id",
        f"https://{AKV}.vault.azure.net/secrets/registry-dockerhub-user",
    )
    assert by_azure_id["value"] == "dockeruser"

    listed = run(server, "keyvault", "secret", "list", "--vault-name", AKV)
    assert [s["name"] for s in listed] == [
        "github-token",
        "registry-dockerhub-password",
        "registry-dockerhub-user",
    ]
    assert all("value" not in s for s in listed)
    assert listed[0]["id"] == f"https://{AKV}.vault.airlock.internal/secrets/github-token"

    # An identity's principalId in a policy, and a role assignment scoped by `group show`.
    principal = tsv(
        server,
        "identity",
        "create",
        "--name",
        "hello-world-task",
        "-g",
        AKV_RG,
        "--query",
        "principalId",
    )
    policies = run(
        server,
        "keyvault",
        "set-policy",
        "--name",
        AKV,
        "--resource-group",
        AKV_RG,
        "--object-id",
        principal,
        "--secret-permissions",
        "get",
        "--query",
        "properties.accessPolicies",
    )
    assert policies == [
        {
            "applicationId": None,
            "objectId": principal,
            "tenantId": "local",
            "permissions": {"secrets": ["get"], "keys": [], "certificates": [], "storage": []},
        }
    ]
    scope = tsv(server, "group", "show", "-n", ACI_RG, "--query", "id")
    assert scope == f"/subscriptions/local/resourceGroups/{ACI_RG}"
    assignment = run(
        server,
        "role",
        "assignment",
        "create",
        "--assignee",
        principal,
        "--scope",
        scope,
        "--role",
        "owner",
    )
    assert assignment["roleDefinitionName"] == "Owner" and assignment["scope"] == scope
    assert len(run(server, "role", "assignment", "list", "--assignee", principal)) == 1

    run(server, "keyvault", "secret", "delete", "--vault-name", AKV, "--name", "github-token")
    names = tsv(server, "keyvault", "secret", "list", "--vault-name", AKV, "--query", "[].name")
    assert "github-token" not in names.split()

    # Cleaning up as the seed does: the groups go with what is in them.
    run(server, "acr", "create", "--name", "helloworldreg", "-g", ACI_RG)
    for group in (AKV_RG, ACI_RG):
        run(server, "group", "delete", "-n", group, "--no-wait", "-y")
    assert run(server, "keyvault", "list") == []
    assert run(server, "acr", "list") == []
    assert run(server, "identity", "list") == []
    # Only the owner's own assignments on the whole server are left.
    left = run(server, "role", "assignment", "list")
    assert {(a["roleDefinitionName"], a["scope"]) for a in left} == {
        ("Owner", "/subscriptions/local"),
        ("Key Vault Administrator", "/subscriptions/local"),
    }
    assert tsv(server, "group", "exists", "-n", AKV_RG) == "false"


@pytest.fixture(scope="module")
def populated(server: Airlock) -> str:
    """A vault, secret, group, identity, policy and assignment that bad input must not touch."""
    run(server, "group", "create", "--name", "bad-rg", "--location", "local")
    run(server, "keyvault", "create", "--name", "bad-kv", "-g", "bad-rg")
    run(
        server,
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        "bad-kv",
        "--name",
        "keep",
        "--value",
        "keep-this-value",
    )
    principal = tsv(
        server, "identity", "create", "-n", "bad-id", "-g", "bad-rg", "--query", "principalId"
    )
    run(
        server,
        "keyvault",
        "set-policy",
        "--name",
        "bad-kv",
        "--object-id",
        principal,
        "--secret-permissions",
        "get",
    )
    run(
        server,
        "role",
        "assignment",
        "create",
        "--assignee",
        principal,
        "--role",
        "Reader",
        "--scope",
        "/subscriptions/local/resourceGroups/bad-rg",
    )
    return principal


def snapshot(server: Airlock) -> dict[str, Any]:
    return {
        "vaults": run(server, "keyvault", "list"),
        "secrets": run(server, "keyvault", "secret", "list", "--vault-name", "bad-kv"),
        "versions": run(
            server,
            "keyvault",
            "secret",
            "list-versions",
            "--vault-name",
            "bad-kv",
            "--name",
            "keep",
        ),
        "groups": run(server, "group", "list"),
        "identities": run(server, "identity", "list"),
        "roles": run(server, "role", "assignment", "list"),
    }


UNKNOWN = "00000000-0000-0000-0000-000000000000"
BAD_INPUT = [
    (("keyvault", "show", "--name", "no-such-kv"), "vault 'no-such-kv' not found"),
    (("keyvault", "create", "--name", "bad-kv"), "already exists"),
    (("keyvault", "create", "--name", "BAD-KV"), "already exists"),
    (("keyvault", "create", "--name", "1starts-with-digit"), "invalid vault name"),
    (("keyvault", "create", "--name", "ab"), "3-24 characters"),
    (("keyvault", "create", "--name", "x" * 25), "3-24 characters"),
    (("keyvault", "create", "--name", "under_score"), "invalid vault name"),
    (("keyvault", "delete", "--name", "no-such-kv"), "not found"),
    (
        ("keyvault", "secret", "show", "--vault-name", "bad-kv", "--name", "absent"),
        "secret 'absent' not found",
    ),
    (
        ("keyvault", "secret", "show", "--vault-name", "no-such-kv", "--name", "keep"),
        "vault 'no-such-kv' not found",
    ),
    (
        (
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            "bad-kv",
            "--name",
            "keep",
            "--version",
            "f" * 32,
        ),
        "not found",
    ),
    (
        (
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            "bad-kv",
            "--name",
            "keep",
            "--version",
            "nothex",
        ),
        "32 hexadecimal",
    ),
    (
        (
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "bad-kv",
            "--name",
            "bad_name",
            "--value",
            "v",
        ),
        "invalid secret name",
    ),
    (
        (
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "bad-kv",
            "--name",
            "x" * 128,
            "--value",
            "v",
        ),
        "1-127 characters",
    ),
    (
        (
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "no-such-kv",
            "--name",
            "keep",
            "--value",
            "v",
        ),
        "vault 'no-such-kv' not found",
    ),
    (("keyvault", "secret", "delete", "--vault-name", "bad-kv", "--name", "absent"), "not found"),
    (
        ("keyvault", "secret", "show", "--id", "https://bad-kv.example.com/secrets/keep"),
        "invalid secret identifier",
    ),
    (
        (
            "keyvault",
            "set-policy",
            "--name",
            "bad-kv",
            "--object-id",
            UNKNOWN,
            "--secret-permissions",
            "get",
        ),
        "no identity has the object id",
    ),
    (
        (
            "keyvault",
            "set-policy",
            "--name",
            "no-such-kv",
            "--object-id",
            UNKNOWN,
            "--secret-permissions",
            "get",
        ),
        "not found",
    ),
    (("keyvault", "delete-policy", "--name", "bad-kv", "--object-id", UNKNOWN), "no access policy"),
    (("identity", "create", "-n", "bad-id", "-g", "bad-rg"), "already exists"),
    (("identity", "create", "-n", "x", "-g", "bad-rg"), "invalid identity name"),
    (("identity", "show", "-n", "absent-id", "-g", "bad-rg"), "not found"),
    (("group", "create", "-n", "bad-rg", "-l", "westus"), "already exists in location"),
    (("group", "create", "-n", "ends-with-dot."), "invalid resource group name"),
    (("group", "show", "-n", "no-such-rg"), "not found"),
    (("group", "delete", "-n", "no-such-rg", "-y"), "not found"),
    (
        (
            "role",
            "assignment",
            "create",
            "--assignee",
            UNKNOWN,
            "--role",
            "Owner",
            "--scope",
            "/subscriptions/local/resourceGroups/bad-rg",
        ),
        "no principal has the id",
    ),
    (
        (
            "role",
            "assignment",
            "create",
            "--assignee",
            "{principal}",
            "--role",
            "Writer",
            "--scope",
            "/subscriptions/local/resourceGroups/bad-rg",
        ),
        "unknown role 'Writer'",
    ),
    (
        (
            "role",
            "assignment",
            "create",
            "--assignee",
            "{principal}",
            "--role",
            "Owner",
            "--scope",
            "/subscriptions/local/resourceGroups/no-such-rg",
        ),
        "not found",
    ),
    (
        (
            "role",
            "assignment",
            "create",
            "--assignee",
            "{principal}",
            "--role",
            "Owner",
            "--scope",
            "not-a-scope",
        ),
        "invalid scope",
    ),
    (
        (
            "role",
            "assignment",
            "create",
            "--assignee",
            "{principal}",
            "--role",
            "reader",
            "--scope",
            "/subscriptions/local/resourceGroups/bad-rg",
        ),
        "already exists",
    ),
    (("role", "assignment", "delete", "--ids", UNKNOWN), "no role assignment matches"),
]


@pytest.mark.parametrize(
    ("args", "message"), BAD_INPUT, ids=[" ".join(a)[:60] for a, _ in BAD_INPUT]
)
def test_bad_input_is_a_clear_error_and_changes_nothing(
    server: Airlock, populated: str, args: tuple[str, ...], message: str
) -> None:
    before = snapshot(server)
    done = server.cli(*(a.format(principal=populated) for a in args), check=False)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(server) == before


def test_error_messages_mask_secret_values(server: Airlock, populated: str) -> None:
    # The value has been resolved (set and shown) before; an error quoting it masks it.
    value = "Masked-in-errors-77"
    run(
        server,
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        "bad-kv",
        "--name",
        "m1",
        "--value",
        value,
    )
    done = server.cli(
        "keyvault", "secret", "show", "--vault-name", "bad-kv", "--name", value, check=False
    )
    assert done.returncode == 3
    assert "secret '***' not found" in done.stderr
    assert value not in done.stderr


def test_debug_output_never_shows_a_value(server: Airlock, populated: str) -> None:
    done = server.cli(
        "keyvault",
        "secret",
        "set",
        "--vault-name",
        "bad-kv",
        "--name",
        "dbg",
        "--value",
        "debug-hidden-value",
        "--debug",
        "-o",
        "none",
    )
    assert "request body" in done.stderr
    assert "debug-hidden-value" not in done.stderr


def test_no_secret_in_the_state_folder_or_the_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    value = "Zq7-distinctive-secret-4242"
    file_value = "file-borne-secret-0815"
    airlock = start_airlock(home)
    try:
        run(airlock, "keyvault", "create", "--name", "scan-kv")
        run(
            airlock,
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "scan-kv",
            "--name",
            "direct",
            "--value",
            value,
        )
        source = tmp_path / "outside-home.txt"
        source.write_text(file_value, encoding="utf-8")
        run(
            airlock,
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "scan-kv",
            "--name",
            "filed",
            "--file",
            str(source),
        )
        run(
            airlock,
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "scan-kv",
            "--name",
            "direct",
            "--value",
            value + "-v2",
        )
        assert (
            tsv(
                airlock,
                "keyvault",
                "secret",
                "show",
                "--vault-name",
                "scan-kv",
                "--name",
                "direct",
                "--query",
                "value",
            )
            == value + "-v2"
        )
        assert (
            tsv(
                airlock,
                "keyvault",
                "secret",
                "show",
                "--vault-name",
                "scan-kv",
                "--name",
                "filed",
                "--query",
                "value",
            )
            == file_value
        )
        log_while_running = airlock.log()
    finally:
        assert airlock.stop() == 0
    assert "scan-kv" in log_while_running  # the log is there, with paths
    needles = []
    for secret in (value, value + "-v2", file_value):
        raw = secret.encode()
        needles += [
            raw,
            base64.b64encode(raw),
            raw.hex().encode(),
            raw.hex().upper().encode(),
            secret.encode("utf-16-le"),
        ]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files) or any(p.suffix == ".db" for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path}"
