"""The token service: who is asking (admin user, token, service principal, refresh token,
anonymous) and the JWTs they get, which hold the intersection of what was asked and what
they may do, bound to the registry's uid and to the identity's current stamp.

Usernames at a registry's token endpoint:

- ``00000000-0000-0000-0000-000000000000``: the password is a refresh token;
- any other UUID: a service principal's appId, the password one of its client secrets;
- the registry's name: the admin user;
- anything else: a token's name.

Sign-in hygiene: a refused sign-in says "invalid username or password" and never quotes the
username (people type passwords into it); a name nobody has costs the same argon2 work as a
known one (checked against a fixed dummy hash), and the admin user's check is padded to the
same cost, so that timing does not tell which names exist.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from airlock.auth.access import Realm
from airlock.auth.admin import AdminUsers
from airlock.auth.identities import (
    ADMIN,
    ANONYMOUS,
    IdentityDirectory,
    describe,
    now_utc,
    principal_subject,
    run_subject,
    token_stamp,
    token_subject,
)
from airlock.auth.passwords import hash_password, verify_password
from airlock.auth.scopes import EVERYTHING, AccessEntry, Permissions, ScopeError
from airlock.auth.throttle import SignInThrottle
from airlock.auth.tokens import UUID_SHAPED, Tokens
from airlock.auth.webtokens import (
    ACCESS_LIFETIME,
    REFRESH_LIFETIME,
    IssuedToken,
    TokenInvalidError,
    TokenSigner,
)

log = logging.getLogger("airlock.auth")

# The username that says "the password is a refresh token", as with ACR's
# `az acr login --expose-token`.
REFRESH_USERNAME = "00000000-0000-0000-0000-000000000000"
# Every password sign-in runs at least this many argon2 checks, whatever the name: a token
# has two passwords, so an unknown name and the admin user are padded to two.
MIN_CHECKS = 2
INVALID = "invalid username or password"


class AuthenticationError(Exception):
    """Credentials refused; the message never quotes the username or the password."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed in. ``stamp``: the identity's credential stamp when its credentials were
    checked (None: read when a token is issued). ``refresh_expires``: set when it signed in
    with a refresh token, whose expiry any refresh token issued in exchange keeps."""

    subject: str
    permissions: Permissions
    stamp: str | None = None
    refresh_expires: float | None = None


@cache
def _dummy_hash() -> str:
    # A hash no password matches (its password is thrown away), with the parameters of real
    # ones, so that checking against it costs what a real check costs.
    return hash_password(secrets.token_urlsafe(32))


class TokenService:
    def __init__(
        self,
        signer: TokenSigner,
        admin: AdminUsers,
        tokens: Tokens,
        directory: IdentityDirectory,
        throttle: SignInThrottle | None = None,
    ) -> None:
        self.signer = signer
        self.admin = admin
        self.tokens = tokens
        self.directory = directory
        self.throttle = throttle or SignInThrottle()
        _dummy_hash()  # made at start-up, not on the first unknown name (that would show)

    async def sign_in(self, realm: Realm, username: str, password: str, source: str) -> Identity:
        """``authenticate`` behind the sign-in throttle: waits when the source or name has
        failed often, raises ThrottledError when either is blocked, counts the outcome."""
        # A refresh token names nobody: a stale one must not slow down everyone's refreshes.
        name = None if username == REFRESH_USERNAME else username
        wait = self.throttle.check(source, name)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            identity = await self.authenticate(realm, username, password)
        except AuthenticationError:
            self.throttle.failed(source, name)
            raise
        self.throttle.succeeded(source, name)
        return identity

    async def authenticate(self, realm: Realm, username: str, password: str) -> Identity:
        if username == REFRESH_USERNAME:
            return self.from_refresh_token(realm, password)
        if UUID_SHAPED.match(username):
            return await self._service_principal(realm, username, password)
        if username.lower() == realm.registry_name.lower():
            return await self._admin(realm, password)
        return await self._token(realm, username, password)

    def anonymous(self, realm: Realm) -> Identity:
        current = self.directory.current(realm.registry_id, ANONYMOUS)
        if current is None:
            raise AuthenticationError(
                f"authentication required: registry {realm.registry_name!r} does not allow "
                "anonymous pull; log in with 'airlock acr login' or a token"
            )
        return Identity(ANONYMOUS, current.permissions, "")

    def admin_identity(self, realm: Realm) -> Identity:
        """The admin user, for a caller that has checked the right to act as it (``acr
        login`` without a username); refuses a disabled admin user."""
        state = self.admin.state(realm.registry_id)
        if not state.enabled:
            raise AuthenticationError(
                f"the admin user of registry {realm.registry_name!r} is disabled"
            )
        return Identity(ADMIN, EVERYTHING, state.stamp)

    def from_refresh_token(self, realm: Realm, refresh_token: str) -> Identity:
        try:
            claims = self.signer.verify(refresh_token, realm.login_server, refresh=True)
        except TokenInvalidError as exc:
            raise AuthenticationError(f"refresh token refused: {exc}") from None
        if claims.registry != realm.registry_name or claims.rid != self._rid(realm):
            raise AuthenticationError(
                f"refresh token refused: it is not for registry {realm.registry_name!r}"
            )
        current = self.directory.current(realm.registry_id, claims.subject, claims.stamp)
        if current is None:
            raise AuthenticationError(
                f"refresh token refused: {describe(claims.subject)} is disabled, gone, has no "
                "access to this registry or its credentials changed; log in again"
            )
        return Identity(claims.subject, current.permissions, current.stamp, claims.expires)

    def issue(self, realm: Realm, identity: Identity, requested: list[AccessEntry]) -> IssuedToken:
        granted = identity.permissions.grant(requested)
        log.info(
            "token for %s on %s: asked %s, granted %s",
            describe(identity.subject),
            realm.registry_name,
            " ".join(e.scope() for e in requested) or "-",
            " ".join(e.scope() for e in granted) or "-",
        )
        return self.signer.issue(
            subject=identity.subject,
            audience=realm.login_server,
            registry=realm.registry_name,
            rid=self._rid(realm),
            stamp=self._stamp(realm, identity),
            access=granted,
        )

    def issue_refresh(self, realm: Realm, identity: Identity) -> IssuedToken:
        """A refresh token: 3 hours, or (for an identity that signed in with a refresh
        token) the presented one's expiry, never later."""
        if identity.subject == ANONYMOUS:
            raise AuthenticationError("anonymous access gets no refresh token")
        expires = None if identity.refresh_expires is None else int(identity.refresh_expires)
        return self.signer.issue(
            subject=identity.subject,
            audience=realm.login_server,
            registry=realm.registry_name,
            rid=self._rid(realm),
            stamp=self._stamp(realm, identity),
            lifetime=REFRESH_LIFETIME,
            expires=expires,
        )

    def issue_for_principal(
        self,
        realm: Realm,
        principal_id: str,
        access: list[AccessEntry],
        lifetime: int = ACCESS_LIFETIME,
    ) -> IssuedToken:
        """A token for a principal with ``access`` as the caller decided; the registry still
        narrows it to what the principal's role assignments allow there, and refuses it once
        the principal is gone or its credentials were reset."""
        subject = principal_subject(principal_id)
        return self.signer.issue(
            subject=subject,
            audience=realm.login_server,
            registry=realm.registry_name,
            rid=self._rid(realm),
            stamp=self._stamp(realm, Identity(subject, EVERYTHING)),
            access=access,
            lifetime=lifetime,
        )

    def issue_refresh_for_principal(self, realm: Realm, principal_id: str) -> IssuedToken:
        """A registry refresh token for a signed-in principal (``airlock acr login`` with a
        management session): what its role assignments covering the registry allow, for 3
        hours; AuthenticationError when they allow nothing there or it is gone."""
        subject = principal_subject(principal_id)
        current = self.directory.current(realm.registry_id, subject)
        if current is None:
            raise AuthenticationError(
                f"the signed-in identity has no role on registry {realm.registry_name!r}; "
                "assign one (e.g. AcrPull or AcrPush) at the registry's scope or above"
            )
        return self.issue_refresh(realm, Identity(subject, current.permissions, current.stamp))

    def issue_refresh_for_run(self, realm: Realm, run: str, lifetime: int) -> IssuedToken:
        """A refresh token for a run on its own registry: everything there, for at most
        ``lifetime`` seconds, and refused as soon as the run is no longer Running."""
        subject = run_subject(run)
        if self.directory.current(realm.registry_id, subject) is None:
            raise AuthenticationError(f"run {run!r} is not running on {realm.registry_name!r}")
        return self.signer.issue(
            subject=subject,
            audience=realm.login_server,
            registry=realm.registry_name,
            rid=self._rid(realm),
            stamp=subject,
            lifetime=lifetime,
        )

    def _rid(self, realm: Realm) -> str:
        uid = realm.registry_uid or self.directory.registry_uid(realm.registry_id)
        if uid is None:
            raise AuthenticationError(f"registry {realm.registry_name!r} is gone")
        return uid

    def _stamp(self, realm: Realm, identity: Identity) -> str:
        if identity.stamp is not None:
            return identity.stamp
        current = self.directory.current(realm.registry_id, identity.subject)
        if current is None:
            raise AuthenticationError(f"{describe(identity.subject)} is disabled or gone")
        return current.stamp

    async def _admin(self, realm: Realm, password: str) -> Identity:
        state = self.admin.state(realm.registry_id)
        # Padding: the admin check is a constant-time compare, a token's is two argon2
        # checks; the same work here keeps the registry's name from standing out by timing.
        await asyncio.to_thread(_matching, (), password)
        if not state.check(password):
            raise AuthenticationError(INVALID)
        if not state.enabled:
            raise AuthenticationError(
                f"the admin user of registry {realm.registry_name!r} is disabled"
            )
        return Identity(ADMIN, EVERYTHING, state.stamp)

    async def _token(self, realm: Realm, username: str, password: str) -> Identity:
        token = self.tokens.find(realm.registry_id, username)
        hashes = () if token is None else tuple(p.hash for p in token.passwords)
        # argon2 takes ~20 ms and releases the GIL: off the event loop.
        matched = await asyncio.to_thread(_matching, hashes, password)
        if token is None or matched is None:
            raise AuthenticationError(INVALID)
        # From here the password was right: naming the token no longer echoes a guess.
        password_info = token.passwords[matched]
        if token.status != "enabled":
            raise AuthenticationError(f"token {token.name!r} is disabled")
        if password_info.expired:
            raise AuthenticationError(
                f"{password_info.name} of token {token.name!r} expired on "
                f"{password_info.expiry}; generate a new one with "
                "'airlock acr token credential generate'"
            )
        try:
            permissions = Permissions.from_map_actions(token.scope_map_actions)
        except ScopeError as exc:  # a map written by hand into the database
            raise AuthenticationError(
                f"token {token.name!r} has a broken scope map: {exc}"
            ) from None
        return Identity(token_subject(token.name), permissions, token_stamp(token.uid, token.stamp))

    async def _service_principal(self, realm: Realm, app_id: str, password: str) -> Identity:
        found = self.directory.service_principal(app_id)
        hashes = () if found is None else tuple(s.hash for s in found.secrets)
        matched = await asyncio.to_thread(_matching, hashes, password)
        if found is None or matched is None:
            raise AuthenticationError(INVALID)
        if found.secrets[matched].expired(now_utc()):
            raise AuthenticationError(
                "the client secret has expired; reset it with 'airlock ad sp credential reset'"
            )
        permissions = self.directory.principal_permissions(realm.registry_id, found.principal_id)
        if permissions is None:
            raise AuthenticationError(
                f"the service principal has no role on registry {realm.registry_name!r}; "
                "assign one (e.g. AcrPull or AcrPush) at the registry's scope or above"
            )
        return Identity(principal_subject(found.principal_id), permissions, found.stamp)


def _matching(hashes: Sequence[str], password: str) -> int | None:
    """The index of the hash ``password`` matches, checking every one (and the dummy hash up
    to MIN_CHECKS) so that the work does not depend on which matched or whether any exist."""
    matched: int | None = None
    for index, hashed in enumerate(hashes):
        if verify_password(hashed, password) and matched is None:
            matched = index
    for _ in range(MIN_CHECKS - len(hashes)):
        verify_password(_dummy_hash(), password)
    return matched
