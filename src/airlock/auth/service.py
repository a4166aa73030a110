"""Everything auth, opened once per server from its state folder and database."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from airlock.auth.access import AccessController, Realm
from airlock.auth.admin import AdminUsers
from airlock.auth.endpoint import TokenEndpoint
from airlock.auth.identities import IdentityDirectory
from airlock.auth.issuer import TokenService
from airlock.auth.scope_maps import ScopeMaps
from airlock.auth.throttle import SignInThrottle
from airlock.auth.tokens import Tokens
from airlock.auth.webtokens import TokenSigner
from airlock.crypto import MasterKey
from airlock.db.raw import driver_connection


@dataclass
class AuthService:
    signer: TokenSigner
    admin: AdminUsers
    scope_maps: ScopeMaps
    tokens: Tokens
    access: AccessController
    token_service: TokenService
    endpoint: TokenEndpoint
    directory: IdentityDirectory
    throttle: SignInThrottle

    @classmethod
    def open(cls, home: Path, engine: Engine, master_key: MasterKey) -> AuthService:
        signer = TokenSigner.load(home)
        directory = IdentityDirectory(driver_connection(engine))
        admin = AdminUsers(engine, master_key)
        maps = ScopeMaps(engine)
        tokens = Tokens(engine, maps)
        throttle = SignInThrottle.from_environment(os.environ)
        token_service = TokenService(signer, admin, tokens, directory, throttle)
        return cls(
            signer=signer,
            admin=admin,
            scope_maps=maps,
            tokens=tokens,
            access=AccessController(signer, directory),
            token_service=token_service,
            endpoint=TokenEndpoint(token_service),
            directory=directory,
            throttle=throttle,
        )

    def realm(self, registry_id: int, registry_name: str, login_server: str) -> Realm:
        """A registry's realm with its uid (which JWTs are bound to), read from the
        database: build realms with this rather than ``Realm(...)``."""
        return Realm(
            registry_id,
            registry_name,
            login_server,
            self.directory.registry_uid(registry_id) or "",
        )

    def prepare_registry(self, registry_id: int) -> None:
        """Seed what every registry has: the system scope maps and the admin passwords."""
        self.scope_maps.ensure_system(registry_id)
        self.admin.ensure(registry_id)
