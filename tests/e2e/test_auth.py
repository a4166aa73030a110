"""podman, buildah and skopeo through Airlock's token flow: logins with the admin user and
with tokens, pushes and pulls, and the refusals a token's scope map calls for."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.e2e.helpers import run_tool
from tests.support.images import OciImage, push_layout
from tests.support.servers import Airlock, airlock_executable, free_port

pytestmark = pytest.mark.podman

REGISTRY = "e2etests"  # the session registry of tests/e2e/conftest.py


def create_token(airlock: Airlock, name: str, *args: str) -> str:
    done = airlock.cli(
        "acr", "token", "create", "--name", name, "--registry", REGISTRY, *args,
        "--query", "credentials.passwords[0].value", "-o", "tsv",
    )  # fmt: skip
    return done.stdout.strip()


def attempt(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=dict(env), capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture
def tool_env(engine: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The engine environment with a private auth file for this test's logins."""
    return {**engine, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}


def login(tool: str, host: str, user: str, password: str, env: Mapping[str, str]) -> None:
    done = subprocess.run(
        [tool, "login", "--tls-verify=false", "-u", user, "--password-stdin", host],
        env=dict(env),
        input=password,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{tool} login failed: {done.stderr}"
    assert "Login Succeeded" in done.stdout


def test_anonymous_clients_are_refused(
    host: str, busybox_image: OciImage, engine: dict[str, str], tmp_path: Path
) -> None:
    env = {**engine, "REGISTRY_AUTH_FILE": str(tmp_path / "empty.json")}
    done = attempt(
        "skopeo", "copy", "--dest-tls-verify=false", busybox_image.reference,
        f"docker://{host}/anonymous:v1", env=env,
    )  # fmt: skip
    assert done.returncode != 0
    assert "authentication required" in done.stderr or "unauthorized" in done.stderr.lower()


def test_admin_user_logs_in_pushes_and_pulls_with_each_tool(
    airlock: Airlock, host: str, busybox_image: OciImage, tool_env: dict[str, str]
) -> None:
    user, password = airlock.admin_credentials(REGISTRY)
    login("skopeo", host, user, password, tool_env)
    push_layout(busybox_image, f"{host}/authadmin:v1", env=tool_env)
    login("podman", host, user, password, tool_env)
    run_tool("podman", "pull", "--tls-verify=false", f"{host}/authadmin:v1", env=tool_env)
    login("buildah", host, user, password, tool_env)
    run_tool(
        "buildah", "push", "--tls-verify=false", f"{host}/authadmin:v1",
        f"docker://{host}/authadmin:buildah", env=tool_env,
    )  # fmt: skip
    inspected = run_tool(
        "skopeo", "inspect", "--tls-verify=false", f"docker://{host}/authadmin:buildah",
        env=tool_env,
    )  # fmt: skip
    assert json.loads(inspected)["Name"] == f"{host}/authadmin"


def test_airlock_login_serves_podman(
    airlock: Airlock, host: str, busybox_image: OciImage, tool_env: dict[str, str]
) -> None:
    push_layout(
        busybox_image,
        f"{host}/authcli:v1",
        env=tool_env,
        creds=":".join(airlock.admin_credentials(REGISTRY)),
    )
    done = subprocess.run(
        [*airlock_executable(), "acr", "login", "--name", REGISTRY],
        env={**airlock.env(), "REGISTRY_AUTH_FILE": tool_env["REGISTRY_AUTH_FILE"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "Login Succeeded"
    run_tool("podman", "pull", "--tls-verify=false", f"{host}/authcli:v1", env=tool_env)


def test_push_token_pushes_and_pulls(
    airlock: Airlock, host: str, busybox_image: OciImage, tool_env: dict[str, str]
) -> None:
    password = create_token(airlock, "e2epusher", "--scope-map", "_repositories_push")
    push_layout(busybox_image, f"{host}/authpush:v1", env=tool_env, creds=f"e2epusher:{password}")
    login("podman", host, "e2epusher", password, tool_env)
    run_tool("podman", "pull", "--tls-verify=false", f"{host}/authpush:v1", env=tool_env)
    run_tool("podman", "tag", f"{host}/authpush:v1", f"{host}/authpush:v2", env=tool_env)
    run_tool("podman", "push", "--tls-verify=false", f"{host}/authpush:v2", env=tool_env)
    login("buildah", host, "e2epusher", password, tool_env)
    run_tool(
        "buildah", "push", "--tls-verify=false", f"{host}/authpush:v1",
        f"docker://{host}/authpush:buildah", env=tool_env,
    )  # fmt: skip
    login("skopeo", host, "e2epusher", password, tool_env)
    inspected = run_tool(
        "skopeo", "inspect", "--tls-verify=false", f"docker://{host}/authpush:buildah",
        env=tool_env,
    )  # fmt: skip
    assert json.loads(inspected)["Name"] == f"{host}/authpush"


def test_pull_token_pulls_but_cannot_push(
    airlock: Airlock, host: str, busybox_image: OciImage, tool_env: dict[str, str]
) -> None:
    admin = ":".join(airlock.admin_credentials(REGISTRY))
    push_layout(busybox_image, f"{host}/authpull:v1", env=tool_env, creds=admin)
    password = create_token(airlock, "e2epuller", "--scope-map", "_repositories_pull")
    login("podman", host, "e2epuller", password, tool_env)
    run_tool("podman", "pull", "--tls-verify=false", f"{host}/authpull:v1", env=tool_env)
    run_tool("podman", "tag", f"{host}/authpull:v1", f"{host}/authpull:pushed", env=tool_env)
    pushed = attempt(
        "podman", "push", "--tls-verify=false", f"{host}/authpull:pushed", env=tool_env
    )
    assert pushed.returncode != 0
    assert "denied" in pushed.stderr, pushed.stderr
    assert "may not push to repository 'authpull'" in pushed.stderr


def test_repository_token_cannot_read_another_repository(
    airlock: Airlock, host: str, busybox_image: OciImage, tool_env: dict[str, str]
) -> None:
    admin = ":".join(airlock.admin_credentials(REGISTRY))
    push_layout(busybox_image, f"{host}/hello-world:v1", env=tool_env, creds=admin)
    push_layout(busybox_image, f"{host}/node:v1", env=tool_env, creds=admin)
    password = create_token(airlock, "e2enode", "--repository", "node", "content/read")
    login("podman", host, "e2enode", password, tool_env)
    run_tool("podman", "pull", "--tls-verify=false", f"{host}/node:v1", env=tool_env)
    refused = attempt(
        "podman", "pull", "--tls-verify=false", f"{host}/hello-world:v1", env=tool_env
    )
    assert refused.returncode != 0
    assert "denied" in refused.stderr, refused.stderr


def test_service_principal_with_acr_pull(
    airlock: Airlock, host: str, busybox_image: OciImage, tool_env: dict[str, str]
) -> None:
    """As ACR allows: a service principal with AcrPull on one registry logs podman in with its
    appId and secret, pulls, cannot push, cannot pull from another registry, and can do
    nothing at once after 'ad sp delete'."""
    admin = ":".join(airlock.admin_credentials(REGISTRY))
    push_layout(busybox_image, f"{host}/authsp:v1", env=tool_env, creds=admin)
    other = airlock.create_registry("e2eotherreg", port=free_port()).removeprefix("http://")
    push_layout(
        busybox_image,
        f"{other}/authsp:v1",
        env=tool_env,
        creds=":".join(airlock.admin_credentials("e2eotherreg")),
    )
    scope = airlock.cli("acr", "show", "-n", REGISTRY, "--query", "id", "-o", "tsv").stdout.strip()
    made = json.loads(
        airlock.cli(
            "ad", "sp", "create-for-rbac", "--name", "e2e-puller", "--role", "AcrPull",
            "--scopes", scope, "--only-show-errors",
        ).stdout
    )  # fmt: skip
    app_id, secret = made["appId"], made["password"]

    login("podman", host, app_id, secret, tool_env)
    run_tool("podman", "pull", "--tls-verify=false", f"{host}/authsp:v1", env=tool_env)
    run_tool("podman", "tag", f"{host}/authsp:v1", f"{host}/authsp:pushed", env=tool_env)
    pushed = attempt("podman", "push", "--tls-verify=false", f"{host}/authsp:pushed", env=tool_env)
    assert pushed.returncode != 0
    assert "denied" in pushed.stderr.lower(), pushed.stderr
    elsewhere = attempt(
        "podman", "login", "--tls-verify=false", "-u", app_id, "-p", secret, other, env=tool_env
    )
    assert elsewhere.returncode != 0, "no role on the other registry: no login there"
    run_tool("podman", "rmi", f"{host}/authsp:v1", f"{host}/authsp:pushed", env=tool_env)

    airlock.cli("ad", "sp", "delete", "--id", app_id)
    gone = attempt("podman", "pull", "--tls-verify=false", f"{host}/authsp:v1", env=tool_env)
    assert gone.returncode != 0, "the stored login must stop working at once"
    again = attempt(
        "podman", "login", "--tls-verify=false", "-u", app_id, "-p", secret, host, env=tool_env
    )
    assert again.returncode != 0
