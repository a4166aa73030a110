"""Push: monolithic (POST+PUT and single POST), chunked PATCH uploads, upload status, cancel,
cross-repository mount, and manifests (by tag, by digest, with a subject)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    OCTET,
    Registry,
    departures,
    describe,
    expect_error,
    expect_spec,
    get_manifest,
    push_blob,
    push_manifest,
    put_manifest,
    start_upload,
    with_query,
)

departures(
    {
        "test_chunk_out_of_order_is_416": (
            "ignores Content-Range on PATCH: a chunk sent as 3000-3999 after 0-999 is appended "
            "with 202 and Range: 0-1999"
        ),
        "test_push_manifest_with_subject_returns_oci_subject": (
            "no referrers support: a manifest PUT with a subject answers 201 without an "
            "OCI-Subject header"
        ),
    }
)


def assert_blob_location(registry: Registry, location: str, blob: oci.Blob) -> None:
    """A blob ``Location`` (relative or absolute) must be pullable and give the blob back."""
    resp = registry.client.get(registry.url(location))
    assert resp.status_code == 200, describe(resp)
    assert resp.content == blob.data


def test_upload_location_is_an_upload_url(registry: Registry) -> None:
    resp = registry.client.post(f"/v2/{registry.repo}/blobs/uploads/")
    assert resp.status_code == 202, describe(resp)
    location = resp.headers["location"]
    path = urlsplit(registry.url(location)).path
    assert path.startswith(f"/v2/{registry.repo}/blobs/uploads/"), location
    assert len(path) > len(f"/v2/{registry.repo}/blobs/uploads/"), "the URL names the session"


def test_monolithic_post_then_put(registry: Registry) -> None:
    blob = oci.layer("post-put", 5000)
    location = start_upload(registry)

    resp = registry.client.put(
        with_query(location, digest=blob.digest), content=blob.data, headers=OCTET
    )
    assert resp.status_code == 201, describe(resp)
    assert resp.headers["docker-content-digest"] == blob.digest
    assert_blob_location(registry, resp.headers["location"], blob)


def test_monolithic_single_post(registry: Registry) -> None:
    """``POST ?digest=`` MAY store the blob at once (201); if not it SHOULD answer 202 and the
    client finishes with PUT."""
    blob = oci.layer("single-post", 2000)
    resp = registry.client.post(
        with_query(f"/v2/{registry.repo}/blobs/uploads/", digest=blob.digest),
        content=blob.data,
        headers=OCTET,
    )
    assert resp.status_code in (201, 202), describe(resp)
    if resp.status_code == 202:
        resp = registry.client.put(
            with_query(registry.url(resp.headers["location"]), digest=blob.digest),
            content=blob.data,
            headers=OCTET,
        )
        assert resp.status_code == 201, describe(resp)
    assert_blob_location(registry, resp.headers["location"], blob)


def test_chunked_upload(registry: Registry) -> None:
    blob = oci.layer("chunked", 4500)
    location = start_upload(registry)

    for first, last in ((0, 1999), (2000, 3999), (4000, 4499)):
        resp = registry.client.patch(
            location,
            content=blob.data[first : last + 1],
            headers={**OCTET, "Content-Range": f"{first}-{last}"},
        )
        assert resp.status_code == 202, describe(resp)
        assert resp.headers["range"] == f"0-{last}", describe(resp)
        location = registry.url(resp.headers["location"])

    resp = registry.client.put(with_query(location, digest=blob.digest))
    assert resp.status_code == 201, describe(resp)
    assert resp.headers["docker-content-digest"] == blob.digest
    assert_blob_location(registry, resp.headers["location"], blob)


def test_chunked_upload_final_chunk_in_put(registry: Registry) -> None:
    blob = oci.layer("chunked-put", 3000)
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=blob.data[:1000], headers={**OCTET, "Content-Range": "0-999"}
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])

    resp = registry.client.put(
        with_query(location, digest=blob.digest),
        content=blob.data[1000:],
        headers={**OCTET, "Content-Range": "1000-2999"},
    )
    assert resp.status_code == 201, describe(resp)
    assert_blob_location(registry, resp.headers["location"], blob)


def test_upload_status(registry: Registry) -> None:
    blob = oci.layer("status", 2500)
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=blob.data[:1500], headers={**OCTET, "Content-Range": "0-1499"}
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])

    resp = registry.client.get(location)
    assert resp.status_code == 204, describe(resp)
    assert resp.headers["range"] == "0-1499", "Range is 0-<offset-1>"
    assert resp.content == b""
    location = registry.url(resp.headers["location"])

    resp = registry.client.patch(
        location, content=blob.data[1500:], headers={**OCTET, "Content-Range": "1500-2499"}
    )
    assert resp.status_code == 202, describe(resp)
    resp = registry.client.put(
        with_query(registry.url(resp.headers["location"]), digest=blob.digest)
    )
    assert resp.status_code == 201, describe(resp)


def test_chunk_out_of_order_is_416(registry: Registry) -> None:
    blob = oci.layer("out-of-order", 4000)
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=blob.data[:1000], headers={**OCTET, "Content-Range": "0-999"}
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])

    resp = registry.client.patch(
        location, content=blob.data[3000:], headers={**OCTET, "Content-Range": "3000-3999"}
    )
    expect_spec(
        registry,
        resp.status_code == 416,
        f"a chunk that skips bytes 1000-2999 must be 416, got {describe(resp)}",
    )


def test_cancel_upload(registry: Registry) -> None:
    blob = oci.layer("cancel", 1000)
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=blob.data, headers={**OCTET, "Content-Range": "0-999"}
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])

    resp = registry.client.delete(location)
    assert resp.status_code == 204, describe(resp)

    resp = registry.client.get(location)
    expect_error(registry, resp, 404, "BLOB_UPLOAD_UNKNOWN", check="status")
    resp = registry.client.put(with_query(location, digest=blob.digest))
    expect_error(registry, resp, 404, "BLOB_UPLOAD_UNKNOWN", check="put")
    assert registry.client.head(f"/v2/{registry.repo}/blobs/{blob.digest}").status_code == 404


def test_cross_repository_mount(registry: Registry) -> None:
    blob = oci.layer("mount", 1500)
    source = registry.new_repo("source")
    push_blob(registry, blob, repo=source)
    registry.allow_mount(source)

    resp = registry.client.post(
        with_query(f"/v2/{registry.repo}/blobs/uploads/", mount=blob.digest, **{"from": source})
    )
    assert resp.status_code == 201, describe(resp)
    assert resp.headers["docker-content-digest"] == blob.digest
    assert_blob_location(registry, resp.headers["location"], blob)
    resp = registry.client.head(f"/v2/{registry.repo}/blobs/{blob.digest}")
    assert resp.status_code == 200, describe(resp)


def test_mount_of_unknown_blob_falls_back_to_upload(registry: Registry) -> None:
    blob = oci.layer("mount-fallback", 1500)
    source = registry.new_repo("source")
    push_blob(registry, oci.layer("mount-fallback-other"), repo=source)
    registry.allow_mount(source)

    resp = registry.client.post(
        with_query(f"/v2/{registry.repo}/blobs/uploads/", mount=blob.digest, **{"from": source})
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])
    resp = registry.client.put(
        with_query(location, digest=blob.digest), content=blob.data, headers=OCTET
    )
    assert resp.status_code == 201, describe(resp)
    assert_blob_location(registry, resp.headers["location"], blob)


def test_mount_without_from(registry: Registry) -> None:
    """``from`` MAY be optional: either the blob is mounted (201) or an upload begins (202)."""
    blob = oci.layer("mount-no-from", 800)
    push_blob(registry, blob, repo=registry.new_repo("source"))

    resp = registry.client.post(
        with_query(f"/v2/{registry.repo}/blobs/uploads/", mount=blob.digest)
    )
    assert resp.status_code in (201, 202), describe(resp)
    if resp.status_code == 201:
        assert_blob_location(registry, resp.headers["location"], blob)
    else:
        assert "location" in resp.headers


def test_push_manifest_by_tag(registry: Registry) -> None:
    image = oci.image_manifest("push-tag")
    resp = push_manifest(registry, image, "v1.0")
    assert resp.headers["docker-content-digest"] == image.digest
    pulled = registry.client.get(
        registry.url(resp.headers["location"]), headers={"Accept": oci.MANIFEST_ACCEPT}
    )
    assert pulled.status_code == 200, describe(pulled)
    assert pulled.content == image.data


def test_push_manifest_by_digest(registry: Registry) -> None:
    image = oci.image_manifest("push-digest")
    resp = push_manifest(registry, image, image.digest)
    assert resp.headers["docker-content-digest"] == image.digest
    assert resp.headers.get("location"), describe(resp)
    assert get_manifest(registry, image.digest).content == image.data


def test_push_manifest_digest_mismatch(registry: Registry) -> None:
    image = oci.image_manifest("push-mismatch")
    for blob in image.blobs:
        push_blob(registry, blob)
    wrong = oci.missing_descriptor("push-mismatch")["digest"]
    resp = put_manifest(registry, image, wrong)
    expect_error(registry, resp, 400, "DIGEST_INVALID")
    assert get_manifest(registry, wrong).status_code == 404
    assert get_manifest(registry, image.digest).status_code == 404


def test_push_index(registry: Registry) -> None:
    one = oci.image_manifest("push-index-1")
    two = oci.image_manifest("push-index-2")
    push_manifest(registry, one)
    push_manifest(registry, two)
    index = oci.image_index([one, two], annotations={"org.example": "index"})
    resp = push_manifest(registry, index, "multi")
    assert resp.headers["docker-content-digest"] == index.digest


def test_push_manifest_with_missing_subject(registry: Registry) -> None:
    """A registry MUST accept a manifest whose subject does not exist (yet)."""
    subject = oci.missing_descriptor("absent-subject")
    artifact = oci.artifact_manifest("absent-subject", subject)
    resp = push_manifest(registry, artifact)
    assert resp.headers["docker-content-digest"] == artifact.digest
    assert get_manifest(registry, artifact.digest).content == artifact.data


def test_push_manifest_with_subject_returns_oci_subject(registry: Registry) -> None:
    image = oci.image_manifest("subject-target")
    push_manifest(registry, image, "v1")
    artifact = oci.artifact_manifest("subject-sbom", image)

    for blob in artifact.blobs:
        push_blob(registry, blob)
    resp = put_manifest(registry, artifact)
    assert resp.status_code == 201, describe(resp)
    expect_spec(
        registry,
        resp.headers.get("oci-subject") == image.digest,
        f"want OCI-Subject: {image.digest}, got {describe(resp)}",
    )
