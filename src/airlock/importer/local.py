"""Import from one of this server's own registries: read the image from the content store.

Blobs and manifests are stored once per server and linked to repositories, so the copy is
only new links (``publish``): no blob byte moves and no file is created.
"""

from __future__ import annotations

from airlock.errors import LockedError, NotFoundError
from airlock.importer.errors import ImportFailedError
from airlock.importer.graph import ImageGraph, build_graph
from airlock.importer.sources import Source
from airlock.oci.manifest import Manifest, parse_manifest
from airlock.registry.content import ContentStore, Scope
from airlock.registry.locks import READ


def read_local(content: ContentStore, scope: Scope, source: Source) -> ImageGraph:
    """The source image with everything it references; runs on the event-loop thread."""
    locks = content.locks_for(scope)
    lock = None if locks is None else locks.denying(READ, source.tag, source.digest)
    if lock is not None:
        raise LockedError(f"cannot import {source}: {lock.message()}")
    stored = content.get_manifest(scope, source.reference)
    if stored is None:
        separator = "@" if source.digest else ":"
        raise NotFoundError(
            f"image {scope.repository}{separator}{source.reference} not found in registry "
            f"{scope.registry}",
            "ImageNotFound",
        )
    top = parse_manifest(stored.content, stored.media_type)

    def fetch(digest: str) -> Manifest:
        child = content.get_manifest(scope, digest)
        if child is None:
            raise ImportFailedError(
                f"manifest {digest} listed by {top.digest} is missing from "
                f"{scope.registry}/{scope.repository}",
                "ImportManifestMissing",
                500,
            )
        return parse_manifest(child.content, child.media_type)

    return build_graph(top, fetch)
