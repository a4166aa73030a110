"""The content store and uploads on a real SQLite database and a real filesystem."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.manifest import parse_manifest
from airlock.registry.content import Scope
from airlock.registry.errors import RegistryError
from airlock.registry.events import RegistryEvent, list_events
from airlock.server.services import Services


@pytest.fixture
def services(tmp_path: Path) -> Services:
    opened = Services.open(tmp_path / "home")
    yield opened  # type: ignore[misc]
    opened.close()


@pytest.fixture
def scope(services: Services) -> Scope:
    record = services.registries.add(
        name="testregistry", port=5999, resource_group="g", location="local", sku="Standard"
    )
    return Scope(record.id, record.name, "team/app")


def _upload(services: Services, scope: Scope, data: bytes) -> str:
    uploads = services.registry_context.uploads
    upload_id = uploads.start(scope)
    writer = uploads.writer(upload_id)
    writer.write(data)
    writer.close()
    digest = Digest.of(data)
    size = uploads.seal(upload_id, digest)
    services.registry_context.content.link_blob(scope, str(digest), size)
    uploads.forget(upload_id)
    return str(digest)


def _manifest(config: bytes, layer: bytes, note: str = "") -> bytes:
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
        "annotations": {"note": note},
    }
    return json.dumps(doc).encode()


def test_push_tag_and_events(services: Services, scope: Scope) -> None:
    content = services.registry_context.content
    seen: list[RegistryEvent] = []
    services.bus.subscribe(seen.append)
    _upload(services, scope, b"{}")
    _upload(services, scope, b"layer-bytes")
    manifest = parse_manifest(_manifest(b"{}", b"layer-bytes"))
    content.put_manifest(scope, manifest, "v1")
    content.put_manifest(scope, manifest, "v1")  # no change: no event
    content.put_manifest(scope, manifest, "stable")
    found = content.get_manifest(scope, "v1")
    assert found is not None and found.content == manifest.raw
    assert [(e.action, e.tag) for e in seen] == [("push", "v1"), ("tag", "stable")]
    with services.engine.connect() as conn:
        stored = list_events(conn, registry="testregistry")
    assert [e.id for e in stored] == [e.id for e in seen]
    assert content.list_tags(scope, None, None) == ["stable", "v1"]
    assert content.list_tags(scope, 1, "stable") == ["v1"]


def test_manifest_with_missing_blob_is_refused_and_nothing_stored(
    services: Services, scope: Scope
) -> None:
    content = services.registry_context.content
    _upload(services, scope, b"{}")
    manifest = parse_manifest(_manifest(b"{}", b"never-uploaded"))
    with pytest.raises(RegistryError) as caught:
        content.put_manifest(scope, manifest, "v1")
    assert caught.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert content.get_manifest(scope, "v1") is None
    assert content.list_tags(scope, None, None) == []


def test_wrong_digest_stores_nothing(services: Services, scope: Scope, tmp_path: Path) -> None:
    uploads = services.registry_context.uploads
    upload_id = uploads.start(scope)
    writer = uploads.writer(upload_id)
    writer.write(b"actual")
    writer.close()
    claimed = Digest.of(b"claimed")
    with pytest.raises(RegistryError) as caught:
        uploads.seal(upload_id, claimed)
    assert caught.value.code == "DIGEST_INVALID"
    assert not services.registry_context.blobs.exists(str(claimed))
    assert not services.registry_context.blobs.exists(str(Digest.of(b"actual")))


def test_upload_hash_is_recomputed_after_a_restart(services: Services, scope: Scope) -> None:
    uploads = services.registry_context.uploads
    upload_id = uploads.start(scope)
    writer = uploads.writer(upload_id)
    writer.write(b"first half ")
    writer.close()
    # A new Uploads (as after a restart) has no hash in memory and must rebuild it.
    fresh = Services.open(services.home)
    try:
        again = fresh.registry_context.uploads
        assert again.offset(scope, upload_id) == len(b"first half ")
        writer = again.writer(upload_id)
        writer.write(b"second half")
        writer.close()
        size = again.seal(upload_id, Digest.of(b"first half second half"))
        assert size == len(b"first half second half")
    finally:
        fresh.close()


def test_upload_is_unknown_under_another_repository(services: Services, scope: Scope) -> None:
    uploads = services.registry_context.uploads
    upload_id = uploads.start(scope)
    other = Scope(scope.registry_id, scope.registry, "other/repo")
    with pytest.raises(RegistryError) as caught:
        uploads.offset(other, upload_id)
    assert caught.value.code == "BLOB_UPLOAD_UNKNOWN"


def test_referrers_and_delete(services: Services, scope: Scope) -> None:
    content = services.registry_context.content
    _upload(services, scope, b"{}")
    _upload(services, scope, b"layer")
    subject = parse_manifest(_manifest(b"{}", b"layer"))
    content.put_manifest(scope, subject, "v1")
    signature = json.loads(_manifest(b"{}", b"layer", "sig"))
    signature["artifactType"] = "application/vnd.example.signature"
    signature["subject"] = {
        "mediaType": mediatypes.OCI_MANIFEST,
        "digest": str(subject.digest),
        "size": len(subject.raw),
    }
    referrer = parse_manifest(json.dumps(signature).encode())
    content.put_manifest(scope, referrer, None)
    found = content.referrers(scope, subject.digest, None)
    assert [str(d.digest) for d in found] == [str(referrer.digest)]
    assert found[0].artifact_type == "application/vnd.example.signature"
    assert content.referrers(scope, subject.digest, "other/type") == []
    assert content.delete_manifest(scope, str(subject.digest)) is True
    assert content.get_manifest(scope, "v1") is None
    assert content.list_tags(scope, None, None) == []


def test_stale_uploads_are_purged(services: Services, scope: Scope) -> None:
    uploads = services.registry_context.uploads
    stale = uploads.start(scope)
    fresh = uploads.start(scope)
    writer = uploads.writer(stale)
    writer.write(b"abandoned")
    writer.close()
    path = services.registry_context.blobs.driver.local_path(f"uploads/{stale}")
    assert path is not None
    old = time.time() - 7200
    os.utime(path, (old, old))
    assert uploads.purge_stale(3600) == [stale]
    assert not path.exists()
    with pytest.raises(RegistryError):
        uploads.offset(scope, stale)
    assert uploads.offset(scope, fresh) == 0
