"""The owner: the Unix user who runs the server, signed in with no extra step.

At start the server makes sure the owner principal exists with Owner and Key Vault
Administrator on the whole server, and that ``<home>/owner-credentials.json`` (mode 0600, in
the 0700 state folder) holds a live owner session for this server's address. The CLI of the
same Unix user reads it when no ``airlock login`` is stored for that address, as podman and
docker rely on socket permissions. Another Unix user cannot read the file and has to sign in.

Deleting the file and restarting the server revokes the old owner session and writes a new
one.
"""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path

from airlock.auth.roles import SERVER_SCOPE
from airlock.common.files import write_private
from airlock.identity.sessions import OWNER_SESSION
from airlock.server.services import Services

log = logging.getLogger("airlock.server")

OWNER_FILE = "owner-credentials.json"
OWNER_ROLES = ("Owner", "Key Vault Administrator")


def owner_file(home: Path) -> Path:
    return home / OWNER_FILE


def ensure_owner(services: Services, api_url: str) -> None:
    identities = services.identities
    owner = identities.accounts.ensure_owner(_unix_user())
    for role in OWNER_ROLES:
        identities.roles.ensure(owner.principal_id, role, SERVER_SCOPE)
    path = owner_file(services.home)
    token = _stored_token(path)
    session = None if token is None else identities.sessions.resolve(token)
    if token is None or session is None or session.principal_id != owner.principal_id:
        identities.sessions.revoke_kind(owner.principal_id, OWNER_SESSION)
        _, token = identities.sessions.open(owner.principal_id, OWNER_SESSION, source="local")
        log.info("wrote the owner's credentials to %s", path)
    document = {"server": api_url, "token": token, "principalId": owner.principal_id}
    write_private(path, (json.dumps(document, indent=1) + "\n").encode())


def _stored_token(path: Path) -> str | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    token = document.get("token") if isinstance(document, dict) else None
    return token if isinstance(token, str) else None


def _unix_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "owner"
