"""Content management: deleting manifests (by digest), tags and blobs."""

from __future__ import annotations

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    Registry,
    departures,
    describe,
    expect_error,
    expect_spec,
    get_manifest,
    push_blob,
    push_manifest,
    put_manifest,
    tag_list,
)

departures(
    {
        "test_delete_tag": (
            "no tag deletion: DELETE /v2/<name>/manifests/<tag> is 400 DIGEST_INVALID "
            "(the spec allows 400/405 only where tag deletion is disabled)"
        ),
        "test_delete_manifest_removes_it_from_referrers": (
            "no referrers API: GET /v2/<name>/referrers/<digest> is 404 text/plain"
        ),
    }
)


def test_delete_manifest_by_digest(registry: Registry) -> None:
    image = oci.image_manifest("delete-manifest")
    push_manifest(registry, image, "doomed")
    keep = oci.image_manifest("delete-manifest-keep")
    push_manifest(registry, keep, "kept")

    resp = registry.client.delete(f"/v2/{registry.repo}/manifests/{image.digest}")
    assert resp.status_code == 202, describe(resp)

    expect_error(registry, get_manifest(registry, image.digest), 404, "MANIFEST_UNKNOWN")
    resp = get_manifest(registry, "doomed")
    assert resp.status_code == 404, f"a tag on a deleted manifest is gone too: {describe(resp)}"
    assert get_manifest(registry, "kept").content == keep.data
    assert tag_list(registry) == ["kept"]


def test_delete_unknown_manifest(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("delete-unknown"), "v1")
    missing = oci.missing_descriptor("delete-unknown")["digest"]
    resp = registry.client.delete(f"/v2/{registry.repo}/manifests/{missing}")
    expect_error(registry, resp, 404, "MANIFEST_UNKNOWN")


def test_delete_manifest_in_unknown_repository(registry: Registry) -> None:
    missing = oci.missing_descriptor("delete-unknown-repo")["digest"]
    resp = registry.client.delete(f"/v2/{registry.new_repo('never-pushed')}/manifests/{missing}")
    expect_error(registry, resp, 404, {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"})


def test_delete_tag(registry: Registry) -> None:
    image = oci.image_manifest("delete-tag")
    push_manifest(registry, image, "one")
    resp = put_manifest(registry, image, "two")
    assert resp.status_code == 201, describe(resp)

    resp = registry.client.delete(f"/v2/{registry.repo}/manifests/one")
    expect_spec(registry, resp.status_code == 202, f"want 202, got {describe(resp)}")
    assert get_manifest(registry, "one").status_code == 404
    assert get_manifest(registry, "two").content == image.data, "other tags stay"
    assert get_manifest(registry, image.digest).content == image.data, "the manifest stays"
    assert tag_list(registry) == ["two"]


def test_delete_blob(registry: Registry) -> None:
    blob = oci.layer("delete-blob", 1200)
    keep = oci.layer("delete-blob-keep", 1200)
    push_blob(registry, blob)
    push_blob(registry, keep)

    resp = registry.client.delete(f"/v2/{registry.repo}/blobs/{blob.digest}")
    assert resp.status_code == 202, describe(resp)
    resp = registry.client.head(f"/v2/{registry.repo}/blobs/{blob.digest}")
    assert resp.status_code == 404, describe(resp)
    expect_error(
        registry,
        registry.client.get(f"/v2/{registry.repo}/blobs/{blob.digest}"),
        404,
        "BLOB_UNKNOWN",
        check="get",
    )
    resp = registry.client.delete(f"/v2/{registry.repo}/blobs/{blob.digest}")
    expect_error(registry, resp, 404, "BLOB_UNKNOWN", check="again")
    assert registry.client.head(f"/v2/{registry.repo}/blobs/{keep.digest}").status_code == 200


def test_delete_manifest_removes_it_from_referrers(registry: Registry) -> None:
    image = oci.image_manifest("delete-referrer")
    push_manifest(registry, image, "v1")
    first = oci.artifact_manifest("delete-referrer-1", image)
    second = oci.artifact_manifest("delete-referrer-2", image, artifact_type="application/x.two")
    push_manifest(registry, first)
    push_manifest(registry, second)

    resp = registry.client.delete(f"/v2/{registry.repo}/manifests/{first.digest}")
    assert resp.status_code == 202, describe(resp)
    resp = registry.client.get(f"/v2/{registry.repo}/referrers/{image.digest}")
    expect_spec(registry, resp.status_code == 200, f"want 200, got {describe(resp)}")
    assert [d["digest"] for d in resp.json()["manifests"]] == [second.digest]
