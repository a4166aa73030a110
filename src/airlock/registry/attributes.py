"""``acr repository show|update``: the views of a repository, tag or manifest with their
changeable attributes, and the checked change of those attributes.

Everything a request names is checked before anything is read or written, so bad input
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airlock.errors import InvalidArgumentError, LockedError, NotFoundError
from airlock.oci.digest import Digest
from airlock.oci.errors import OciValueError
from airlock.oci.names import check_name, check_tag
from airlock.registry.content import ContentStore, Scope
from airlock.registry.errors import RegistryError
from airlock.registry.locks import COLUMNS, UNLOCKED, RepositoryLocks
from airlock.registry.registries import RegistryRecord


def scope_of(registry: RegistryRecord, repository: str) -> Scope:
    try:
        check_name(repository)
    except OciValueError as exc:
        raise InvalidArgumentError(str(exc), "InvalidName") from None
    return Scope(registry.id, registry.name, repository)


def parse_reference(reference: str) -> str:
    """A tag (checked) or a digest (normalised); ``InvalidReference`` otherwise."""
    try:
        return str(Digest.parse(reference)) if ":" in reference else check_tag(reference)
    except OciValueError as exc:
        raise InvalidArgumentError(str(exc), "InvalidReference") from None


def parse_changes(body: dict[str, Any]) -> dict[str, bool]:
    """``{"writeEnabled": false, ...}``: known keys, JSON booleans, at least one."""
    unknown = sorted(set(body) - set(COLUMNS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown attribute(s) {', '.join(unknown)}; use {', '.join(COLUMNS)}"
        )
    for key, value in body.items():
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"{key} must be true or false, not {value!r}")
    if not body:
        raise InvalidArgumentError(f"nothing to change: give at least one of {', '.join(COLUMNS)}")
    return dict(body)


@contextmanager
def locks_as_errors() -> Iterator[None]:
    """The content store refuses with the wire's DENIED; the REST API answers 403 Locked."""
    try:
        yield
    except RegistryError as exc:
        if exc.code != "DENIED":
            raise
        raise LockedError(exc.message) from None


def attributes_json(locks: RepositoryLocks | None, reference: str) -> dict[str, bool]:
    return (UNLOCKED if locks is None else locks.of(reference)).to_json()


class AttributeViews:
    """Show and update the changeable attributes of a repository, a tag or a manifest."""

    def __init__(self, content: ContentStore) -> None:
        self.content = content

    def show(
        self, registry: RegistryRecord, repository: str, reference: str | None
    ) -> dict[str, Any]:
        scope = scope_of(registry, repository)
        ref = parse_reference(reference) if reference else ""
        return self._view(registry, scope, ref)

    def update(
        self,
        registry: RegistryRecord,
        repository: str,
        reference: str | None,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        scope = scope_of(registry, repository)
        ref = parse_reference(reference) if reference else ""
        changes = parse_changes(body)
        self._view(registry, scope, ref)  # 404 before any write
        self.content.locks.update(scope.registry_id, repository, ref, changes)
        return self._view(registry, scope, ref)

    def _view(self, registry: RegistryRecord, scope: Scope, ref: str) -> dict[str, Any]:
        head = {"registry": registry.login_server, "imageName": scope.repository}
        locks = self.content.locks_for(scope)
        if not ref:
            return {**head, **self._repository(registry, scope, locks)}
        if ":" in ref:
            return {**head, "manifest": self._manifest(registry, scope, ref, locks)}
        return {**head, "tag": self._tag(registry, scope, ref, locks)}

    def _repository(
        self, registry: RegistryRecord, scope: Scope, locks: RepositoryLocks | None
    ) -> dict[str, Any]:
        summary = self.content.summary(scope)
        if summary is None:
            raise NotFoundError(
                f"repository {scope.repository!r} not found in registry {registry.name!r}",
                "RepositoryNotFound",
            )
        return {
            "createdTime": summary.created,
            "lastUpdateTime": summary.updated,
            "manifestCount": summary.manifest_count,
            "tagCount": summary.tag_count,
            "changeableAttributes": attributes_json(locks, ""),
        }

    def _tag(
        self, registry: RegistryRecord, scope: Scope, tag: str, locks: RepositoryLocks | None
    ) -> dict[str, Any]:
        found = [t for t in self.content.tag_details(scope) or [] if t.name == tag]
        if not found:
            raise NotFoundError(
                f"tag {scope.repository}:{tag} not found in registry {registry.name!r}",
                "TagNotFound",
            )
        return {
            "name": tag,
            "digest": found[0].digest,
            "createdTime": found[0].created,
            "lastUpdateTime": found[0].updated,
            "signed": False,
            "changeableAttributes": attributes_json(locks, tag),
        }

    def _manifest(
        self, registry: RegistryRecord, scope: Scope, digest: str, locks: RepositoryLocks | None
    ) -> dict[str, Any]:
        found = [m for m in self.content.manifest_details(scope) or [] if m.digest == digest]
        if not found:
            raise NotFoundError(
                f"manifest {scope.repository}@{digest} not found in registry {registry.name!r}",
                "ManifestUnknown",
            )
        m = found[0]
        return {
            "digest": m.digest,
            "imageSize": m.size,
            "createdTime": m.created,
            "lastUpdateTime": m.created,
            "mediaType": m.media_type,
            "tags": list(m.tags),
            "changeableAttributes": attributes_json(locks, digest),
        }
