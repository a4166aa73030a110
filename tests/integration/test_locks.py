"""Locks (changeable attributes) on a real SQLite database: the rules of every operation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.errors import InvalidArgumentError, LockedError, NotFoundError
from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.manifest import Manifest, parse_manifest
from airlock.registry.content import ContentStore, Scope
from airlock.registry.errors import RegistryError
from airlock.registry.registries import RegistryRecord
from airlock.server.services import Services

REPO = "team/app"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = Services.open(tmp_path / "home")
    yield opened
    opened.close()


@pytest.fixture
def registry(services: Services) -> RegistryRecord:
    return services.registries.add(
        name="lockregistry", port=5998, resource_group="g", location="local", sku="Standard"
    )


@pytest.fixture
def scope(registry: RegistryRecord) -> Scope:
    return Scope(registry.id, registry.name, REPO)


@pytest.fixture
def content(services: Services) -> ContentStore:
    return services.registry_context.content


def image(content: ContentStore, scope: Scope, note: str) -> Manifest:
    """A manifest whose blobs are linked (no files: the content store only needs links)."""
    config, layer = b"{}", note.encode()
    for data in (config, layer):
        content.link_blob(scope, str(Digest.of(data)), len(data))
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": str(Digest.of(config)),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": str(Digest.of(layer)),
                "size": len(layer),
            }
        ],
    }
    return parse_manifest(json.dumps(doc).encode())


def lock(
    services: Services, registry: RegistryRecord, reference: str | None, **changes: bool
) -> None:
    services.repositories.update(registry, REPO, reference, changes)


def denied(caught: pytest.ExceptionInfo[RegistryError], target: str, short: str) -> None:
    """The error is the wire's DENIED and names the lock and the command that lifts it."""
    assert caught.value.code == "DENIED"
    assert caught.value.status == 403
    assert f"{target} is locked ({short}Enabled: false)" in caught.value.message
    assert f"--{short}-enabled true" in caught.value.message


