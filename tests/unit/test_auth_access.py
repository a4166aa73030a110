"""The registry's access check: challenges, 401 vs 403, caching, revocation by the identity
epoch, binding to the registry's uid and the identity's stamp."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from airlock.auth.access import AccessController, AccessDeniedError, Need, Realm
from airlock.auth.identities import Current
from airlock.auth.scopes import ANONYMOUS_PULL, EVERYTHING, AccessEntry, Permissions
from airlock.auth.webtokens import TokenSigner
from airlock.db import epochs

REALM = Realm(1, "reg01", "127.0.0.1:5001", "uid-reg01")
PULL_ONLY = Permissions.from_map_actions(["repositories/*/content/read"])


class FakeDirectory:
    """The directory's answers, set by each test; the SQL behind them is tested against a
    real database in test_auth_identities.py."""

    def __init__(self) -> None:
        self.anonymous = False
        self.identities: dict[str, Permissions] = {"admin": EVERYTHING, "token:puller": PULL_ONLY}
        self.stamps: dict[str, str] = {}
        self.lookups = 0
        self.epoch_value = 0

    def epoch(self) -> int:
        return self.epoch_value

    def registry_uid(self, registry_id: int) -> str | None:
        return REALM.registry_uid

    def anonymous_pull(self, registry_id: int) -> bool:
        return self.anonymous

    def current(self, registry_id: int, subject: str, stamp: str | None = None) -> Current | None:
        self.lookups += 1
        if subject == "anonymous":
            return Current(ANONYMOUS_PULL) if self.anonymous else None
        found = self.identities.get(subject)
        now = self.stamps.get(subject, "")
        if found is None or (stamp is not None and stamp != now):
            return None
        return Current(found, now)


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
        rid=str(kw.get("rid", REALM.registry_uid)),
        stamp=str(kw.get("stamp", "")),
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
    assert caught.value.status == 401 and "disabled, gone" in caught.value.message


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


def test_principal_tokens_are_narrowed_by_the_principals_roles(
    controller: AccessController, signer: TokenSigner, directory: FakeDirectory
) -> None:
    # As AcrPull gives: the token claims push too, but only pull is honoured.
    directory.identities["principal:p-1"] = PULL_ONLY
    header = bearer(signer, "principal:p-1", repo("base/node", "pull", "push"))
    controller.authorize(REALM, header, Need.repository("base/node", "pull"))
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("base/node", "push"))
    assert caught.value.status == 403 and "identity 'p-1'" in caught.value.message


def test_a_change_by_this_process_drops_cached_grants_at_once(
    controller: AccessController, signer: TokenSigner, directory: FakeDirectory
) -> None:
    header = bearer(signer, "token:puller", repo("node", "pull"))
    controller.authorize(REALM, header, Need.repository("node", "pull"))
    # The token is deleted by a store of this process: it moved the epoch in the same
    # transaction (and this process's counter); nobody called forget().
    del directory.identities["token:puller"]
    controller.authorize(REALM, header, Need.repository("node", "pull"))  # nothing moved yet
    directory.epoch_value += 1
    epochs.bump(_RecordingConnection())
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert caught.value.status == 401


def test_a_change_by_another_process_drops_cached_grants_after_the_recheck_window(
    controller: AccessController,
    signer: TokenSigner,
    directory: FakeDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(epochs, "RECHECK_SECONDS", 0.02)
    header = bearer(signer, "token:puller", repo("node", "pull"))
    controller.authorize(REALM, header, Need.repository("node", "pull"))
    # Another server process sharing the database deletes the token: only the database's
    # counter moves, which this process reads again at most every RECHECK_SECONDS.
    del directory.identities["token:puller"]
    directory.epoch_value += 1
    time.sleep(0.03)
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert caught.value.status == 401


class _RecordingConnection:
    """Stands in for a SQLAlchemy connection in ``epochs.bump``."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, statement: object, parameters: object = None) -> None:
        self.statements.append(str(statement))


def test_a_token_of_a_previous_registry_with_the_same_name_is_refused(
    controller: AccessController, signer: TokenSigner
) -> None:
    header = bearer(signer, "admin", repo("node", "pull"), rid="uid-of-the-deleted-registry")
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert caught.value.status == 401 and "not for registry" in caught.value.message


def test_a_cached_grant_is_not_honoured_by_a_re_created_registry(
    controller: AccessController, signer: TokenSigner
) -> None:
    header = bearer(signer, "admin", repo("node", "pull"))
    controller.authorize(REALM, header, Need.repository("node", "pull"))
    again = Realm(REALM.registry_id, REALM.registry_name, REALM.login_server, "uid-new")
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(again, header, Need.repository("node", "pull"))
    assert caught.value.status == 401


def test_a_token_with_an_old_stamp_is_refused(
    controller: AccessController, signer: TokenSigner, directory: FakeDirectory
) -> None:
    directory.stamps["token:puller"] = "uid-1:stamp-2"  # credentials generated since
    header = bearer(signer, "token:puller", repo("node", "pull"), stamp="uid-1:stamp-1")
    with pytest.raises(AccessDeniedError) as caught:
        controller.authorize(REALM, header, Need.repository("node", "pull"))
    assert caught.value.status == 401 and "credentials changed" in caught.value.message
    fresh = bearer(signer, "token:puller", repo("node", "pull"), stamp="uid-1:stamp-2")
    controller.authorize(REALM, fresh, Need.repository("node", "pull"))
