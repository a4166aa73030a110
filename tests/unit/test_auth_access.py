"""The registry's access check: challenges, 401 vs 403, caching, revocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.auth.access import AccessController, AccessDeniedError, Need, Realm
from airlock.auth.identities import Current
from airlock.auth.scopes import ANONYMOUS_PULL, EVERYTHING, AccessEntry, Permissions
from airlock.auth.webtokens import TokenSigner

REALM = Realm(1, "reg01", "127.0.0.1:5001")
PULL_ONLY = Permissions.from_map_actions(["repositories/*/content/read"])


class FakeDirectory:
    def __init__(self) -> None:
        self.anonymous = False
        self.identities: dict[str, Permissions] = {"admin": EVERYTHING, "token:puller": PULL_ONLY}
        self.lookups = 0

    def anonymous_pull(self, registry_id: int) -> bool:
        return self.anonymous

    def current(self, registry_id: int, subject: str) -> Current | None:
        self.lookups += 1
        if subject == "anonymous":
            return Current(ANONYMOUS_PULL) if self.anonymous else None
        found = self.identities.get(subject)
        return None if found is None else Current(found)


@pytest.fixture
def signer(tmp_path: Path) -> TokenSigner:
    return TokenSigner.load(tmp_path)


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture
def controller(signer: TokenSigner, directory: FakeDirectory) -> AccessController:
    return AccessController(signer, directory)  # type: ignore[arg-type]


def bearer(signer: TokenSigner, subject: str, *entries: AccessEntry, **kw: object) -> str:
    issued = signer.issue(
        subject=subject,
        audience=str(kw.get("audience", REALM.login_server)),
        registry="reg01",
        access=list(entries),
    )
    return f"Bearer {issued.token}"


def repo(name: str, *actions: str) -> AccessEntry:
    return AccessEntry("repository", name, frozenset(actions))


def test_no_credential_gets_a_challenge_with_the_needed_scope(
    controller: AccessController,
) -> None:
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, None, Need.repository("node", "push", ask="pull,push"))
    assert caught.value.status == 401
    assert caught.value.challenge == (
        'Bearer realm="http://127.0.0.1:5001/oauth2/token",service="127.0.0.1:5001",'
        'scope="repository:node:pull,push"'
    )


def test_anonymous_pull_only_when_switched_on(
    controller: AccessController, directory: FakeDirectory
) -> None:
    need = Need.repository("node", "pull")
    with pytest.raises(AccessDeniedError):
        controller.authorize(REALM, None, need)
    directory.anonymous = True
    controller.authorize(REALM, None, need)
    with pytest.raises(AccessDeniedError):
        controller.authorize(REALM, None, Need.repository("node", "push"))
    with pytest.raises(AccessDeniedError):  # /v2/ always wants a token, as ACR
        controller.authorize(REALM, None, None)


def test_token_without_the_scope_asked_gets_insufficient_scope(
    controller: AccessController, signer: TokenSigner
) -> None:
    header = bearer(signer, "admin", repo("node", "pull"))
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "push", ask="pull,push"))
    assert caught.value.status == 401
    assert caught.value.challenge is not None
    assert 'error="insufficient_scope"' in caught.value.challenge


def test_identity_that_may_not_gets_403_denied(
    controller: AccessController, signer: TokenSigner
) -> None:
    header = bearer(signer, "token:puller", repo("node", "pull"))
    controller.authorize(REALM, header, Need.repository("node", "pull"))
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "push", ask="pull,push"))
    assert (caught.value.status, caught.value.code) == (403, "DENIED")
    assert "token 'puller' may not push to repository 'node'" in caught.value.message


def test_grants_are_narrowed_by_the_identity_now(
    controller: AccessController, signer: TokenSigner
) -> None:
    # A token claiming push for a pull-only identity (issued before a scope-map change).
    header = bearer(signer, "token:puller", repo("node", "pull", "push"))
    with pytest.raises(AccessDeniedError):
        controller.authorize(REALM, header, Need.repository("node", "push"))


def test_verified_tokens_are_cached(
    controller: AccessController, signer: TokenSigner, directory: FakeDirectory
) -> None:
    header = bearer(signer, "admin", repo("node", "pull"))
    for _ in range(5):
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert directory.lookups == 1


def test_forget_makes_a_disabled_identity_fail_at_once(
    controller: AccessController, signer: TokenSigner, directory: FakeDirectory
) -> None:
    header = bearer(signer, "token:puller", repo("node", "pull"))
    controller.authorize(REALM, header, Need.repository("node", "pull"))
    del directory.identities["token:puller"]
    controller.forget("reg01", "token:puller")
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert caught.value.status == 401 and "disabled or gone" in caught.value.message


def test_cached_token_expires(signer: TokenSigner, directory: FakeDirectory) -> None:
    now = [1_000_000_000.0]
    controller = AccessController(signer, directory, clock=lambda: now[0])  # type: ignore[arg-type]
    header = bearer(signer, "admin", repo("node", "pull"))
    controller.authorize(REALM, header, Need.repository("node", "pull"))
    now[0] = 4_000_000_000.0
    with pytest.raises(AccessDeniedError, match="expired"):
        controller.authorize(REALM, header, Need.repository("node", "pull"))


def test_token_of_another_registry_is_refused(
    controller: AccessController, signer: TokenSigner
) -> None:
    header = bearer(signer, "admin", repo("node", "pull"), audience="127.0.0.1:5002")
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert caught.value.status == 401 and caught.value.challenge is not None
    assert 'error="invalid_token"' in caught.value.challenge


def test_cache_stays_bounded(signer: TokenSigner, directory: FakeDirectory) -> None:
    controller = AccessController(signer, directory, cache_size=3)  # type: ignore[arg-type]
    for _ in range(10):
        controller.authorize(REALM, bearer(signer, "admin"), None)
    assert len(controller._cache) <= 3


def test_principal_tokens_grant_what_their_issuer_decided(
    signer: TokenSigner, directory: FakeDirectory
) -> None:
    class WithPrincipal(FakeDirectory):
        def current(self, registry_id: int, subject: str) -> Current | None:
            return Current(None) if subject == "principal:p-1" else None

    controller = AccessController(signer, WithPrincipal())  # type: ignore[arg-type]
    header = bearer(signer, "principal:p-1", repo("base/node", "pull", "push"))
    controller.authorize(REALM, header, Need.repository("base/node", "push"))
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("base/node", "delete"))
    assert caught.value.status == 403 and "identity 'p-1'" in caught.value.message
