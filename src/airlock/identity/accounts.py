"""Who can sign in to the management API: the owner, users and service principals.

They share the ``principals`` table with the managed identities (kinds ``owner``,
``directory-user``, ``service-principal``), so that role assignments and vault access
policies name all of them the same way.

- The **owner** is created at first start for the Unix user running the server; it holds
  Owner and Key Vault Administrator on the whole server and signs in through a 0600 file in
  the state folder (see ``airlock.server.owner``). It cannot be deleted.
- A **user** (``ad user create``) has a user principal name and a password chosen by a person.
- A **service principal** (``ad sp create-for-rbac``) has an appId (its ``client_id``) and
  generated secrets; with a role on a registry it can also ``podman login`` there.

Secrets are kept as argon2id hashes only, in ``principal_credentials``. Resetting a
principal's credentials changes its ``stamp``, which revokes the registry refresh tokens it
was issued (``airlock.auth``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from airlock.auth.names import expiry_after, is_past
from airlock.auth.passwords import generate_password, hash_password, verify_password
from airlock.common.clock import now_iso
from airlock.db import epochs
from airlock.db.schema import principal_credentials, principals
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.identity.principals import (
    DIRECTORY_USER,
    OWNER,
    SERVICE_PRINCIPAL,
    TENANT,
    Principal,
    PrincipalStore,
    principal_from_row,
)

USER = DIRECTORY_USER
SIGN_IN_KINDS = (OWNER, USER, SERVICE_PRINCIPAL)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# A user principal name: a local part, optionally @domain (Airlock has no directory domain).
_UPN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[A-Za-z0-9.-]{1,190})?$")
_DISPLAY_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,120}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# A hash of a random password, verified when a name is unknown so that an unknown name costs
# as much time as a wrong password.
_DUMMY_HASH = hash_password(generate_password())


@dataclass(frozen=True, slots=True)
class Account:
    """A principal that can sign in."""

    principal: Principal

    @property
    def kind(self) -> str:
        return self.principal.kind

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def principal_id(self) -> str:
        return self.principal.principal_id

    @property
    def app_id(self) -> str:
        return self.principal.client_id

    def describe(self) -> str:
        """How errors and the activity log name it."""
        if self.kind == SERVICE_PRINCIPAL:
            return f"service principal {self.name!r} (appId {self.app_id})"
        return f"{'the owner' if self.kind == OWNER else 'user'} {self.name!r}"

    def to_json(self) -> dict[str, Any]:
        """``az ad user show`` / ``az ad sp show`` shapes."""
        if self.kind == SERVICE_PRINCIPAL:
            return {
                "id": self.principal_id,
                "appId": self.app_id,
                "displayName": self.name,
                "appOwnerOrganizationId": TENANT,
                "servicePrincipalType": "Application",
                "createdDateTime": self.principal.created_at,
            }
        return {
            "id": self.principal_id,
            "userPrincipalName": self.name,
            "displayName": self.principal.display_name or self.name,
            "accountEnabled": True,
            "userType": "Owner" if self.kind == OWNER else "Member",
            "createdDateTime": self.principal.created_at,
        }


def check_user_name(name: str) -> str:
    if not _UPN_RE.match(name) or _UUID_RE.match(name):
        raise InvalidArgumentError(
            f"invalid user principal name {name[:80]!r}: use letters, digits, '.', '_' and "
            "'-' (up to 64, starting with a letter or digit), optionally @domain; not a UUID",
            "InvalidName",
        )
    return name


def check_display_name(name: str) -> str:
    if not _DISPLAY_RE.match(name):
        raise InvalidArgumentError("a display name is 1-120 printable characters", "InvalidName")
    return name


def check_new_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidArgumentError(
            f"a password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters "
            "long; use a generated one (for example: openssl rand -base64 24)",
            "PasswordTooWeak",
        )
    return password


class AccountStore:
    def __init__(self, engine: Engine, principals_store: PrincipalStore) -> None:
        self.engine = engine
        self.principals = principals_store

    # --- the owner -----------------------------------------------------------------------

    def ensure_owner(self, name: str) -> Account:
        """The server's owner, created on first start (one per server, whatever its name)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(principals).where(principals.c.kind == OWNER)).first()
            if row is not None:
                return Account(principal_from_row(row))
            return Account(PrincipalStore.insert(conn, name, "", OWNER, name))

    def owner(self) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(principals).where(principals.c.kind == OWNER)).first()
        return None if row is None else Account(principal_from_row(row))

    # --- users ---------------------------------------------------------------------------

    def create_user(self, name: str, display_name: str, password: str) -> Account:
        check_user_name(name)
        check_display_name(display_name)
        check_new_password(password)
        hashed = hash_password(password)
        with self.engine.begin() as conn:
            if self._find_user(conn, name) is not None:
                raise ConflictError(f"a user named {name!r} already exists", "UserAlreadyExists")
            principal = PrincipalStore.insert(conn, name, "", USER, display_name)
            self._add_credential(conn, principal.principal_id, hashed, None)
            return Account(principal)

    def users(self) -> list[Account]:
        return self._all(USER, OWNER)

    def user(self, name_or_id: str) -> Account:
        with self.engine.connect() as conn:
            found = self._find_user(conn, name_or_id)
        if found is None:
            raise NotFoundError(
                f"user {name_or_id[:80]!r} not found; list users with 'airlock ad user list'",
                "UserNotFound",
            )
        return found

    def delete_user(self, name_or_id: str) -> Account:
        account = self.user(name_or_id)
        if account.kind == OWNER:
            raise InvalidArgumentError(
                "the owner cannot be deleted; it is how this machine's administrator signs in",
                "OwnerIsPermanent",
            )
        self._delete(account)
        return account

    # --- service principals ---------------------------------------------------------------

    def create_service_principal(
        self, display_name: str, expiry_days: int | None = None
    ) -> tuple[Account, str]:
        """A new service principal and its first secret (the only time it is shown)."""
        check_display_name(display_name)
        expires = expiry_after(expiry_days)
        secret = generate_password()
        hashed = hash_password(secret)
        with self.engine.begin() as conn:
            principal = PrincipalStore.insert(
                conn, display_name, "", SERVICE_PRINCIPAL, display_name
            )
            self._add_credential(conn, principal.principal_id, hashed, expires)
            return Account(principal), secret

    def service_principals(self) -> list[Account]:
        return self._all(SERVICE_PRINCIPAL)

    def service_principal(self, app_or_object_id: str) -> Account:
        key = app_or_object_id.strip().lower()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(principals).where(
                    (principals.c.kind == SERVICE_PRINCIPAL)
                    & ((principals.c.client_id == key) | (principals.c.principal_id == key))
                )
            ).first()
        if row is None:
            raise NotFoundError(
                f"service principal {app_or_object_id[:60]!r} not found; list them with "
                "'airlock ad sp list'",
                "ServicePrincipalNotFound",
            )
        return Account(principal_from_row(row))

    def reset_credential(
        self, app_or_object_id: str, expiry_days: int | None = None
    ) -> tuple[Account, str]:
        """Replace every secret of a service principal with a new one; the old secrets and
        the registry tokens issued under them stop working at once."""
        account = self.service_principal(app_or_object_id)
        expires = expiry_after(expiry_days)
        secret = generate_password()
        hashed = hash_password(secret)
        with self.engine.begin() as conn:
            conn.execute(
                delete(principal_credentials).where(
                    principal_credentials.c.principal_id == account.principal_id
                )
            )
            self._add_credential(conn, account.principal_id, hashed, expires)
            conn.execute(
                update(principals)
                .where(principals.c.principal_id == account.principal_id)
                .values(stamp=str(uuid.uuid4()))
            )
            epochs.bump(conn)
        return account, secret

    def delete_service_principal(self, app_or_object_id: str) -> Account:
        account = self.service_principal(app_or_object_id)
        self._delete(account)
        return account

    # --- signing in ------------------------------------------------------------------------

    def verify(self, kind: str, name: str, secret: str) -> Account | None:
        """The account whose name (a user) or appId (a service principal) and secret match;
        None otherwise. Always runs one argon2 verification, so that an unknown name takes
        as long as a wrong secret. Call it off the event loop."""
        with self.engine.connect() as conn:
            account = (
                self._find_user(conn, name) if kind == USER else self._find_sp_by_app_id(conn, name)
            )
            hashes = (
                []
                if account is None
                else [
                    (row.hash, row.expires_at)
                    for row in conn.execute(
                        select(
                            principal_credentials.c.hash, principal_credentials.c.expires_at
                        ).where(principal_credentials.c.principal_id == account.principal_id)
                    )
                ]
            )
        if not hashes:
            verify_password(_DUMMY_HASH, secret)
            return None
        for hashed, expires_at in hashes:
            if verify_password(hashed, secret) and not is_past(expires_at):
                return account
        return None

    # --- internals -------------------------------------------------------------------------

    def _all(self, *kinds: str) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(principals)
                .where(principals.c.kind.in_(kinds))
                .order_by(func.lower(principals.c.name))
            )
            return [Account(principal_from_row(row)) for row in rows]

    @staticmethod
    def _find_user(conn: Connection, name_or_id: str) -> Account | None:
        key = name_or_id.strip()
        row = conn.execute(
            select(principals).where(
                principals.c.kind.in_((USER, OWNER))
                & (
                    (func.lower(principals.c.name) == key.lower())
                    | (principals.c.principal_id == key.lower())
                )
            )
        ).first()
        return None if row is None else Account(principal_from_row(row))

    @staticmethod
    def _find_sp_by_app_id(conn: Connection, app_id: str) -> Account | None:
        row = conn.execute(
            select(principals).where(
                (principals.c.kind == SERVICE_PRINCIPAL)
                & (principals.c.client_id == app_id.strip().lower())
            )
        ).first()
        return None if row is None else Account(principal_from_row(row))

    @staticmethod
    def _add_credential(
        conn: Connection, principal_id: str, hashed: str, expires_at: str | None
    ) -> None:
        conn.execute(
            insert(principal_credentials).values(
                key_id=str(uuid.uuid4()),
                principal_id=principal_id,
                hash=hashed,
                created_at=now_iso(),
                expires_at=expires_at,
            )
        )

    def _delete(self, account: Account) -> None:
        # Credentials and sessions go by cascade; grants go with the principal
        # (PrincipalStore.forget), and the epoch tells every process to drop cached grants.
        with self.engine.begin() as conn:
            PrincipalStore.forget(conn, account.principal)
