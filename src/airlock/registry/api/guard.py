"""What each registry request needs from its credential, and access errors on the wire.

GET/HEAD pull; uploads (POST, PATCH, PUT, status GET, cancel DELETE) and manifest PUT push,
with ``pull,push`` in the challenge because that is what Docker clients ask for; DELETE of
manifests and blobs deletes; the tags list and referrers take pull or metadata read.
"""

from __future__ import annotations

from airlock.auth.access import AccessDeniedError, Need
from airlock.auth.scopes import DELETE, METADATA_READ, PULL, PUSH
from airlock.registry.errors import RegistryError

MANIFESTS = "manifests"
UPLOADS = "uploads"
BLOBS = "blobs"
LISTING = "listing"


def need_for(kind: str, method: str, name: str) -> Need:
    if kind == UPLOADS or (kind == MANIFESTS and method == "PUT"):
        return Need.repository(name, PUSH, ask="pull,push")
    if method == "DELETE":
        return Need.repository(name, DELETE)
    if kind == LISTING:
        return Need.repository(name, PULL, METADATA_READ, ask=PULL)
    return Need.repository(name, PULL)


def access_error(exc: AccessDeniedError) -> RegistryError:
    """The OCI error for a refused request; ``detail`` as Distribution writes it."""
    detail = None
    if exc.need is not None:
        detail = [{"Type": exc.need.type, "Name": exc.need.name, "Action": exc.need.ask}]
    headers = {"www-authenticate": exc.challenge} if exc.challenge else None
    return RegistryError(exc.code, exc.message, detail, status=exc.status, headers=headers)
