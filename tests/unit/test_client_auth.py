"""Every authentication path of the OCI client, against an in-memory registry."""

from __future__ import annotations

import json

import httpx
import pytest

from airlock.client import (
    AccessDeniedError,
    AuthenticationError,
    Credentials,
    RegistryClient,
)
from airlock.client.auth import parse_challenge, request_scopes
from tests.support.fake_registry import REALM, REGISTRY, FakeRegistry, basic, oci_error

ALICE = Credentials("alice", "s3cret-pw")
MANIFEST_BYTES = json.dumps(
    {"schemaVersion": 2, "config": {"mediaType": "a/b", "digest": "sha256:" + "0" * 64, "size": 1}}
).encode()


def client_for(fake: FakeRegistry, credentials: Credentials | None = None) -> RegistryClient:
    return RegistryClient(REGISTRY, credentials=credentials, transport=fake.transport())


def test_anonymous_registry_gets_no_authorization() -> None:
    fake = FakeRegistry(mode="anonymous")
    fake.add_manifest("app", "v1", MANIFEST_BYTES)
    with client_for(fake) as client:
        client.ping()
        assert client.get_manifest("app", "v1").media_type.startswith("application/vnd.oci")
    assert all("authorization" not in r.headers for r in fake.requests)
    assert len(fake.requests) == 2


def test_basic_challenge_sends_credentials_then_sends_them_first() -> None:
    fake = FakeRegistry(mode="basic")
    with client_for(fake, ALICE) as client:
        client.ping()
        client.ping()
    statuses = [r.headers.get("authorization") for r in fake.requests]
    # 401 once, then Basic on the retry and on every later request without a new challenge.
    assert statuses == [None, basic("alice", "s3cret-pw"), basic("alice", "s3cret-pw")]


def test_bearer_challenge_with_anonymous_token() -> None:
    fake = FakeRegistry(mode="bearer")
    digest = fake.add_blob("library/node", b"layer")
    with client_for(fake) as client:
        assert client.blob_size("library/node", digest) == 5
    (token_request,) = fake.token_requests
    assert "authorization" not in token_request.headers
    assert token_request.url.params.get_list("scope") == ["repository:library/node:pull"]
    assert token_request.url.params["service"] == REGISTRY


def test_docker_hub_access_token_answer_is_accepted() -> None:
    fake = FakeRegistry(mode="bearer", token_key="access_token", expires_in=None)
    fake.add_blob("library/node", b"x")
    with client_for(fake) as client:
        assert client.blob_size("library/node", "sha256:" + "0" * 64) is None
        assert client.blob_size("library/node", fake.add_blob("library/node", b"x")) == 1


def test_bearer_with_basic_credentials_at_the_token_endpoint() -> None:
    fake = FakeRegistry(mode="bearer", anonymous_tokens=False)
    with client_for(fake, ALICE) as client:
        client.ping()
    (token_request,) = fake.token_requests
    assert token_request.headers["authorization"] == basic("alice", "s3cret-pw")
    # /v2/ asks for no scope, and the client adds none.
    assert token_request.url.params.get_list("scope") == []
    assert fake.requests[-1].headers["authorization"].startswith("Bearer tok-")


def test_token_is_cached_per_scope_and_reused() -> None:
    fake = FakeRegistry(mode="bearer")
    a = fake.add_blob("a", b"aaa")
    b = fake.add_blob("b", b"bbb")
    with client_for(fake) as client:
        client.blob_size("a", a)
        client.blob_size("a", a)
        client.blob_size("b", b)  # another scope: a new token, fetched before sending
        client.blob_size("a", a)
        client.blob_size("b", b)
    scopes = [r.url.params.get_list("scope") for r in fake.token_requests]
    assert scopes == [["repository:a:pull"], ["repository:b:pull"]]
    unauthorized = [r for r in fake.requests if r.url.host != "auth.test"]
    # Only the very first request met a 401; later scopes were fetched ahead.
    assert ["authorization" in r.headers for r in unauthorized] == [False] + [True] * 5


def test_push_token_also_serves_pulls() -> None:
    fake = FakeRegistry(mode="bearer")
    with client_for(fake, ALICE) as client:
        client.upload_blob("app", fake.add_blob("elsewhere", b"data"), [b"data"])
        client.blob_size("app", "sha256:" + "1" * 64)
    scopes = [r.url.params.get_list("scope") for r in fake.token_requests]
    assert scopes == [["repository:app:pull"], ["repository:app:pull,push"]]


