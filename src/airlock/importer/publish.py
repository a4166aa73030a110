"""Writing an imported image into its target repositories, and the checks that come first.

Everything here touches the content store, so it runs on the event-loop thread. Blobs are
linked before the manifests that reference them, children before their index, and tags are
set last: an import that fails part-way leaves no tag and no manifest behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from airlock.errors import ConflictError, LockedError
from airlock.importer.errors import ImportFailedError
from airlock.importer.graph import ImageGraph
from airlock.importer.sources import TargetTag
from airlock.registry.content import ContentStore, Scope
from airlock.registry.errors import RegistryError
from airlock.registry.locks import WRITE
from airlock.registry.registries import RegistryRecord


def check_targets(
    content: ContentStore,
    registry: RegistryRecord,
    tags: Sequence[TargetTag],
    repositories: Sequence[str],
    *,
    force: bool,
) -> None:
    """Refuse before anything is written: an existing tag without ``force``, or a lock."""
    for target in tags:
        scope = Scope(registry.id, registry.name, target.repository)
        existing = content.get_manifest(scope, target.tag)
        if existing is not None and not force:
            raise ConflictError(
                f"tag {target} already exists in registry {registry.name}; "
                "use --force to overwrite it",
                "TagAlreadyExists",
            )
        _check_lock(content, scope, target.tag, None if existing is None else existing.digest)
    for repository in repositories:
        _check_lock(content, Scope(registry.id, registry.name, repository), None, None)


def _check_lock(content: ContentStore, scope: Scope, tag: str | None, current: str | None) -> None:
    locks = content.locks_for(scope)
    lock = None if locks is None else locks.denying(WRITE, tag, current)
    if lock is not None:
        raise LockedError(lock.message())


def publish(
    content: ContentStore,
    registry: RegistryRecord,
    graph: ImageGraph,
    tags: Sequence[TargetTag],
    repositories: Sequence[str],
) -> None:
    """Link blobs and manifests into every target repository, then set the tags.

    ``put_manifest`` records the push (and tag) events, exactly as a push does, so an import
    fires base-image triggers.
    """
    targets: dict[str, list[str | None]] = {}
    for target in tags:
        targets.setdefault(target.repository, []).append(target.tag)
    for repository in repositories:
        targets.setdefault(repository, []).append(None)
    for repository, repo_tags in targets.items():
        scope = Scope(registry.id, registry.name, repository)
        try:
            _publish_one(content, scope, graph, repo_tags)
        except RegistryError as exc:
            raise _domain_error(exc) from None


def _publish_one(
    content: ContentStore, scope: Scope, graph: ImageGraph, tags: list[str | None]
) -> None:
    for digest, size in graph.blobs.items():
        content.link_blob(scope, digest, size)
    for child in graph.manifests[:-1]:
        content.put_manifest(scope, child, None)
    # A manifest-only copy next to tags in the same repository adds nothing.
    named = [t for t in tags if t is not None]
    if not named:
        content.put_manifest(scope, graph.top, None)
    for tag in named:
        content.put_manifest(scope, graph.top, tag)


def _domain_error(exc: RegistryError) -> Exception:
    if exc.code == "DENIED":
        return LockedError(exc.message)
    return ImportFailedError(f"cannot store the imported image: {exc.message}", exc.code, 500)
