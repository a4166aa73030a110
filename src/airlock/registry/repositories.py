"""Repository management as ``az acr repository`` shows it: list, show-tags, show-manifests,
delete, show and update (locks). Works on the content store; the REST API and the CLI speak
through this.

Listings without ``detail`` leave out what a list lock hides; with ``detail`` every item is
there with its ``changeableAttributes``, so that a hidden tag can be found and unlocked.
"""

from __future__ import annotations

from typing import Any

from airlock.errors import InvalidArgumentError, NotFoundError
from airlock.oci.digest import Digest
from airlock.oci.errors import OciValueError
from airlock.oci.names import check_name, check_tag
from airlock.registry.attributes import AttributeViews, attributes_json, locks_as_errors
from airlock.registry.content import ContentStore, Scope
from airlock.registry.locks import LIST, RepositoryLocks
from airlock.registry.registries import RegistryRecord

ORDERS = ("time_asc", "time_desc", "name_asc", "name_desc")


def _scope(registry: RegistryRecord, repository: str) -> Scope:
    try:
        check_name(repository)
    except OciValueError as exc:
        raise InvalidArgumentError(str(exc), "InvalidName") from None
    return Scope(registry.id, registry.name, repository)


def _not_found(registry: RegistryRecord, repository: str) -> NotFoundError:
    return NotFoundError(
        f"repository {repository!r} not found in registry {registry.name!r}",
        "RepositoryNotFound",
    )


def _sort(items: list[dict[str, Any]], orderby: str | None, time_key: str) -> list[dict[str, Any]]:
    if orderby is None:
        return items
    if orderby not in ORDERS:
        raise InvalidArgumentError(f"unknown order {orderby!r}; use one of {', '.join(ORDERS)}")
    field, direction = orderby.split("_")
    key = time_key if field == "time" else "name"
    return sorted(items, key=lambda item: str(item.get(key) or ""), reverse=direction == "desc")


class RepositoryService:
    def __init__(self, content: ContentStore) -> None:
        self.content = content
        self.attributes = AttributeViews(content)

    def show(
        self, registry: RegistryRecord, repository: str, reference: str | None
    ) -> dict[str, Any]:
        return self.attributes.show(registry, repository, reference)

    def update(
        self,
        registry: RegistryRecord,
        repository: str,
        reference: str | None,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        return self.attributes.update(registry, repository, reference, body)

    def names(self, registry: RegistryRecord) -> list[str]:
        return self.content.list_repositories(registry.id, None, None)

    def tags(
        self, registry: RegistryRecord, repository: str, *, detail: bool, orderby: str | None
    ) -> list[Any]:
        scope = _scope(registry, repository)
        found = self.content.tag_details(scope)
        if found is None:
            raise _not_found(registry, repository)
        locks = self.content.locks_for(scope)
        items = [
            {
                "name": t.name,
                "digest": t.digest,
                "createdTime": t.created,
                "lastUpdateTime": t.updated,
                "signed": False,
                "changeableAttributes": attributes_json(locks, t.name),
            }
            for t in found
            if detail or _listed(locks, t.digest, t.name)
        ]
        items = _sort(items, orderby, "lastUpdateTime")
        return items if detail else [item["name"] for item in items]

    def manifests(
        self, registry: RegistryRecord, repository: str, *, detail: bool, orderby: str | None
    ) -> list[dict[str, Any]]:
        scope = _scope(registry, repository)
        found = self.content.manifest_details(scope)
        if found is None:
            raise _not_found(registry, repository)
        locks = self.content.locks_for(scope)
        items: list[dict[str, Any]] = []
        for m in found:
            if not detail and not _listed(locks, m.digest):
                continue
            item: dict[str, Any] = {
                "digest": m.digest,
                "tags": [t for t in m.tags if detail or _listed(locks, m.digest, t)],
                "timestamp": m.created,
            }
            if detail:
                item.update(
                    mediaType=m.media_type,
                    artifactType=m.artifact_type,
                    imageSize=m.size,
                    createdTime=m.created,
                    lastUpdateTime=m.created,
                    changeableAttributes=attributes_json(locks, m.digest),
                )
            items.append(item)
        if orderby is not None and orderby.startswith("name"):
            raise InvalidArgumentError("manifests are ordered by time: use time_asc or time_desc")
        return _sort(items, orderby, "timestamp")

    def delete_repository(self, registry: RegistryRecord, repository: str) -> dict[str, Any]:
        with locks_as_errors():
            deleted = self.content.delete_repository(_scope(registry, repository))
        if deleted is None:
            raise _not_found(registry, repository)
        return {
            "manifestsDeleted": deleted.manifests_deleted,
            "tagsDeleted": deleted.tags_deleted,
            "manifestsKept": deleted.manifests_kept,
            "tagsKept": deleted.tags_kept,
        }

    def delete_image(
        self, registry: RegistryRecord, repository: str, reference: str
    ) -> dict[str, Any]:
        """Delete the manifest a tag or digest names, with every tag on it (as az does)."""
        scope = _scope(registry, repository)
        try:
            ref = str(Digest.parse(reference)) if ":" in reference else check_tag(reference)
        except OciValueError as exc:
            raise InvalidArgumentError(str(exc), "InvalidReference") from None
        found = self.content.get_manifest(scope, ref)
        if found is None:
            raise NotFoundError(
                f"image {repository}:{reference} not found in registry {registry.name!r}",
                "ManifestUnknown",
            )
        tag_names = [
            t.name for t in self.content.tag_details(scope) or [] if t.digest == found.digest
        ]
        with locks_as_errors():
            self.content.delete_manifest(scope, found.digest)
        return {"manifestsDeleted": [found.digest], "tagsDeleted": tag_names}


def _listed(locks: RepositoryLocks | None, digest: str, tag: str | None = None) -> bool:
    return locks is None or locks.denying(LIST, digest, tag) is None
