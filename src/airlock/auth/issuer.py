"""The token service: who is asking (admin user, token, refresh token, anonymous) and the
JWTs they get, which hold the intersection of what was asked and what they may do."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from airlock.auth.access import Realm
from airlock.auth.admin import AdminUsers
from airlock.auth.identities import (
    ADMIN,
    ANONYMOUS,
    IdentityDirectory,
    describe,
    principal_subject,
    token_subject,
)
from airlock.auth.passwords import verify_password
from airlock.auth.scopes import EVERYTHING, AccessEntry, Permissions, ScopeError
from airlock.auth.tokens import PasswordInfo, Tokens
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


class AuthenticationError(Exception):
    """Credentials refused; the message names the user, never the password."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    permissions: Permissions


class TokenService:
    def __init__(
        self,
        signer: TokenSigner,
        admin: AdminUsers,
        tokens: Tokens,
        directory: IdentityDirectory,
    ) -> None:
        self.signer = signer
        self.admin = admin
        self.tokens = tokens
        self.directory = directory

    async def authenticate(self, realm: Realm, username: str, password: str) -> Identity:
        if username == REFRESH_USERNAME:
            return self.from_refresh_token(realm, password)
        if username.lower() == realm.registry_name.lower():
            return self._admin(realm, username, password)
        return await self._token(realm, username, password)

    def anonymous(self, realm: Realm) -> Identity:
        current = self.directory.current(realm.registry_id, ANONYMOUS)
        if current is None or current.permissions is None:
            raise AuthenticationError(
                f"authentication required: registry {realm.registry_name!r} does not allow "
                "anonymous pull; log in with 'airlock acr login' or a token"
            )
        return Identity(ANONYMOUS, current.permissions)

    def from_refresh_token(self, realm: Realm, refresh_token: str) -> Identity:
        try:
            claims = self.signer.verify(refresh_token, realm.login_server, refresh=True)
        except TokenInvalidError as exc:
            raise AuthenticationError(f"refresh token refused: {exc}") from None
        current = self.directory.current(realm.registry_id, claims.subject)
        if claims.registry != realm.registry_name or current is None or current.permissions is None:
            raise AuthenticationError(
                f"refresh token refused: {describe(claims.subject)} is disabled or gone"
            )
        return Identity(claims.subject, current.permissions)

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
            access=granted,
        )

    def issue_refresh(self, realm: Realm, identity: Identity) -> IssuedToken:
        if identity.subject == ANONYMOUS:
            raise AuthenticationError("anonymous access gets no refresh token")
        return self.signer.issue(
            subject=identity.subject,
            audience=realm.login_server,
            registry=realm.registry_name,
            lifetime=REFRESH_LIFETIME,
        )

    def issue_for_principal(
        self,
        realm: Realm,
        principal_id: str,
        access: list[AccessEntry],
        lifetime: int = ACCESS_LIFETIME,
    ) -> IssuedToken:
        """A token for a task identity, with exactly ``access`` (the caller has checked its
        role assignments); the registry accepts it while the principal exists."""
        return self.signer.issue(
            subject=principal_subject(principal_id),
            audience=realm.login_server,
            registry=realm.registry_name,
            access=access,
            lifetime=lifetime,
        )

    def _admin(self, realm: Realm, username: str, password: str) -> Identity:
        if not self.admin.enabled(realm.registry_id):
            raise AuthenticationError(
                f"the admin user of registry {realm.registry_name!r} is disabled"
            )
        if not self.admin.check(realm.registry_id, password):
            raise AuthenticationError(f"invalid username or password for {username!r}")
        return Identity(ADMIN, EVERYTHING)

    async def _token(self, realm: Realm, username: str, password: str) -> Identity:
        token = self.tokens.find(realm.registry_id, username)
        if token is None:
            raise AuthenticationError(f"invalid username or password for {username[:60]!r}")
        # argon2 takes ~20 ms and releases the GIL: off the event loop.
        matched = await asyncio.to_thread(_matching, token.passwords, password)
        if matched is None:
            raise AuthenticationError(f"invalid username or password for {username!r}")
        if token.status != "enabled":
            raise AuthenticationError(f"token {username!r} is disabled")
        if matched.expired:
            raise AuthenticationError(
                f"{matched.name} of token {username!r} expired on {matched.expiry}; "
                "generate a new one with 'airlock acr token credential generate'"
            )
        try:
            permissions = Permissions.from_map_actions(token.scope_map_actions)
        except ScopeError as exc:  # a map written by hand into the database
            raise AuthenticationError(f"token {username!r} has a broken scope map: {exc}") from None
        return Identity(token_subject(token.name), permissions)


def _matching(passwords: tuple[PasswordInfo, ...], password: str) -> PasswordInfo | None:
    for candidate in passwords:
        if verify_password(candidate.hash, password):
            return candidate
    return None
