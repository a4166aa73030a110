"""What each registry request needs from its credential, and access errors on the wire.

GET/HEAD pull; uploads (POST, PATCH, PUT, status GET, cancel DELETE) and manifest PUT push,
with ``pull,push`` in the challenge because that is what Docker clients ask for; DELETE of
manifests and blobs deletes; the tags list and referrers take pull or metadata read.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.auth.access import AccessDeniedError, Need
from airlock.auth.scopes import DELETE, METADATA_READ, PULL, PUSH, REPOSITORY
from airlock.oci.names import is_valid_name
from airlock.registry.errors import RegistryError

MANIFESTS = "manifests"
UPLOADS = "uploads"
BLOBS = "blobs"
LISTING = "listing"


@dataclass(frozen=True, slots=True)
class MountNeed(Need):
    """A blob mount's need: push on the target, as any upload. Its challenge also names pull
    on the source, so that a client following the challenge gets a token that lets the mount
    happen instead of a full upload (without it the mount quietly becomes an upload)."""

    source: str = ""

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.name}:{self.ask} {REPOSITORY}:{self.source}:{PULL}"


def need_for(kind: str, method: str, name: str, mount_from: str | None = None) -> Need:
    """``mount_from``: the ``from`` of a ``POST .../blobs/uploads/?mount=&from=``."""
    # A source name that is not valid stays out of the header; the handler refuses it (400).
    if (
        kind == UPLOADS
        and method == "POST"
        and mount_from is not None
        and mount_from != name
        and is_valid_name(mount_from)
    ):
        return MountNeed(REPOSITORY, name, (PUSH,), "pull,push", mount_from)
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