def test_expired_token_is_fetched_again() -> None:
    fake = FakeRegistry(mode="bearer", expires_in=None)  # the spec's default: 60 s
    digest = fake.add_blob("a", b"aaa")
    now = [1000.0]
    with client_for(fake) as client:
        client.auth.clock = lambda: now[0]
        client.blob_size("a", digest)
        now[0] += 30
        client.blob_size("a", digest)
        assert len(fake.token_requests) == 1
        now[0] += 31
        client.blob_size("a", digest)
    assert len(fake.token_requests) == 2


def test_revoked_token_is_refreshed_on_401() -> None:
    fake = FakeRegistry(mode="bearer")
    digest = fake.add_blob("a", b"aaa")
    with client_for(fake) as client:
        client.blob_size("a", digest)
        fake.tokens.clear()  # the registry forgot every token (restart, revocation)
        assert client.blob_size("a", digest) == 3
    assert len(fake.token_requests) == 2


def test_wrong_basic_password_is_an_authentication_error_without_the_password() -> None:
    fake = FakeRegistry(mode="basic")
    wrong = Credentials("alice", "not-the-password")
    with client_for(fake, wrong) as client, pytest.raises(AuthenticationError) as caught:
        client.ping()
    message = str(caught.value)
    assert REGISTRY in message and "alice" in message
    assert "not-the-password" not in message and "not-the-password" not in repr(caught.value)
    assert len(fake.requests) == 2  # one retry with credentials, not a loop


def test_401_after_a_fresh_token_is_an_authentication_error() -> None:
    fake = FakeRegistry(mode="bearer")
    challenge = {"WWW-Authenticate": f'Bearer realm="{REALM}",service="{REGISTRY}"'}
    # The registry refuses every token the endpoint hands out (a misconfigured audience).
    fake.hooks.append(
        lambda r: (
            None
            if r.url.host == "auth.test"
            else oci_error(401, "UNAUTHORIZED", "invalid token", challenge)
        )
    )
    with client_for(fake, ALICE) as client, pytest.raises(AuthenticationError) as caught:
        client.ping()
    assert "alice" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    assert caught.value.status == 401
    assert len(fake.token_requests) == 1  # one retry, not a loop


def test_token_endpoint_refusing_the_credentials() -> None:
    fake = FakeRegistry(mode="bearer")
    wrong = Credentials("alice", "wrong-pw")
    with client_for(fake, wrong) as client, pytest.raises(AuthenticationError) as caught:
        client.get_manifest("app", "v1")
    assert "alice" in str(caught.value) and "wrong-pw" not in str(caught.value)
    assert caught.value.registry == REGISTRY
    assert len(fake.token_requests) == 1


def test_token_endpoint_refusing_anonymous_access() -> None:
    fake = FakeRegistry(mode="bearer", anonymous_tokens=False)
    with client_for(fake) as client, pytest.raises(AuthenticationError, match="anonymous"):
        client.ping()


def test_403_is_access_denied() -> None:
    fake = FakeRegistry(mode="bearer", denied={"secret"})
    with client_for(fake, ALICE) as client, pytest.raises(AccessDeniedError) as caught:
        client.get_manifest("secret", "v1")
    assert caught.value.status == 403 and caught.value.codes == ["DENIED"]


def test_mount_fetches_a_token_with_pull_on_the_source_first() -> None:
    fake = FakeRegistry(mode="bearer")
    digest = fake.add_blob("source", b"shared layer")
    with client_for(fake, ALICE) as client:
        client.ping()  # learns the realm
        assert client.mount_blob("target", digest, "source") is True
    (mount,) = fake.sent("POST")
    assert "authorization" in mount.headers  # sent once, with the right token from the start
    assert fake.token_requests[-1].url.params.get_list("scope") == [
        "repository:source:pull",
        "repository:target:pull,push",
    ]


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/node:pull",error="insufficient_scope"'
    )
    assert scheme == "bearer"
    assert params["realm"] == "https://auth.docker.io/token"
    assert params["scope"] == "repository:library/node:pull"
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


@pytest.mark.parametrize(
    ("method", "url", "scopes"),
    [
        ("GET", "https://r/v2/", ()),
        ("GET", "https://r/v2/a/b/manifests/v1", ("repository:a/b:pull",)),
        ("PUT", "https://r/v2/a/manifests/v1", ("repository:a:pull,push",)),
        ("DELETE", "https://r/v2/a/blobs/sha256:1", ("repository:a:delete",)),
        (
            "POST",
            "https://r/v2/t/blobs/uploads/?mount=sha256:1&from=s/x",
            ("repository:s/x:pull", "repository:t:pull,push"),
        ),
        ("GET", "https://r/v2/_catalog", ("registry:catalog:*",)),
    ],
)
def test_request_scopes(method: str, url: str, scopes: tuple[str, ...]) -> None:
    assert request_scopes(httpx.Request(method, url)) == scopes