def test_write_locked_tag_cannot_move_but_same_digest_and_other_tags_can(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    content.put_manifest(scope, v1, "v1")
    lock(services, registry, "v1", writeEnabled=False)

    with pytest.raises(RegistryError) as caught:
        content.put_manifest(scope, v2, "v1")
    denied(caught, "tag team/app:v1", "write")
    found = content.get_manifest(scope, "v1")
    assert found is not None and found.digest == str(v1.digest)

    content.put_manifest(scope, v1, "v1")  # identical push: a no-op, allowed
    content.put_manifest(scope, v2, "v2")
    content.put_manifest(scope, v1, "other")
    assert content.list_tags(scope, None, None) == ["other", "v1", "v2"]


def test_write_lock_outlives_the_tag(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1 = image(content, scope, "one")
    content.put_manifest(scope, v1, "v1")
    lock(services, registry, "v1", writeEnabled=False)
    content.delete_tag(scope, "v1")
    with pytest.raises(RegistryError) as caught:
        content.put_manifest(scope, v1, "v1")
    denied(caught, "tag team/app:v1", "write")


def test_write_locked_manifest_keeps_its_tags(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    content.put_manifest(scope, v1, "v1")
    lock(services, registry, f"{v1.digest}", writeEnabled=False)
    with pytest.raises(RegistryError) as caught:
        content.put_manifest(scope, v2, "v1")
    denied(caught, f"manifest team/app@{v1.digest}", "write")
    content.put_manifest(scope, v1, "alias")  # a new tag may point at it
    assert content.list_tags(scope, None, None) == ["alias", "v1"]


def test_write_locked_repository_refuses_uploads_and_changes(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    content.put_manifest(scope, v1, "v1")
    lock(services, registry, None, writeEnabled=False)
    with pytest.raises(RegistryError) as caught:
        content.check_push(scope)
    denied(caught, "repository team/app", "write")
    with pytest.raises(RegistryError):
        content.put_manifest(scope, v2, "v2")
    with pytest.raises(RegistryError):
        content.put_manifest(scope, v2, None)
    content.put_manifest(scope, v1, "v1")  # no change
    assert content.list_tags(scope, None, None) == ["v1"]
    content.check_push(Scope(scope.registry_id, scope.registry, "team/other"))


def test_delete_locks(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    content.put_manifest(scope, v1, "v1")
    content.put_manifest(scope, v1, "keep")
    content.put_manifest(scope, v2, "v2")
    lock(services, registry, "keep", deleteEnabled=False)

    with pytest.raises(RegistryError) as caught:
        content.delete_manifest(scope, str(v1.digest))
    denied(caught, "tag team/app:keep", "delete")
    with pytest.raises(RegistryError):
        content.delete_tag(scope, "keep")
    assert content.delete_tag(scope, "v1")  # another tag on the same manifest
    with pytest.raises(LockedError, match="tag team/app:keep is locked"):
        services.repositories.delete_image(registry, REPO, "keep")

    result = services.repositories.delete_repository(registry, REPO)
    assert result == {
        "manifestsDeleted": [str(v2.digest)],
        "tagsDeleted": ["v2"],
        "manifestsKept": [str(v1.digest)],
        "tagsKept": ["keep"],
    }
    assert content.list_tags(scope, None, None) == ["keep"]
    assert content.get_manifest(scope, str(v2.digest)) is None
    # The kept image's blobs stay linked, so it can still be pulled whole.
    assert content.blob_size(scope, str(Digest.of(b"one"))) == 3


def test_repository_delete_lock_refuses_everything(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    content.put_manifest(scope, image(content, scope, "one"), "v1")
    lock(services, registry, None, deleteEnabled=False)
    with pytest.raises(LockedError, match="repository team/app is locked"):
        services.repositories.delete_repository(registry, REPO)
    with pytest.raises(RegistryError):
        content.unlink_blob(scope, str(Digest.of(b"{}")))
    assert content.list_tags(scope, None, None) == ["v1"]


def test_list_locks_hide_tags_and_repositories(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    for tag in ("a", "b", "c"):
        content.put_manifest(scope, v1, tag)
    content.put_manifest(scope, v2, "d")
    lock(services, registry, "b", listEnabled=False)
    lock(services, registry, str(v2.digest), listEnabled=False)

    assert content.list_tags(scope, None, None) == ["a", "c"]
    assert content.list_tags(scope, 1, "a") == ["c"]  # the page is filled past the hidden tag
    repos = services.repositories
    assert repos.tags(registry, REPO, detail=False, orderby=None) == ["a", "c"]
    detail = repos.tags(registry, REPO, detail=True, orderby=None)
    assert [t["name"] for t in detail] == ["a", "b", "c", "d"]
    assert detail[1]["changeableAttributes"]["listEnabled"] is False
    assert [m["digest"] for m in repos.manifests(registry, REPO, detail=False, orderby=None)] == [
        str(v1.digest)
    ]

    lock(services, registry, None, listEnabled=False)
    assert content.list_tags(scope, None, None) == []
    assert REPO not in content.list_repositories(registry.id, None, None)
    assert repos.names(registry) == []


def test_show_and_update_views(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1 = image(content, scope, "one")
    content.put_manifest(scope, v1, "v1")
    view = services.repositories.update(registry, REPO, "v1", {"writeEnabled": False})
    assert view["registry"] == registry.login_server
    assert view["imageName"] == REPO
    assert view["tag"]["digest"] == str(v1.digest)
    assert view["tag"]["changeableAttributes"] == {
        "deleteEnabled": True,
        "writeEnabled": False,
        "readEnabled": True,
        "listEnabled": True,
    }
    # Only the given attributes change.
    view = services.repositories.update(registry, REPO, "v1", {"readEnabled": False})
    assert view["tag"]["changeableAttributes"]["writeEnabled"] is False

    shown = services.repositories.show(registry, REPO, None)
    assert (shown["manifestCount"], shown["tagCount"]) == (1, 1)
    assert all(shown["changeableAttributes"].values())
    manifest = services.repositories.show(registry, REPO, str(v1.digest))["manifest"]
    assert manifest["tags"] == ["v1"] and manifest["changeableAttributes"]["readEnabled"]


@pytest.mark.parametrize(
    ("reference", "body", "error"),
    [
        ("v1", {"writeEnabled": "false"}, InvalidArgumentError),
        ("v1", {"writeEnabled": 0}, InvalidArgumentError),
        ("v1", {"locked": True}, InvalidArgumentError),
        ("v1", {}, InvalidArgumentError),
        ("bad tag", {"writeEnabled": False}, InvalidArgumentError),
        ("sha256:abc", {"writeEnabled": False}, InvalidArgumentError),
        ("nosuchtag", {"writeEnabled": False}, NotFoundError),
        ("sha256:" + "0" * 64, {"writeEnabled": False}, NotFoundError),
    ],
)
def test_bad_updates_change_nothing(
    services: Services,
    registry: RegistryRecord,
    scope: Scope,
    content: ContentStore,
    reference: str,
    body: dict[str, object],
    error: type[Exception],
) -> None:
    content.put_manifest(scope, image(content, scope, "one"), "v1")
    with pytest.raises(error):
        services.repositories.update(registry, REPO, reference, body)
    assert content.locks_for(scope) is None


def test_unknown_repository_is_not_found(services: Services, registry: RegistryRecord) -> None:
    with pytest.raises(NotFoundError):
        services.repositories.update(registry, "nope", None, {"writeEnabled": False})
    with pytest.raises(InvalidArgumentError):
        services.repositories.show(registry, "Bad Name", None)


def index_of(*children: Manifest) -> Manifest:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [
            {"mediaType": c.media_type, "digest": str(c.digest), "size": len(c.raw)}
            for c in children
        ],
    }
    return parse_manifest(json.dumps(doc).encode())


@pytest.mark.parametrize("locked", ["tag", "manifest", "repository"])
def test_blob_link_of_a_delete_locked_image_stays(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore, locked: str
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    content.put_manifest(scope, v1, "v1")
    content.put_manifest(scope, v2, "v2")
    reference = {"tag": "v1", "manifest": str(v1.digest), "repository": None}[locked]
    lock(services, registry, reference, deleteEnabled=False)
    layer = str(Digest.of(b"one"))

    with pytest.raises(RegistryError) as caught:
        content.unlink_blob(scope, layer)
    assert caught.value.code == "DENIED" and caught.value.status == 403
    assert "--delete-enabled true" in caught.value.message
    if locked != "repository":
        assert f"blob {layer} is used by manifest {REPO}@{v1.digest}" in caught.value.message
    assert content.blob_size(scope, layer) == 3
    if locked != "repository":
        # Blobs only an unlocked image uses may still go.
        assert content.unlink_blob(scope, str(Digest.of(b"two")))
        assert content.blob_size(scope, str(Digest.of(b"two"))) is None


def test_children_of_a_delete_locked_index_stay(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    amd, arm, loose = (image(content, scope, n) for n in ("amd", "arm", "loose"))
    for child in (amd, arm, loose):
        content.put_manifest(scope, child, None)
    index = index_of(amd, arm)
    content.put_manifest(scope, index, "multi")
    lock(services, registry, "multi", deleteEnabled=False)

    with pytest.raises(RegistryError) as caught:
        content.delete_manifest(scope, str(arm.digest))
    message = caught.value.message
    assert caught.value.code == "DENIED"
    assert f"manifest {REPO}@{arm.digest}, a child of index {REPO}@{index.digest}" in message
    assert f"tag {REPO}:multi is locked (deleteEnabled: false)" in message
    assert f"--image {REPO}:multi --delete-enabled true" in message
    with pytest.raises(LockedError, match="a child of index"):
        services.repositories.delete_image(registry, REPO, str(amd.digest))
    # A child's layer is protected as the child is.
    with pytest.raises(RegistryError, match=f"used by manifest {REPO}@{arm.digest}"):
        content.unlink_blob(scope, str(Digest.of(b"arm")))
    assert content.get_manifest(scope, str(arm.digest)) is not None
    assert content.get_manifest(scope, str(amd.digest)) is not None
    assert content.delete_manifest(scope, str(loose.digest))  # not in the index

    lock(services, registry, "multi", deleteEnabled=True)
    assert content.delete_manifest(scope, str(arm.digest))


def test_one_put_sets_all_its_tags_or_none(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    v1, v2 = image(content, scope, "one"), image(content, scope, "two")
    content.put_manifest(scope, v1, "stable")
    lock(services, registry, "stable", writeEnabled=False)
    with pytest.raises(RegistryError) as caught:
        content.put_manifest(scope, v2, None, tags=["new", "stable"])
    denied(caught, "tag team/app:stable", "write")
    assert content.list_tags(scope, None, None) == ["stable"]
    assert content.get_manifest(scope, str(v2.digest)) is None

    assert content.put_manifest(scope, v2, None, tags=["a", "b", "a"]) == ["a", "b"]
    assert content.list_tags(scope, None, None) == ["a", "b", "stable"]
    # Identical again: still every tag, and the write-locked tag is fine where it points.
    assert content.put_manifest(scope, v1, None, tags=["stable"]) == ["stable"]


def test_registry_with_delete_locked_content_is_not_removed(
    services: Services, registry: RegistryRecord, scope: Scope, content: ContentStore
) -> None:
    catalog = services.registries
    v1 = image(content, scope, "one")
    content.put_manifest(scope, v1, "v1")
    # Locks on what does not exist (a lock outlives what it names) hold nothing.
    content.locks.update(registry.id, REPO, "ghost", {"deleteEnabled": False})
    content.locks.update(registry.id, "team/none", "", {"deleteEnabled": False})
    catalog.check_removable(registry.name)
    lock(services, registry, "v1", deleteEnabled=False)

    for check in (catalog.check_removable, catalog.remove):
        with pytest.raises(LockedError) as caught:
            check(registry.name)
        message = caught.value.message
        assert f"registry {registry.name!r} cannot be deleted" in message
        assert f"tag {REPO}:v1 is locked (deleteEnabled: false)" in message
        assert (
            f"airlock acr repository update --name {registry.name} --image {REPO}:v1 "
            "--delete-enabled true" in message
        )
    assert catalog.get(registry.name).id == registry.id
    assert content.list_tags(scope, None, None) == ["v1"]
    assert content.blob_size(scope, str(Digest.of(b"one"))) == 3

    lock(services, registry, "v1", deleteEnabled=True)
    catalog.check_removable(registry.name)
    catalog.remove(registry.name)
    with pytest.raises(NotFoundError):
        catalog.get(registry.name)
