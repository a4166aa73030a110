"""What a routed request carries to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from airlock.auth.access import Grant
from airlock.registry.api.asgi import Request
from airlock.registry.blobstore import BlobStore
from airlock.registry.content import ContentStore
from airlock.registry.content import Scope as RepoScope
from airlock.registry.uploads import Uploads


@dataclass(frozen=True, slots=True)
class RegistryContext:
    """What every registry of the server shares."""

    content: ContentStore
    uploads: Uploads
    blobs: BlobStore


@dataclass(frozen=True, slots=True)
class Call:
    """One routed request: the shared context, the request, its repository and path argument."""

    ctx: RegistryContext
    request: Request
    repo: RepoScope
    arg: str
    grant: Grant  # what the credential allows beyond the checked need (a mount's source)

    def location(self, suffix: str) -> str:
        return f"/v2/{self.repo.repository}/{suffix}"


Handler = Callable[[Call], Awaitable[None]]
