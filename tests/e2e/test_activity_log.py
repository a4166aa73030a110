"""The activity log against a real server: every state change and every read of a secret value
is there with who, what, where from and the result (refusals included), and no secret value,
password or session token appears in it, in the server's log or anywhere under $AIRLOCK_HOME.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import api_ok
from tests.support.servers import Airlock, free_port, running_airlock

SECRET_VALUE = "activity-secret-value-Zq81"
USER_PASSWORD = "activity-user-password-93k"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    with running_airlock(tmp_path_factory.mktemp("activity-home")) as running:
        yield running


def entries(server: Airlock) -> list[dict[str, Any]]:
    done = server.cli("monitor", "activity-log", "list", "--max-events", "5000")
    found = json.loads(done.stdout)
    assert isinstance(found, list)
    return found


def test_calls_are_recorded_and_no_secret_is_anywhere(server: Airlock) -> None:
    registry = "activityreg"
    server.create_registry(registry, port=free_port())
    api_ok(server, "POST", "/api/vaults", {"name": "activity-kv"})
    api_ok(server, "PUT", "/api/vaults/activity-kv/secrets/db", {"value": SECRET_VALUE})
    shown = api_ok(server, "GET", "/api/vaults/activity-kv/secrets/db")
    assert shown["value"] == SECRET_VALUE
    user = api_ok(
        server, "POST", "/api/ad/users", {"userPrincipalName": "carol", "password": USER_PASSWORD}
    )
    sp = api_ok(server, "POST", "/api/ad/sps", {"name": "activity-sp"})
    token = api_ok(
        server,
        "POST",
        f"/api/registries/{registry}/tokens",
        {"name": "activity-token", "scopeMap": "_repositories_pull"},
    )
    token_passwords = [p["value"] for p in token["credentials"]["passwords"]]
    renewed = api_ok(
        server, "POST", f"/api/registries/{registry}/credentials/renew", {"name": "password"}
    )
    admin_passwords = [p["value"] for p in renewed["passwords"]]
    registry_id = api_ok(server, "GET", f"/api/registries/{registry}")["id"]
    assignment = api_ok(
        server,
        "POST",
        "/api/role-assignments",
        {"assignee": user["id"], "role": "Reader", "scope": registry_id},
    )
    server.api("DELETE", f"/api/role-assignments?id={assignment['name']}")
    api_ok(server, "DELETE", f"/api/registries/{registry}/tokens/activity-token")

    # Refused calls: carol has no role on the vault; nobody signed in at all.
    session = api_ok(
        server, "POST", "/api/login", {"username": "carol", "password": USER_PASSWORD}, token=""
    )
    carol = session["accessToken"]
    status, _ = server.api("GET", "/api/vaults/activity-kv/secrets/db", token=carol)
    assert status == 403
    status, _ = server.api("DELETE", f"/api/registries/{registry}", token="")
    assert status == 401
    status, _ = server.api(
        "POST", "/api/login", {"username": "carol", "password": "wrong-password-1"}, ""
    )
    assert status == 401

    log = entries(server)
    owner = json.loads((server.home / "owner-credentials.json").read_text())["principalId"]
    vault_id = "/subscriptions/local/resourceGroups/default/providers/Microsoft.KeyVault/vaults/"
    vault_id += "activity-kv"

    def find(
        operation: str, caller: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        for entry in log:
            if (
                entry["operationName"] == operation
                and (caller is None or entry["callerId"] == caller)
                and (status is None or entry["status"] == status)
            ):
                return entry
        raise AssertionError(f"no {operation} by {caller} ({status}) in the activity log:\n{log}")

    created = find("Microsoft.ContainerRegistry/registries/write", owner, "Succeeded")
    assert created["resourceId"].endswith(
        "/providers/Microsoft.ContainerRegistry/registries/activityreg"
    )
    secret_read = find("Microsoft.KeyVault/vaults/secrets/getSecret/action", owner, "Succeeded")
    assert secret_read["resourceId"] == vault_id
    assert secret_read["httpRequest"]["clientIpAddress"] == "127.0.0.1"
    for operation in (
        "Microsoft.ContainerRegistry/registries/write",
        "Microsoft.KeyVault/vaults/write",
        "Microsoft.KeyVault/vaults/secrets/setSecret/action",
        "Airlock.Directory/users/write",
        "Airlock.Directory/servicePrincipals/write",
        "Microsoft.ContainerRegistry/registries/tokens/write",
        "Microsoft.ContainerRegistry/registries/regenerateCredential/action",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
        "Microsoft.ContainerRegistry/registries/tokens/delete",
    ):
        entry = find(operation, owner, "Succeeded")
        assert entry["caller"] and entry["httpStatusCode"] < 300
    denied = find("Microsoft.KeyVault/vaults/secrets/getSecret/action", user["id"], "Denied")
    assert denied["httpStatusCode"] == 403 and denied["caller"] == "carol"
    anonymous = find("Microsoft.ContainerRegistry/registries/delete", None, "Denied")
    assert anonymous["caller"] == "anonymous" and anonymous["httpStatusCode"] == 401
    failed_login = [
        e for e in log if e["operationName"] == "POST /api/login" and e["httpStatusCode"] == 401
    ]
    assert failed_login, "a refused sign-in is recorded"
    assert all(e["caller"] == "anonymous" for e in failed_login)  # the name may be a password
    signed_in = [
        e for e in log if e["operationName"] == "POST /api/login" and e["status"] == "Succeeded"
    ]
    assert [e["caller"] for e in signed_in] == ["carol"]

    # Nothing secret in the log entries, the server's log, or any file of the state folder.
    secrets = [
        SECRET_VALUE,
        USER_PASSWORD,
        sp["password"],
        carol,
        *token_passwords,
        *admin_passwords,
    ]
    text = json.dumps(log)
    for secret in secrets:
        assert secret not in text
    for path in files_under(server.home):
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:6]}... found in {path}"


def files_under(home: Path) -> list[Path]:
    found = []
    for folder, _, names in os.walk(home):
        if Path(folder).is_relative_to(home / "engine"):
            continue  # podman's image store: container files keep the modes images give them
        found.extend(Path(folder) / name for name in names)
    assert found
    return found


def test_state_folder_is_private(server: Airlock) -> None:
    assert server.home.stat().st_mode & 0o777 == 0o700
    for path in files_under(server.home):
        mode = path.stat().st_mode & 0o777
        assert mode == 0o600, f"{path} is {mode:o}"


def test_the_owner_cannot_sign_itself_out(server: Airlock) -> None:
    """The owner has no password to sign in again with: 'airlock logout' leaves its local
    session alone and says so."""
    done = server.cli("logout", check=False)
    assert done.returncode != 0 and "nothing to sign out" in done.stderr
    status, _ = server.api("POST", "/api/logout", {})
    assert status == 400
    status, account = server.api("GET", "/api/account")
    assert status == 200 and isinstance(account, dict)
    assert account["user"]["type"] == "owner"


def test_generated_passwords_are_masked_once_shown(server: Airlock) -> None:
    """A token's and a service principal's passwords are shown once and kept hashed; from
    then on, an error that would quote one (here: used as a secret's name) masks it."""
    server.create_registry("maskedpw", port=free_port())
    made = api_ok(
        server,
        "POST",
        "/api/registries/maskedpw/tokens",
        {"name": "masked-token", "scopeMap": "_repositories_pull"},
    )
    sp = api_ok(server, "POST", "/api/ad/sps", {"name": "masked-sp"})
    api_ok(server, "POST", "/api/vaults", {"name": "masked-kv"})
    for password in (made["credentials"]["passwords"][0]["value"], sp["password"]):
        status, answer = server.api("GET", f"/api/vaults/masked-kv/secrets/{password}")
        assert status == 404
        text = json.dumps(answer)
        assert password not in text and "***" in text
