"""Token authentication on a real Airlock server: the token endpoint, the registry's checks,
scope maps and tokens through the REST API and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import stat
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.auth import roles
from airlock.auth.passwords import hash_password
from tests.integration.shared_database import SharedAirlock as Airlock
from tests.integration.shared_database import start_shared
from tests.support.registry_auth import RegistryTokenAuth, parse_challenge
from tests.support.servers import free_port

REGISTRY = "authtests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    airlock = start_shared(tmp_path_factory.mktemp("auth-home"))
    try:
        airlock.create_registry(REGISTRY, port=free_port())
        yield airlock
    finally:
        airlock.stop()


@pytest.fixture(scope="module")
def url(server: Airlock) -> str:
    return server.registries[REGISTRY]


@pytest.fixture(scope="module")
def service(url: str) -> str:
    return url.removeprefix("http://")


@pytest.fixture(scope="module")
def admin(server: Airlock) -> tuple[str, str]:
    return server.admin_credentials(REGISTRY)


def api(server: Airlock, method: str, path: str, body: object = None) -> tuple[int, Any]:
    return server.api(method, f"/api/registries/{REGISTRY}{path}", body)


def make_token(server: Airlock, name: str, **body: object) -> str:
    status, token = api(server, "POST", "/tokens", {"name": name, **body})
    assert status == 201, token
    return str(token["credentials"]["passwords"][0]["value"])


def token_for(
    url: str, service: str, creds: tuple[str, str] | None, *scopes: str
) -> httpx.Response:
    return httpx.get(
        f"{url}/oauth2/token",
        params=[("service", service), *(("scope", s) for s in scopes)],
        auth=creds,
        timeout=30,
    )


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def push_blob(url: str, token: str, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = httpx.post(
        f"{url}/v2/{repository}/blobs/uploads/",
        params={"digest": digest},
        content=data,
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    return digest


# --- challenges and the token endpoint -------------------------------------------------


def test_unauthenticated_requests_get_a_bearer_challenge(url: str, service: str) -> None:
    base = httpx.get(f"{url}/v2/")
    assert base.status_code == 401
    assert parse_challenge(base.headers["www-authenticate"]) == {
        "realm": f"{url}/oauth2/token",
        "service": service,
    }
    pull = httpx.head(f"{url}/v2/library/node/manifests/latest")
    assert pull.status_code == 401
    assert parse_challenge(pull.headers["www-authenticate"])["scope"] == (  # type: ignore[index]
        "repository:library/node:pull"
    )
    push = httpx.post(f"{url}/v2/node/blobs/uploads/")
    assert push.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert 'scope="repository:node:pull,push"' in push.headers["www-authenticate"]


def test_get_token_with_admin_basic_credentials(
    url: str, service: str, admin: tuple[str, str]
) -> None:
    r = token_for(url, service, admin, "repository:node:pull,push")
    assert r.status_code == 200
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    assert r.headers["cache-control"] == "no-store"
    got = claims(body["token"])
    assert got["aud"] == service and got["sub"] == "admin"
    assert got["access"] == [{"type": "repository", "name": "node", "actions": ["pull", "push"]}]
    assert httpx.get(f"{url}/v2/", headers=bearer(body["token"])).status_code == 200


def test_oauth2_post_password_grant_and_refresh(
    url: str, service: str, admin: tuple[str, str]
) -> None:
    form = {
        "grant_type": "password",
        "username": admin[0],
        "password": admin[1],
        "service": service,
        "scope": "repository:node:pull",
        "access_type": "offline",
    }
    r = httpx.post(f"{url}/oauth2/token", data=form)
    assert r.status_code == 200, r.text
    refresh = r.json()["refresh_token"]
    again = httpx.post(
        f"{url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "service": service},
    )
    assert again.status_code == 200
    # An access token is no refresh token.
    wrong = httpx.post(
        f"{url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": r.json()["token"]},
    )
    assert wrong.status_code == 401


def test_unsupported_grant_type_is_named(url: str) -> None:
    r = httpx.post(f"{url}/oauth2/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_wrong_password_is_401_without_echoing_it(url: str, service: str) -> None:
    r = token_for(url, service, (REGISTRY, "not-the-password-xyz"), "repository:node:pull")
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "invalid username or password" in r.text and "not-the-password-xyz" not in r.text


def test_unknown_service_and_bad_scopes_are_400(
    url: str, service: str, admin: tuple[str, str]
) -> None:
    assert token_for(url, "127.0.0.1:1", admin).status_code == 400
    assert token_for(url, service, admin, "repository:Bad Name:pull").status_code == 400
    assert token_for(url, service, admin, "repository:node:fly").status_code == 400
    too_many = [f"repository:r{i}:pull" for i in range(65)]
    r = token_for(url, service, admin, *too_many)
    assert r.status_code == 400 and "too many scopes" in r.text
    assert token_for(url, service, admin, "repository:" + "a" * 600 + ":pull").status_code == 400


def test_asking_more_than_granted_gives_only_what_is_granted(
    server: Airlock, url: str, service: str
) -> None:
    password = make_token(server, "intersect", scopeMap="_repositories_pull")
    r = token_for(url, service, ("intersect", password), "repository:node:pull,push,delete")
    assert claims(r.json()["token"])["access"] == [
        {"type": "repository", "name": "node", "actions": ["pull"]}
    ]
    catalog = token_for(url, service, ("intersect", password), "registry:catalog:*")
    assert claims(catalog.json()["token"])["access"] == []


# --- the registry's checks ----------------------------------------------------------------


def test_pull_token_pulls_and_is_denied_push(
    server: Airlock, url: str, service: str, admin: tuple[str, str]
) -> None:
    password = make_token(server, "puller1", scopeMap="_repositories_pull")
    admin_token = token_for(url, service, admin, "repository:pulltest:pull,push").json()["token"]
    digest = push_blob(url, admin_token, "pulltest", b"layer for pull test")
    token = token_for(url, service, ("puller1", password), "repository:pulltest:pull,push")
    headers = bearer(token.json()["token"])
    assert httpx.get(f"{url}/v2/pulltest/blobs/{digest}", headers=headers).status_code == 200
    push = httpx.post(f"{url}/v2/pulltest/blobs/uploads/", headers=headers)
    assert push.status_code == 403
    assert push.json()["errors"][0] == {
        "code": "DENIED",
        "message": "token 'puller1' may not push to repository 'pulltest'",
        "detail": [{"Type": "repository", "Name": "pulltest", "Action": "pull,push"}],
    }
    delete = httpx.delete(f"{url}/v2/pulltest/blobs/{digest}", headers=headers)
    assert delete.status_code == 403


def test_token_for_one_repository_cannot_read_another(
    server: Airlock, url: str, service: str
) -> None:
    password = make_token(server, "nodeonly", actions=["repositories/node/content/read"])
    auth = RegistryTokenAuth("nodeonly", password)
    with httpx.Client(base_url=url, auth=auth) as client:
        assert client.head("/v2/node/manifests/latest").status_code == 404  # allowed, absent
        denied = client.head("/v2/hello-world/manifests/latest")
        assert denied.status_code == 403


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",  # alg: none
    ],
)
def test_malformed_or_forged_bearer_tokens_are_401(url: str, token: str) -> None:
    r = httpx.get(f"{url}/v2/node/tags/list", headers=bearer(token))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_token_of_another_registry_is_refused(server: Airlock, url: str, service: str) -> None:
    other = server.create_registry("authother", port=free_port())
    user, password = server.admin_credentials("authother")
    foreign = token_for(other, other.removeprefix("http://"), (user, password), "repository:a:pull")
    assert foreign.status_code == 200
    r = httpx.head(f"{url}/v2/a/manifests/latest", headers=bearer(foreign.json()["token"]))
    assert r.status_code == 401


def test_catalog_needs_metadata_read_on_every_repository(
    server: Airlock, url: str, service: str, admin: tuple[str, str]
) -> None:
    with httpx.Client(base_url=url, auth=RegistryTokenAuth(*admin)) as client:
        assert client.get("/v2/_catalog").status_code == 200
    pull = make_token(server, "catpull", scopeMap="_repositories_pull")
    with httpx.Client(base_url=url, auth=RegistryTokenAuth("catpull", pull)) as client:
        assert client.get("/v2/_catalog").status_code == 403
    meta = make_token(server, "catmeta", scopeMap="_repositories_pull_metadata_read")
    with httpx.Client(base_url=url, auth=RegistryTokenAuth("catmeta", meta)) as client:
        assert client.get("/v2/_catalog").status_code == 200


def test_mount_needs_pull_on_the_source(
    server: Airlock, url: str, service: str, admin: tuple[str, str]
) -> None:
    admin_token = token_for(url, service, admin, "repository:mountsrc:pull,push").json()["token"]
    digest = push_blob(url, admin_token, "mountsrc", b"layer to mount")
    password = make_token(
        server,
        "mounter",
        actions=["repositories/mountdst/content/read", "repositories/mountdst/content/write"],
    )
    token = token_for(
        url,
        service,
        ("mounter", password),
        "repository:mountdst:pull,push",
        "repository:mountsrc:pull",
    ).json()["token"]
    r = httpx.post(
        f"{url}/v2/mountdst/blobs/uploads/",
        params={"mount": digest, "from": "mountsrc"},
        headers=bearer(token),
    )
    assert r.status_code == 202  # a plain upload session: nothing crossed
    assert httpx.head(f"{url}/v2/mountdst/blobs/{digest}", headers=bearer(token)).status_code == 404
    both = token_for(
        url, service, admin, "repository:mountdst:pull,push", "repository:mountsrc:pull"
    ).json()["token"]
    mounted = httpx.post(
        f"{url}/v2/mountdst/blobs/uploads/",
        params={"mount": digest, "from": "mountsrc"},
        headers=bearer(both),
    )
    assert mounted.status_code == 201


def test_anonymous_pull_switch(server: Airlock, url: str, service: str) -> None:
    assert httpx.head(f"{url}/v2/anon/manifests/latest").status_code == 401
    assert token_for(url, service, None, "repository:anon:pull").status_code == 401
    status, registry = api(server, "PATCH", "", {"anonymousPullEnabled": True})
    assert status == 200 and registry["anonymousPullEnabled"] is True
    try:
        assert httpx.head(f"{url}/v2/anon/manifests/latest").status_code == 404
        assert httpx.post(f"{url}/v2/anon/blobs/uploads/").status_code == 401
        anonymous = token_for(url, service, None, "repository:anon:pull,push")
        assert claims(anonymous.json()["token"])["access"] == [
            {"type": "repository", "name": "anon", "actions": ["pull"]}
        ]
    finally:
        server.api("PATCH", f"/api/registries/{REGISTRY}", {"anonymousPullEnabled": False})
    assert httpx.head(f"{url}/v2/anon/manifests/latest").status_code == 401


def test_disabling_a_token_refuses_it_at_once(server: Airlock, url: str, service: str) -> None:
    password = make_token(server, "disableme", scopeMap="_repositories_pull")
    token = token_for(url, service, ("disableme", password), "repository:x:pull").json()["token"]
    assert httpx.head(f"{url}/v2/x/manifests/latest", headers=bearer(token)).status_code == 404
    status, _ = api(server, "PATCH", "/tokens/disableme", {"status": "disabled"})
    assert status == 200
    assert httpx.head(f"{url}/v2/x/manifests/latest", headers=bearer(token)).status_code == 401
    refused = token_for(url, service, ("disableme", password), "repository:x:pull")
    assert refused.status_code == 401 and "disabled" in refused.text


def test_disabled_admin_user(server: Airlock, url: str, service: str) -> None:
    user, password = server.admin_credentials(REGISTRY)
    server.api("PATCH", f"/api/registries/{REGISTRY}", {"adminUserEnabled": False})
    try:
        status, error = api(server, "GET", "/credentials")
        assert status == 400 and "--admin-enabled true" in error["error"]["message"]
        assert token_for(url, service, (user, password)).status_code == 401
    finally:
        server.api("PATCH", f"/api/registries/{REGISTRY}", {"adminUserEnabled": True})
    assert token_for(url, service, (user, password)).status_code == 200


def test_renewed_admin_password_replaces_the_old_one(
    server: Airlock, url: str, service: str
) -> None:
    _, before = api(server, "GET", "/credentials")
    status, after = api(server, "POST", "/credentials/renew", {"name": "password2"})
    assert status == 200
    old, new = before["passwords"][1]["value"], after["passwords"][1]["value"]
    assert old != new and before["passwords"][0] == after["passwords"][0]
    assert token_for(url, service, (REGISTRY, old)).status_code == 401
    assert token_for(url, service, (REGISTRY, new)).status_code == 200


# --- scope maps and tokens: bad input changes nothing ---------------------------------------


def snapshot(server: Airlock) -> tuple[Any, Any]:
    return api(server, "GET", "/scope-maps")[1], api(server, "GET", "/tokens")[1]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (
            "/scope-maps",
            {"name": "badaction", "actions": ["repositories/node/content/fly"]},
            400,
            "InvalidArgument",
        ),
        (
            "/scope-maps",
            {"name": "badrepo", "actions": ["repositories/Bad Name/content/read"]},
            400,
            "InvalidArgument",
        ),
        ("/scope-maps", {"name": "emptymap", "actions": []}, 400, "InvalidArgument"),
        (
            "/scope-maps",
            {"name": "_reserved", "actions": ["repositories/a/content/read"]},
            400,
            "InvalidName",
        ),
        (
            "/scope-maps",
            {"name": "hugemap", "actions": [f"repositories/r{i}/content/read" for i in range(501)]},
            400,
            "InvalidArgument",
        ),
        (
            "/scope-maps",
            {"name": "_repositories_pull", "actions": ["repositories/a/content/read"]},
            400,
            "InvalidName",
        ),
        ("/tokens", {"name": "nomaptoken", "scopeMap": "nosuchmap"}, 404, "ScopeMapNotFound"),
        (
            "/tokens",
            {"name": "badacttoken", "actions": ["repositories/node/content/fly"]},
            400,
            "InvalidArgument",
        ),
        (
            "/tokens",
            {
                "name": "bothtoken",
                "scopeMap": "_repositories_pull",
                "actions": ["repositories/a/content/read"],
            },
            400,
            "InvalidArgument",
        ),
        ("/tokens", {"name": REGISTRY, "scopeMap": "_repositories_pull"}, 400, "InvalidArgument"),
        ("/tokens", {"name": "bad name", "scopeMap": "_repositories_pull"}, 400, "InvalidName"),
        (
            "/tokens",
            {"name": "expirytoken", "scopeMap": "_repositories_pull", "expirationInDays": 0},
            400,
            "InvalidArgument",
        ),
        (
            "/tokens",
            {"name": "statustoken", "scopeMap": "_repositories_pull", "status": "maybe"},
            400,
            "InvalidArgument",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    server: Airlock, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = snapshot(server)
    got, answer = api(server, "POST", path, body)
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert answer["error"]["message"]
    assert snapshot(server) == before


def test_duplicate_names_are_conflicts_and_change_nothing(server: Airlock) -> None:
    status, _ = api(
        server,
        "POST",
        "/scope-maps",
        {"name": "dupmap", "actions": ["repositories/a/content/read"]},
    )
    assert status == 201
    make_token(server, "duptoken", scopeMap="dupmap")
    before = snapshot(server)
    again = api(
        server,
        "POST",
        "/scope-maps",
        {"name": "dupmap", "actions": ["repositories/b/content/read"]},
    )
    assert again[0] == 409
    assert (
        api(server, "POST", "/tokens", {"name": "duptoken", "scopeMap": "_repositories_pull"})[0]
        == 409
    )
    # The automatic map '<token>-scope-map' exists already: neither token nor map is made.
    api(
        server,
        "POST",
        "/scope-maps",
        {"name": "autotok-scope-map", "actions": ["repositories/a/content/read"]},
    )
    before = snapshot(server)
    clash = api(
        server, "POST", "/tokens", {"name": "autotok", "actions": ["repositories/b/content/read"]}
    )
    assert clash[0] == 409
    assert snapshot(server) == before


def test_scope_map_update_and_delete_rules(server: Airlock) -> None:
    api(
        server,
        "POST",
        "/scope-maps",
        {"name": "updmap", "actions": ["repositories/a/content/read"]},
    )
    status, updated = api(
        server,
        "PATCH",
        "/scope-maps/updmap",
        {"addActions": ["repositories/samples/*/content/write"], "description": "for CI"},
    )
    assert status == 200 and updated["actions"] == [
        "repositories/a/content/read",
        "repositories/samples/*/content/write",
    ]
    before = snapshot(server)
    assert (
        api(
            server,
            "PATCH",
            "/scope-maps/updmap",
            {"removeActions": ["repositories/zz/content/read"]},
        )[0]
        == 400
    )
    assert api(server, "PATCH", "/scope-maps/_repositories_pull", {"description": "x"})[0] == 400
    assert api(server, "DELETE", "/scope-maps/_repositories_admin")[0] == 400
    make_token(server, "updtoken", scopeMap="updmap")
    after_token = snapshot(server)
    assert before != after_token
    assert api(server, "DELETE", "/scope-maps/updmap")[0] == 409
    assert snapshot(server) == after_token
    assert api(server, "DELETE", "/tokens/updtoken")[0] == 204
    assert api(server, "DELETE", "/scope-maps/updmap")[0] == 204


def test_system_scope_maps_exist(server: Airlock) -> None:
    _, maps = api(server, "GET", "/scope-maps")
    system = {m["name"]: m["actions"] for m in maps if m["scopeMapType"] == "SystemDefined"}
    assert system["_repositories_pull"] == ["repositories/*/content/read"]
    assert set(system) == {
        "_repositories_admin",
        "_repositories_pull",
        "_repositories_push",
        "_repositories_pull_metadata_read",
        "_repositories_push_metadata_write",
    }


def test_token_show_and_list_never_carry_password_values(server: Airlock) -> None:
    make_token(server, "showtoken", scopeMap="_repositories_pull")
    _, shown = api(server, "GET", "/tokens/showtoken")
    _, listed = api(server, "GET", "/tokens")
    assert "value" not in json.dumps(shown) and "value" not in json.dumps(listed)
    assert [p["name"] for p in shown["credentials"]["passwords"]] == ["password1", "password2"]


def test_generate_replaces_one_password(server: Airlock, url: str, service: str) -> None:
    first = make_token(server, "gentoken", scopeMap="_repositories_pull")
    status, answer = api(
        server, "POST", "/tokens/gentoken/credentials", {"passwords": ["password1"]}
    )
    assert status == 200 and [p["name"] for p in answer["passwords"]] == ["password1"]
    new = answer["passwords"][0]["value"]
    assert token_for(url, service, ("gentoken", first)).status_code == 401
    assert token_for(url, service, ("gentoken", new)).status_code == 200


# --- the CLI ------------------------------------------------------------------------------


def test_cli_token_flow_and_login(
    server: Airlock, tmp_path: Path, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = server.cli(
        "acr",
        "token",
        "create",
        "--name",
        "clitoken",
        "--registry",
        REGISTRY,
        "--repository",
        "node",
        "content/read",
        "content/write",
        "--query",
        "credentials.passwords[0].value",
        "-o",
        "tsv",
    )
    password = created.stdout.strip()
    assert len(password) >= 32
    shown = server.cli("acr", "scope-map", "show", "-r", REGISTRY, "-n", "clitoken-scope-map")
    assert json.loads(shown.stdout)["actions"] == [
        "repositories/node/content/read",
        "repositories/node/content/write",
    ]
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {"example.org": {"auth": "eDp5"}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
    login = server.cli("acr", "login", "-n", REGISTRY, "-u", "clitoken", "-p", password)
    assert login.stdout.strip() == "Login Succeeded"
    bad = server.cli(
        "acr", "login", "-n", REGISTRY, "-u", "clitoken", "-p", "Wrong-Pw-77", check=False
    )
    assert bad.returncode == 1 and "invalid username or password" in bad.stderr
    assert "Wrong-Pw-77" not in bad.stderr
    assert server.cli("acr", "login", "-n", REGISTRY).returncode == 0
    stored = json.loads(auth_file.read_text())
    assert set(stored["auths"]) == {"example.org", service}
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    exposed = server.cli("acr", "login", "-n", REGISTRY, "--expose-token")
    assert json.loads(exposed.stdout)["loginServer"] == service
    missing = server.cli(
        "acr",
        "token",
        "create",
        "-n",
        "clitoken2",
        "-r",
        REGISTRY,
        "--scope-map",
        "nosuch",
        check=False,
    )
    assert missing.returncode == 3 and "nosuch" in missing.stderr


def test_cli_update_and_credential_commands(server: Airlock) -> None:
    shown = json.loads(
        server.cli("acr", "update", "-n", REGISTRY, "--anonymous-pull-enabled", "true").stdout
    )
    assert shown["anonymousPullEnabled"] is True
    server.cli("acr", "update", "-n", REGISTRY, "--anonymous-pull-enabled", "false")
    creds = json.loads(server.cli("acr", "credential", "show", "-n", REGISTRY).stdout)
    assert creds["username"] == REGISTRY
    assert [p["name"] for p in creds["passwords"]] == ["password", "password2"]
    assert (
        json.loads(server.cli("acr", "show", "-n", REGISTRY).stdout)["anonymousPullEnabled"]
        is False
    )


def test_no_password_is_anywhere_in_the_state_folder(server: Airlock) -> None:
    password = make_token(server, "logcheck", scopeMap="_repositories_pull")
    _, creds = api(server, "GET", "/credentials")
    secrets = [password, *(p["value"] for p in creds["passwords"])]
    url = server.registries[REGISTRY]
    token_for(url, url.removeprefix("http://"), ("logcheck", password), "repository:a:pull")
    token_for(url, url.removeprefix("http://"), ("logcheck", password + "x"), "repository:a:pull")
    log = server.log()
    # The whole state folder: database and its -wal file, keys, blob storage, logs.
    files = [p for p in server.home.rglob("*") if p.is_file()]
    assert any(p.name.startswith("airlock.db") for p in files)
    stored = b"".join(p.read_bytes() for p in files)
    for secret in secrets:
        assert secret not in log
        assert secret.encode() not in stored


# --- revocation: refresh tokens, stamps, uids and the identity epoch -------------------------


def oauth(url: str, **form: str) -> httpx.Response:
    return httpx.post(
        f"{url}/oauth2/token", data={"service": url.removeprefix("http://"), **form}, timeout=30
    )


def refresh_token_for(url: str, creds: tuple[str, str]) -> str:
    r = oauth(
        url, grant_type="password", username=creds[0], password=creds[1], access_type="offline"
    )
    assert r.status_code == 200, r.text
    return str(r.json()["refresh_token"])


def pulls(url: str, token: str, repository: str = "node") -> int:
    """The status of a pull with ``token``: 404 (allowed, absent), 401 or 403."""
    return httpx.head(f"{url}/v2/{repository}/manifests/latest", headers=bearer(token)).status_code


def test_offline_refresh_returns_a_refresh_token_with_the_same_expiry(
    url: str, admin: tuple[str, str]
) -> None:
    first = refresh_token_for(url, admin)
    time.sleep(1.1)  # a re-issued lifetime would now end a second later
    r = oauth(url, grant_type="refresh_token", refresh_token=first, access_type="offline")
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    assert claims(second)["exp"] == claims(first)["exp"]
    assert oauth(url, grant_type="refresh_token", refresh_token=second).status_code == 200


def test_refresh_token_stops_working_after_both_admin_passwords_are_renewed(
    server: Airlock,
) -> None:
    name = "authrenew"
    other = server.create_registry(name, port=free_port())
    refresh = refresh_token_for(other, server.admin_credentials(name))
    assert oauth(other, grant_type="refresh_token", refresh_token=refresh).status_code == 200
    for password in ("password", "password2"):
        status, _ = server.api(
            "POST", f"/api/registries/{name}/credentials/renew", {"name": password}
        )
        assert status == 200
    refused = oauth(other, grant_type="refresh_token", refresh_token=refresh)
    assert refused.status_code == 401 and "credentials changed" in refused.text
    assert (
        token_for(other, other.removeprefix("http://"), server.admin_credentials(name)).status_code
        == 200
    )


def test_credential_generate_revokes_the_tokens_jwt_and_refresh_token(
    server: Airlock, url: str, service: str
) -> None:
    password = make_token(server, "regenerated", scopeMap="_repositories_pull")
    access = token_for(url, service, ("regenerated", password), "repository:node:pull")
    jwt = access.json()["token"]
    refresh = refresh_token_for(url, ("regenerated", password))
    assert pulls(url, jwt) == 404
    status, _ = api(server, "POST", "/tokens/regenerated/credentials", {})
    assert status == 200
    assert pulls(url, jwt) == 401
    assert oauth(url, grant_type="refresh_token", refresh_token=refresh).status_code == 401


def test_a_re_created_registry_refuses_the_old_registrys_tokens(server: Airlock) -> None:
    name, port = "authagain", free_port()
    first = server.create_registry(name, port=port)
    creds = server.admin_credentials(name)
    access = token_for(first, first.removeprefix("http://"), creds, "repository:node:pull")
    jwt, refresh = access.json()["token"], refresh_token_for(first, creds)
    assert pulls(first, jwt) == 404
    status, _ = server.api("DELETE", f"/api/registries/{name}")
    assert status in (200, 202, 204)
    again = server.create_registry(name, port=port)
    assert again == first  # same name, same login server
    assert pulls(again, jwt) == 401
    assert oauth(again, grant_type="refresh_token", refresh_token=refresh).status_code == 401
    fresh = token_for(again, again.removeprefix("http://"), server.admin_credentials(name))
    assert fresh.status_code == 200


def test_a_deleted_token_is_refused_at_once_and_its_re_creation_honours_no_old_jwt(
    server: Airlock, url: str, service: str, admin: tuple[str, str]
) -> None:
    admin_jwt = token_for(url, service, admin, "repository:node:pull,push").json()["token"]
    digest = push_blob(url, admin_jwt, "node", b"layer for the re-created token")
    password = make_token(server, "recreated", scopeMap="_repositories_pull")
    jwt = token_for(url, service, ("recreated", password), "repository:node:pull,push")
    old = jwt.json()["token"]
    blob = f"{url}/v2/node/blobs/{digest}"
    assert httpx.head(blob, headers=bearer(old)).status_code == 200  # cached from here
    assert api(server, "DELETE", "/tokens/recreated")[0] == 204
    assert httpx.head(blob, headers=bearer(old)).status_code == 401  # the same JWT, at once
    make_token(server, "recreated", scopeMap="_repositories_push")
    assert httpx.head(blob, headers=bearer(old)).status_code == 401
    assert httpx.post(f"{url}/v2/node/blobs/uploads/", headers=bearer(old)).status_code == 401


# --- service principals on the registry plane --------------------------------------------


def add_service_principal(server: Airlock, role: str, scope: str) -> tuple[str, str, str]:
    """A service principal with a client secret and one role assignment, written as rows
    (the management plane's endpoints for them are tested on their own)."""
    principal_id, app_id = str(uuid.uuid4()), str(uuid.uuid4())
    secret = secrets.token_urlsafe(30)
    server.sql(
        "INSERT INTO principals (principal_id, client_id, name, resource_group, kind,"
        " created_at, stamp) VALUES (?, ?, ?, '', 'service-principal', '2026-01-01T00:00:00', ?)",
        (principal_id, app_id, f"sp-{principal_id[:8]}", str(uuid.uuid4())),
    )
    server.sql(
        "INSERT INTO principal_credentials (key_id, principal_id, hash, created_at)"
        " VALUES (?, ?, ?, '2026-01-01T00:00:00')",
        (str(uuid.uuid4()), principal_id, hash_password(secret)),
    )
    server.sql(
        "INSERT INTO role_assignments (id, assignee, role, scope, created_at)"
        " VALUES (?, ?, ?, ?, '2026-01-01T00:00:00')",
        (str(uuid.uuid4()), principal_id, role, scope),
    )
    return principal_id, app_id, secret


def registry_scope_of(server: Airlock, name: str) -> str:
    [(group,)] = server.query("SELECT resource_group FROM registries WHERE name = ?", (name,))
    return roles.registry_scope(group, name)


def test_service_principal_with_acr_pull(server: Airlock, url: str, service: str) -> None:
    other = server.create_registry("authspother", port=free_port())
    principal_id, app_id, secret = add_service_principal(
        server, "AcrPull", registry_scope_of(server, REGISTRY)
    )
    r = token_for(url, service, (app_id, secret), "repository:node:pull,push")
    assert r.status_code == 200, r.text
    jwt = r.json()["token"]
    assert claims(jwt)["sub"] == f"principal:{principal_id}"
    assert claims(jwt)["access"] == [{"type": "repository", "name": "node", "actions": ["pull"]}]
    assert pulls(url, jwt) == 404
    assert httpx.post(f"{url}/v2/node/blobs/uploads/", headers=bearer(jwt)).status_code == 403
    elsewhere = token_for(other, other.removeprefix("http://"), (app_id, secret))
    assert elsewhere.status_code == 401 and "no role on registry" in elsewhere.text
    # The role assignment goes (written by another process): refused within the epoch's
    # recheck window, and at once at the token endpoint.
    server.sql("DELETE FROM role_assignments WHERE assignee = ?", (principal_id,))
    assert refused_soon(url, jwt)
    assert token_for(url, service, (app_id, secret)).status_code == 401
    # Given back, then the principal goes: refused at once.
    server.sql(
        "INSERT INTO role_assignments (id, assignee, role, scope, created_at)"
        " VALUES (?, ?, 'AcrPull', '/subscriptions/local', '2026-01-01T00:00:00')",
        (str(uuid.uuid4()), principal_id),
    )
    jwt = token_for(url, service, (app_id, secret), "repository:node:pull").json()["token"]
    assert pulls(url, jwt) == 404
    server.sql("DELETE FROM principals WHERE principal_id = ?", (principal_id,))
    assert refused_soon(url, jwt)
    assert token_for(url, service, (app_id, secret)).status_code == 401


def refused_soon(url: str, jwt: str) -> bool:
    """Whether a pull with ``jwt`` is refused (401) within a few times the 50 ms a server
    may take to see a change another process made to the shared database."""
    deadline = time.monotonic() + 2 * 0.05 + 1.0
    while time.monotonic() < deadline:
        if pulls(url, jwt) == 401:
            return True
        time.sleep(0.01)
    return False


def test_token_names_shaped_like_uuids_are_refused(server: Airlock) -> None:
    for name in ("00000000-0000-0000-0000-000000000000", str(uuid.uuid4())):
        status, error = api(
            server, "POST", "/tokens", {"name": name, "scopeMap": "_repositories_pull"}
        )
        assert status == 400 and "like a UUID" in error["error"]["message"]


# --- sign-in hygiene: throttling, equal cost, nothing echoed ------------------------------


def test_refusals_echo_neither_the_password_nor_a_password_typed_as_username(
    server: Airlock, url: str, service: str
) -> None:
    make_token(server, "echoless", scopeMap="_repositories_pull")
    typed_as_user = "Pw-As-User-" + secrets.token_hex(8)
    password = "Pw-" + secrets.token_hex(8)
    answers = [
        token_for(url, service, (typed_as_user, password), "repository:node:pull"),
        token_for(url, service, ("echoless", password), "repository:node:pull"),
        oauth(url, grant_type="password", username=typed_as_user, password=password),
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["message"] == "invalid username or password"
        assert typed_as_user not in answer.text and password not in answer.text
    log = server.log()
    assert "invalid username or password" in log
    assert typed_as_user not in log and password not in log


def timed(url: str, service: str, username: str) -> float:
    """Seconds for one refused sign-in as ``username`` with a wrong password."""
    started = time.perf_counter()
    response = token_for(url, service, (username, "wrong-1"))
    elapsed = time.perf_counter() - started
    assert response.status_code == 401
    return elapsed


def test_unknown_and_known_names_cost_the_same(
    server: Airlock, url: str, service: str, admin: tuple[str, str]
) -> None:
    """Enumeration by timing: a wrong password costs about the same for a name nobody has, a
    token's name and the admin user (medians of 10 tries each; a lookup without the argon2
    checks would be over 10x faster, the bound is 3x)."""
    password = make_token(server, "timedtoken", scopeMap="_repositories_pull")
    costs: dict[str, list[float]] = {"unknown": [], "token": [], "admin": []}
    for _ in range(10):
        costs["unknown"].append(timed(url, service, f"nobody-{secrets.token_hex(4)}"))
        costs["token"].append(timed(url, service, "timedtoken"))
        costs["admin"].append(timed(url, service, admin[0]))
        # Successes keep the throttle's counts at zero, so no attempt here is delayed.
        assert token_for(url, service, ("timedtoken", password)).status_code == 200
        assert token_for(url, service, admin).status_code == 200
    medians = {kind: statistics.median(values) for kind, values in costs.items()}
    assert max(medians.values()) < 3 * min(medians.values()), medians


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Airlock]:
    """A server of its own with low throttle limits: blocking 127.0.0.1 here blocks every
    sign-in from this machine for a while."""
    airlock = start_shared(
        tmp_path / "strict-home",
        extra_env={
            "AIRLOCK_SIGNIN_DELAY_AFTER": "2",
            "AIRLOCK_SIGNIN_BLOCK_AFTER": "5",
            "AIRLOCK_SIGNIN_BLOCK_SECONDS": "60",
        },
    )
    try:
        airlock.create_registry("throttled", port=free_port())
        yield airlock
    finally:
        airlock.stop()


def test_repeated_failures_are_slowed_then_refused_with_429_and_logged_once(
    strict: Airlock,
) -> None:
    url = strict.registries["throttled"]
    service = url.removeprefix("http://")
    creds = strict.admin_credentials("throttled")
    answers = [token_for(url, service, (f"guess{i}", "wrong")) for i in range(5)]
    assert [a.status_code for a in answers] == [401] * 5
    blocked = token_for(url, service, creds)  # right credentials, from a blocked source
    assert blocked.status_code == 429
    assert blocked.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert 0 < int(blocked.headers["retry-after"]) <= 60
    for _ in range(3):
        assert token_for(url, service, (f"guess-{secrets.token_hex(2)}", "x")).status_code == 429
    lines = [line for line in strict.log().splitlines() if "sign-in refused" in line]
    assert len(lines) == 1 and "127.0.0.1" in lines[0]
    assert "guess" not in lines[0]


def test_browser_requests_are_refused_and_do_not_count_against_the_throttle(
    strict: Airlock,
) -> None:
    """A web page can post a form to the token endpoint; the browser adds an Origin. Such
    posts are refused before any credential check, so a page cannot block this machine's
    sign-ins by failing them on purpose."""
    url = strict.registries["throttled"]
    service = url.removeprefix("http://")
    for i in range(8):
        answer = httpx.post(
            f"{url}/oauth2/token",
            data={
                "grant_type": "password",
                "username": f"page{i}",
                "password": "x",
                "service": service,
            },
            headers={"Origin": "https://evil.example"},
            timeout=30,
        )
        assert answer.status_code == 403
        assert "Origin" in answer.json()["errors"][0]["message"]
    # Above the block threshold (5) had they counted: the real credentials still work.
    assert token_for(url, service, strict.admin_credentials("throttled")).status_code == 200
