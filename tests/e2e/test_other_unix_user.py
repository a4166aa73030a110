"""Another Unix user on the same machine against a running server: nothing without signing in.

As root, the test creates a system user and runs, as that user, both plain HTTP requests
(what any process that can open a loopback connection can send) and the real ``airlock``
CLI (from this checkout, on the system Python: the test's virtualenv lives under a folder
other users cannot enter). Before ``airlock login`` the user can neither read a secret,
create a token nor mint a registry login token, and cannot read the owner's credential file;
after signing in as a user holding the roles that allow each of those, it can.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, Airlock, free_port, running_airlock

SYSTEM_PYTHON = "/usr/bin/python3"
SECRET_VALUE = "other-user-must-not-see-this-7Qx"
PASSWORD = "a-long-password-for-bob-42"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="creating a Unix user needs root"),
    pytest.mark.skipif(
        shutil.which("useradd") is None or shutil.which("runuser") is None,
        reason="needs useradd and runuser",
    ),
]


class OtherUser:
    def __init__(self, name: str, server: Airlock, config_dir: Path) -> None:
        self.name = name
        self.server = server
        self.config_dir = config_dir

    def env(self) -> list[str]:
        return [
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            f"HOME={self.config_dir}",
            f"AIRLOCK_URL={self.server.api_url}",
            # The owner's state folder: the CLI looks for the owner's file there, and must
            # not be able to read it.
            f"AIRLOCK_HOME={self.server.home}",
            f"AIRLOCK_CONFIG_DIR={self.config_dir / 'airlock'}",
            f"PYTHONPATH={REPO_ROOT / 'src'}",
        ]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", self.name, "--", *self.env(), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )

    def airlock(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(SYSTEM_PYTHON, "-m", "airlock", *args)

    def http(self, method: str, path: str, body: object | None = None) -> tuple[int, str]:
        """One request with no credentials, sent by this user's own process."""
        script = (
            "import sys, urllib.request, urllib.error\n"
            "data = sys.argv[3].encode() if sys.argv[3] else None\n"
            "req = urllib.request.Request(sys.argv[1], data=data, method=sys.argv[2],"
            " headers={'Content-Type': 'application/json'})\n"
            "try:\n"
            "    r = urllib.request.urlopen(req, timeout=20)\n"
            "    print(r.status); print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); print(e.read().decode())\n"
        )
        done = self.run(
            SYSTEM_PYTHON,
            "-c",
            script,
            f"{self.server.api_url}{path}",
            method,
            "" if body is None else json.dumps(body),
        )
        assert done.returncode == 0, done.stderr
        status, _, text = done.stdout.partition("\n")
        return int(status), text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    with running_airlock(tmp_path_factory.mktemp("owner-home")) as running:
        yield running


