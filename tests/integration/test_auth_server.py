"""Token authentication on a real Airlock server: the token endpoint, the registry's checks,
scope maps and tokens through the REST API and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.registry_auth import RegistryTokenAuth, parse_challenge
from tests.support.servers import Airlock, free_port, start_airlock

REGISTRY = "authtests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    airlock = start_airlock(tmp_path_factory.mktemp("auth-home"))
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
    assert REGISTRY in r.text and "not-the-password-xyz" not in r.text


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
    status, registry = server.api(
        "PATCH", f"/api/registries/{REGISTRY}", {"anonymousPullEnabled": True}
    )
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
    bad = server.cli("acr", "login", "-n", REGISTRY, "-u", "clitoken", "-p", "wrong", check=False)
    assert bad.returncode == 1 and "wrong" not in bad.stderr and "clitoken" in bad.stderr
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
