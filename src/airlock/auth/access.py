"""The access check the registry runs on every request.

A request carries ``Authorization: Bearer <JWT>`` from the token endpoint. The first time a
JWT is seen it is verified (signature, expiry with ``LEEWAY`` seconds of skew, audience =
the registry's login server) and its identity looked up; the result is cached by the raw
token string, so the next requests cost a dict lookup. Every change to who may do what
moves the identity epoch (``airlock.db.epochs``) in the same transaction, and the cache
starts again when it moved: at the next request for a change this process made, within
``epochs.RECHECK_SECONDS`` (50 ms) for one made by another server process sharing the
database. What a token grants is its ``access`` claim narrowed by what its
identity may do now; a token must also carry the registry's uid (``rid``) and its identity's
current stamp, so that re-created registries and tokens and renewed credentials never honour
old tokens.

Answers:

- no token, or an invalid or expired one: 401 with the ``WWW-Authenticate: Bearer`` challenge
  naming the scope the request needs, so the client fetches a token for it;
- a valid token without the action, whose identity could have it: 401 ``insufficient_scope``
  with the challenge (the client asks for that scope and retries, as with Distribution);
- a valid token without the action, whose identity may not have it: 403 ``DENIED``, which
  podman and docker print as "denied: ..." rather than as a login failure.

Requests without a token pull when the registry has anonymous pull on; ``/v2/`` itself always
wants a token, as ACR does, so that clients go through the token endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from airlock.auth.identities import ANONYMOUS, IdentityDirectory, describe
from airlock.auth.scopes import (
    ALL,
    CATALOG,
    PULL,
    REGISTRY,
    REPOSITORY,
    AccessEntry,
    Permissions,
)
from airlock.auth.webtokens import LEEWAY, TokenInvalidError, TokenSigner
from airlock.db import epochs

CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Realm:
    """One registry as the token flow names it."""

    registry_id: int
    registry_name: str
    login_server: str
    # The registry's uid (``registries.uid``), which JWTs carry as ``rid``. Empty: not known
    # to whoever built the realm, and looked up when needed.
    registry_uid: str = ""

    @property
    def token_url(self) -> str:
        return f"http://{self.login_server}/oauth2/token"

    def challenge(self, need: Need | None = None, error: str | None = None) -> str:
        value = f'Bearer realm="{self.token_url}",service="{self.login_server}"'
        if need is not None:
            value += f',scope="{need.scope}"'
        if error is not None:
            value += f',error="{error}"'
        return value


@dataclass(frozen=True, slots=True)
class Need:
    """What a request needs: any one of ``actions`` on a resource. ``ask`` is the scope's
    actions the challenge tells clients to ask for (``pull,push`` for pushes, as Docker
    clients ask)."""

    type: str
    name: str
    actions: tuple[str, ...]
    ask: str

    @classmethod
    def repository(cls, name: str, *actions: str, ask: str | None = None) -> Need:
        return cls(REPOSITORY, name, actions, ask or ",".join(actions))

    @classmethod
    def catalog(cls) -> Need:
        return cls(REGISTRY, CATALOG, (ALL,), ALL)

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.name}:{self.ask}"


class AccessDeniedError(Exception):
    def __init__(self, status: int, message: str, need: Need | None, challenge: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.need = need
        self.challenge = challenge

    @property
    def code(self) -> str:
        return "UNAUTHORIZED" if self.status == 401 else "DENIED"


class Grant:
    """What the request's credential allows (returned by ``authorize``)."""

    __slots__ = ("audience", "expires", "grants", "permissions", "registry", "rid", "subject")

    def __init__(
        self,
        subject: str,
        audience: str,
        registry: str,
        expires: float,
        grants: dict[tuple[str, str], frozenset[str]],
        permissions: Permissions | None,
        rid: str = "",
    ) -> None:
        self.subject = subject
        self.audience = audience
        self.registry = registry
        self.expires = expires
        self.grants = grants
        self.permissions = permissions
        self.rid = rid

    def allows(self, kind: str, name: str, action: str) -> bool:
        if self.subject == ANONYMOUS and self.permissions is not None:
            return self.permissions.allows(kind, name, action)
        actions = self.grants.get((kind, name))
        return actions is not None and (action in actions or ALL in actions)

    def satisfies(self, need: Need) -> bool:
        return any(self.allows(need.type, need.name, a) for a in need.actions)


def anonymous_grant(permissions: Permissions) -> Grant:
    return Grant(ANONYMOUS, "", "", float("inf"), {}, permissions)


