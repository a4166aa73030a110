"""Registry credentials of tasks, as ``az acr task credential add|update|remove|list`` keeps
them: how a task's runs log in to a login server other than their own registry.

ACR's rules: a credential names a ``--login-server`` and gives either ``--username`` and
``--password`` together, or ``--use-identity [system]``, or both:

- without an identity, the user name is a plain name or a vault secret URI, and the password
  a plain password (sealed with the master key, bound to the task and the login server) or a
  vault secret URI;
- with the identity, a user name and password are vault secret URIs that the task's identity
  reads at run time; with the identity alone, the identity itself logs in.

Nothing here reads a vault: URIs are kept as given and resolved by the runner. ``list``
never shows a password; ``for_run`` opens the sealed ones, for the runner only.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from airlock.common.clock import now_iso
from airlock.crypto import MasterKey
from airlock.db.schema import task_credentials
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

SYSTEM_IDENTITY = "[system]"
MAX_USERNAME = 1024
MAX_PASSWORD = 64 * 1024
# airlock.vault.references' secret URI (runs may not import the vault package, a sibling
# layer); a test holds the two to the same answers.
_SECRET_URI_RE = re.compile(
    r"^https://(?P<vault>[^./]+)(?P<suffix>\.vault\.airlock\.internal|\.vault\.azure\.net)"
    r"(?::443)?/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$",
    re.IGNORECASE,
)
# A host name, an IPv4 address or a bracketed IPv6 address, then an optional port.
_LOGIN_SERVER_RE = re.compile(
    r"^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?$"
)
_EXAMPLE_URI = "https://<vault>.vault.azure.net/secrets/<name>"


@dataclass(frozen=True, slots=True)
class TaskCredential:
    """A credential as shown: never the password itself."""

    login_server: str
    username: str | None
    password_ref: str | None
    password_set: bool
    use_identity: str | None


@dataclass(frozen=True, slots=True)
class CredentialMaterial:
    """A credential as a run uses it. ``username`` may be a vault secret URI (see
    ``is_secret_uri``); ``password`` is the opened clear password, ``password_ref`` a URI
    to resolve; with ``use_identity`` the task's identity reads the URIs (or, with neither,
    logs in itself)."""

    login_server: str
    username: str | None
    password: str | None
    password_ref: str | None
    use_identity: str | None

    def __repr__(self) -> str:
        return (
            f"CredentialMaterial(login_server={self.login_server!r}, username={self.username!r},"
            f" password={'***' if self.password else None}, password_ref={self.password_ref!r},"
            f" use_identity={self.use_identity!r})"
        )


def is_secret_uri(value: str) -> bool:
    return _SECRET_URI_RE.match(value.strip()) is not None


def check_login_server(value: str) -> str:
    """``value`` as a login server: a host or host:port, lower-cased."""
    server = value.strip().lower()
    match = _LOGIN_SERVER_RE.match(server)
    if match is None or len(server) > 255 or not 0 < int(match["port"] or 1) < 65536:
        raise InvalidArgumentError(
            f"invalid --login-server {value[:100]!r}: give the registry's host name or "
            "host:port, without a scheme, path or user, for example myregistry.azurecr.io or "
            "127.0.0.1:5001",
            "InvalidLoginServer",
        )
    return server


@dataclass(frozen=True, slots=True)
class _Checked:
    username: str | None
    password: str | None  # to seal
    password_ref: str | None
    use_identity: str | None


def _check(username: str | None, password: str | None, use_identity: str | None) -> _Checked:
    identity = _check_identity(use_identity)
    for flag, value, limit in (
        ("--username", username, MAX_USERNAME),
        ("--password", password, MAX_PASSWORD),
    ):
        if value is not None and not value.strip():
            raise InvalidArgumentError(f"{flag} is empty; give a value or leave the option out")
        if value is not None and len(value) > limit:
            raise InvalidArgumentError(f"{flag} is longer than {limit} characters")
    if (username is None) != (password is None):
        raise InvalidArgumentError(
            "give --username and --password together (each may be a key vault secret URI)"
        )
    if username is None or password is None:
        if identity is None:
            raise InvalidArgumentError(
                "a credential needs --username and --password, or --use-identity [system] "
                "(the task's identity then logs in to the registry)"
            )
        return _Checked(None, None, None, identity)
    if identity is not None:
        if not (is_secret_uri(username) and is_secret_uri(password)):
            raise InvalidArgumentError(
                "with --use-identity, --username and --password are key vault secret URIs "
                f"that the task's identity reads at run time ({_EXAMPLE_URI}); for a plain "
                "user name and password, leave out --use-identity"
            )
        return _Checked(username.strip(), None, password.strip(), identity)
    if is_secret_uri(password):
        return _Checked(_uri_or_value(username), None, password.strip(), None)
    return _Checked(_uri_or_value(username), password, None, None)


def _uri_or_value(value: str) -> str:
    return value.strip() if is_secret_uri(value) else value


def _check_identity(use_identity: str | None) -> str | None:
    if use_identity is None:
        return None
    if use_identity.strip().lower() != SYSTEM_IDENTITY:
        raise InvalidArgumentError(
            f"invalid --use-identity {use_identity[:60]!r}: a task has only its system-assigned "
            "identity here; use --use-identity [system]"
        )
    return SYSTEM_IDENTITY


def _aad(task_id: str, login_server: str) -> str:
    return f"task:{task_id}:credential:{login_server}"


class TaskCredentialStore:
    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self.engine = engine
        self.key = master_key

    def add(
        self,
        task_id: str,
        login_server: str,
        *,
        username: str | None = None,
        password: str | None = None,
        use_identity: str | None = None,
    ) -> TaskCredential:
        server = check_login_server(login_server)
        columns = self._columns(task_id, server, _check(username, password, use_identity))
        try:
            with self.engine.begin() as conn:
                # The primary key (task, login server) decides between two adders.
                conn.execute(
                    insert(task_credentials).values(
                        task=task_id,
                        login_server=server,
                        created_at=columns["updated_at"],
                        **columns,
                    )
                )
        except IntegrityError as exc:
            reason = str(exc.orig).lower()
            if "foreign key" in reason:
                raise _task_not_found() from None
            if "unique" not in reason:
                raise
            raise ConflictError(
                f"the task already has a credential for {server!r}; change it with "
                "'airlock acr task credential update' or remove it first",
                "TaskCredentialExists",
            ) from None
        return self._one(task_id, server)

    def update(
        self,
        task_id: str,
        login_server: str,
        *,
        username: str | None = None,
        password: str | None = None,
        use_identity: str | None = None,
    ) -> TaskCredential:
        """Replace the credential of ``login_server`` (the same rules as ``add``)."""
        server = check_login_server(login_server)
        columns = self._columns(task_id, server, _check(username, password, use_identity))
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(task_credentials)
                .where(
                    (task_credentials.c.task == task_id)
                    & (task_credentials.c.login_server == server)
                )
                .values(**columns)
            ).rowcount
        if not changed:
            raise _not_found(server)
        return self._one(task_id, server)

    def remove(self, task_id: str, login_server: str) -> TaskCredential:
        server = check_login_server(login_server)
        with self.engine.begin() as conn:
            row = conn.execute(
                delete(task_credentials)
                .where(
                    (task_credentials.c.task == task_id)
                    & (task_credentials.c.login_server == server)
                )
                .returning(*task_credentials.c)
            ).first()
        if row is None:
            raise _not_found(server)
        return _shown(row)

    def for_run(self, task_id: str) -> builtins.list[CredentialMaterial]:
        """The credentials with their passwords opened: for the runner, never to be shown."""
        return [
            CredentialMaterial(
                login_server=row.login_server,
                username=row.username,
                password=None
                if row.sealed_password is None
                else self.key.open(row.sealed_password, _aad(task_id, row.login_server)).decode(),
                password_ref=row.password_ref,
                use_identity=row.use_identity,
            )
            for row in self._rows(task_id)
        ]

    def list(self, task_id: str) -> builtins.list[TaskCredential]:
        """The task's credentials by login server, without their passwords."""
        return [_shown(row) for row in self._rows(task_id)]

    # --- internals -------------------------------------------------------------------------

    def _columns(self, task_id: str, server: str, checked: _Checked) -> dict[str, Any]:
        sealed = (
            None
            if checked.password is None
            else self.key.seal(checked.password.encode(), _aad(task_id, server))
        )
        return {
            "username": checked.username,
            "password_ref": checked.password_ref,
            "sealed_password": sealed,
            "use_identity": checked.use_identity,
            "updated_at": now_iso(),
        }

    def _rows(self, task_id: str) -> builtins.list[Any]:
        with self.engine.connect() as conn:
            return builtins.list(
                conn.execute(
                    select(task_credentials)
                    .where(task_credentials.c.task == task_id)
                    .order_by(task_credentials.c.login_server)
                )
            )

    def _one(self, task_id: str, server: str) -> TaskCredential:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(task_credentials).where(
                    (task_credentials.c.task == task_id)
                    & (task_credentials.c.login_server == server)
                )
            ).one()
        return _shown(row)


def _shown(row: Any) -> TaskCredential:
    return TaskCredential(
        login_server=row.login_server,
        username=row.username,
        password_ref=row.password_ref,
        password_set=row.sealed_password is not None or row.password_ref is not None,
        use_identity=row.use_identity,
    )


def _not_found(server: str) -> NotFoundError:
    return NotFoundError(
        f"the task has no credential for {server!r}; list them with 'airlock acr task "
        "credential list', add one with 'airlock acr task credential add'",
        "TaskCredentialNotFound",
    )


def _task_not_found() -> NotFoundError:
    return NotFoundError(
        "task not found; list tasks with 'airlock acr task list --registry <registry>'",
        "TaskNotFound",
    )