@pytest.fixture(scope="module")
def other(server: Airlock) -> Iterator[OtherUser]:
    name = f"airlock-t{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    config_dir = Path(tempfile.mkdtemp(prefix="airlock-other-user-", dir="/tmp"))
    shutil.chown(config_dir, user=name)
    user = OtherUser(name, server, config_dir)
    try:
        probe = user.run(SYSTEM_PYTHON, "-c", "import airlock.cli.main")
        if probe.returncode != 0:
            pytest.skip(f"this checkout cannot be read by another Unix user: {probe.stderr[-200:]}")
        yield user
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)
        subprocess.run(["userdel", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def resources(server: Airlock) -> dict[str, str]:
    """A registry, a vault with a secret, and user bob with no role yet."""
    registry = f"otheruser{uuid.uuid4().hex[:6]}"
    server.create_registry(registry, port=free_port())
    vault = f"kv-{uuid.uuid4().hex[:8]}"
    status, _ = server.api("POST", "/api/vaults", {"name": vault})
    assert status == 201
    status, _ = server.api(
        "PUT", f"/api/vaults/{vault}/secrets/db-password", {"value": SECRET_VALUE}
    )
    assert status == 200
    status, made = server.api(
        "POST", "/api/ad/users", {"userPrincipalName": "bob", "password": PASSWORD}
    )
    assert status == 201, made
    assert isinstance(made, dict)
    return {"registry": registry, "vault": vault, "bob": str(made["id"])}


def test_nothing_without_signing_in(other: OtherUser, resources: dict[str, str]) -> None:
    registry, vault = resources["registry"], resources["vault"]
    attempts = [
        ("GET", f"/api/vaults/{vault}/secrets/db-password", None),
        (
            "POST",
            f"/api/registries/{registry}/tokens",
            {"name": "stolen", "scopeMap": "_repositories_admin"},
        ),
        ("POST", f"/api/registries/{registry}/login-token", {}),
        ("GET", f"/api/registries/{registry}/credentials", None),
        ("DELETE", f"/api/registries/{registry}", None),
    ]
    for method, path, body in attempts:
        status, text = other.http(method, path, body)
        assert status == 401, (method, path, text)
        assert SECRET_VALUE not in text
        assert json.loads(text)["error"]["code"] in ("Unauthorized",)

    # The CLI finds no session: the owner's file is in a folder this user cannot enter.
    shown = other.airlock("keyvault", "secret", "show", "--vault-name", vault, "-n", "db-password")
    assert shown.returncode != 0
    assert SECRET_VALUE not in shown.stdout + shown.stderr
    assert "airlock login" in shown.stderr
    peek = other.run("cat", str(other.server.home / "owner-credentials.json"))
    assert peek.returncode != 0 and "Permission denied" in peek.stderr
    token = other.airlock(
        "acr",
        "token",
        "create",
        "-n",
        "stolen",
        "-r",
        registry,
        "--scope-map",
        "_repositories_admin",
    )
    assert token.returncode != 0 and "airlock login" in token.stderr
    minted = other.airlock("acr", "login", "-n", registry, "--expose-token")
    assert minted.returncode != 0 and "airlock login" in minted.stderr

    # Nothing was created on the way.
    status, tokens = other.server.api("GET", f"/api/registries/{registry}/tokens")
    assert status == 200 and isinstance(tokens, list)
    assert "stolen" not in [t["name"] for t in tokens]


def test_signed_in_with_the_roles_that_allow_it(
    other: OtherUser, server: Airlock, resources: dict[str, str]
) -> None:
    registry, vault, bob = resources["registry"], resources["vault"], resources["bob"]
    signed_in = other.airlock("login", "-u", "bob", "-p", PASSWORD, "-o", "none")
    assert signed_in.returncode == 0, signed_in.stderr
    stored = other.config_dir / "airlock" / "sessions.json"
    assert stored.stat().st_mode & 0o777 == 0o600

    # Signed in but without a role: refused, and told which role would do.
    refused = other.airlock(
        "keyvault", "secret", "show", "--vault-name", vault, "-n", "db-password"
    )
    assert refused.returncode != 0
    assert "getSecret" in refused.stderr and "Key Vault Secrets User" in refused.stderr
    assert SECRET_VALUE not in refused.stdout

    _, registry_doc = server.api("GET", f"/api/registries/{registry}")
    _, vault_doc = server.api("GET", f"/api/vaults/{vault}")
    assert isinstance(registry_doc, dict) and isinstance(vault_doc, dict)
    for role, scope in (
        ("Key Vault Secrets User", vault_doc["id"]),
        ("Contributor", registry_doc["id"]),
    ):
        status, answer = server.api(
            "POST", "/api/role-assignments", {"assignee": bob, "role": role, "scope": scope}
        )
        assert status == 201, answer

    # JSON output: --query needs jmespath, which the system Python does not have.
    shown = other.airlock("keyvault", "secret", "show", "--vault-name", vault, "-n", "db-password")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["value"] == SECRET_VALUE
    made = other.airlock(
        "acr",
        "token",
        "create",
        "-n",
        "bobs-token",
        "-r",
        registry,
        "--scope-map",
        "_repositories_pull",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["name"] == "bobs-token"
    minted = other.airlock("acr", "login", "-n", registry, "--expose-token")
    assert minted.returncode == 0, minted.stderr
    assert json.loads(minted.stdout)["accessToken"].count(".") == 2  # a JWT

    # Signing out revokes the session on the server, not only in the file.
    session = json.loads(stored.read_text())[server.api_url.lower()]["accessToken"]
    assert other.airlock("logout").returncode == 0
    status, _ = server.api("GET", "/api/account", token=session)
    assert status == 401