class AccessController:
    def __init__(
        self,
        signer: TokenSigner,
        directory: IdentityDirectory,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.signer = signer
        self.directory = directory
        self.clock = clock
        self.cache_size = cache_size
        self._cache: dict[str, Grant] = {}
        self._epoch: int | None = None
        self._local = -1
        self._recheck_at = 0.0

    def authorize(self, realm: Realm, authorization: str | None, need: Need | None) -> Grant:
        """The request's grant if it may do ``need`` (None: any valid credential);
        raises AccessDeniedError."""
        token = _bearer(authorization)
        if token is None:
            return self._anonymous(realm, need)
        grant = self._verified(realm, token, need)
        if need is None or grant.satisfies(need):
            return grant
        permissions = grant.permissions
        if permissions is not None and any(
            permissions.allows(need.type, need.name, a) for a in need.actions
        ):
            raise AccessDeniedError(
                401,
                f"the token does not grant {need.scope}; ask the token endpoint for it",
                need,
                realm.challenge(need, "insufficient_scope"),
            )
        raise AccessDeniedError(403, f"{describe(grant.subject)} may not {_verb(need)}", need, None)

    def forget(self, registry_name: str, subject: str | None = None) -> None:
        """Drop cached tokens of a registry (of one subject).

        Not needed any more: the stores move the identity epoch on every change, and
        ``authorize`` drops the cache when it moved. Kept so that existing callers work."""
        for token, grant in list(self._cache.items()):
            if grant.registry == registry_name and subject in (None, grant.subject):
                del self._cache[token]

    def _anonymous(self, realm: Realm, need: Need | None) -> Grant:
        if (
            need is not None
            and need.type == REPOSITORY
            and PULL in need.actions
            and self.directory.anonymous_pull(realm.registry_id)
        ):
            current = self.directory.current(realm.registry_id, ANONYMOUS)
            if current is not None:
                return anonymous_grant(current.permissions)
        raise AccessDeniedError(401, "authentication required", need, realm.challenge(need))

    def _verified(self, realm: Realm, token: str, need: Need | None) -> Grant:
        self._check_epoch()
        grant = self._cache.get(token)
        if grant is None:
            grant = self._verify(realm, token, need)
            self._remember(token, grant)
        elif grant.expires + LEEWAY < self.clock():
            del self._cache[token]
            raise _invalid(realm, need, "token has expired")
        if (
            grant.audience != realm.login_server
            or grant.registry != realm.registry_name
            or (realm.registry_uid and grant.rid != realm.registry_uid)
        ):
            raise _invalid(realm, need, f"token is not for {realm.login_server}")
        return grant

    def _check_epoch(self) -> None:
        """Drop the cache when who may do what has changed: at once for changes made by this
        process (``epochs.local``, free to read), and within ``epochs.RECHECK_SECONDS`` for
        changes made by another process sharing the database (one indexed read of a one-row
        table, made at most that often rather than on every request)."""
        local = epochs.local()
        now = time.monotonic()
        if local == self._local and now < self._recheck_at:
            return
        self._local, self._recheck_at = local, now + epochs.RECHECK_SECONDS
        epoch = self.directory.epoch()
        if epoch != self._epoch:
            self._cache.clear()
            self._epoch = epoch

    def _verify(self, realm: Realm, token: str, need: Need | None) -> Grant:
        try:
            claims = self.signer.verify(token, realm.login_server)
        except TokenInvalidError as exc:
            raise _invalid(realm, need, str(exc)) from None
        uid = realm.registry_uid or self.directory.registry_uid(realm.registry_id)
        if claims.registry != realm.registry_name or claims.rid != uid:
            # Same name and port, another registry (deleted and created again): not ours.
            raise _invalid(realm, need, f"token is not for registry {realm.registry_name}")
        current = self.directory.current(realm.registry_id, claims.subject, claims.stamp)
        if current is None:
            raise _invalid(
                realm,
                need,
                f"{describe(claims.subject)} is disabled, gone, has no access to this "
                "registry or its credentials changed since the token was issued",
            )
        return Grant(
            claims.subject,
            claims.audience,
            claims.registry,
            claims.expires,
            _grants(claims.access, current.permissions),
            current.permissions,
            claims.rid,
        )

    def _remember(self, token: str, grant: Grant) -> None:
        if len(self._cache) >= self.cache_size:
            now = self.clock()
            for key, old in list(self._cache.items()):
                if old.expires + LEEWAY < now:
                    del self._cache[key]
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
        self._cache[token] = grant


def _grants(
    access: tuple[AccessEntry, ...], permissions: Permissions | None
) -> dict[tuple[str, str], frozenset[str]]:
    grants: dict[tuple[str, str], frozenset[str]] = {}
    for entry in access:
        actions = entry.actions
        if permissions is not None:
            actions = frozenset(a for a in actions if permissions.allows(entry.type, entry.name, a))
        grants[(entry.type, entry.name)] = (
            grants.get((entry.type, entry.name), frozenset()) | actions
        )
    return grants


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _invalid(realm: Realm, need: Need | None, message: str) -> AccessDeniedError:
    return AccessDeniedError(401, message, need, realm.challenge(need, "invalid_token"))


_VERBS = {
    "pull": "pull from",
    "push": "push to",
    "delete": "delete from",
    "metadata_read": "read the metadata of",
    "metadata_write": "write the metadata of",
}


def _verb(need: Need) -> str:
    if need.type == REGISTRY:
        return "list the registry's catalog"
    return f"{_VERBS.get(need.actions[0], need.ask)} repository {need.name!r}"
