"""Pull: the API version check, manifests by tag and digest, HEAD, blobs and Range requests."""

from __future__ import annotations

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    Registry,
    describe,
    expect_error,
    get_manifest,
    push_blob,
    push_manifest,
)


def test_api_version_check(registry: Registry) -> None:
    resp = registry.client.get("/v2/")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers.get("docker-distribution-api-version") == "registry/2.0", describe(resp)


def test_get_manifest_by_tag(registry: Registry) -> None:
    image = oci.image_manifest("pull-by-tag")
    push_manifest(registry, image, "v1")

    resp = get_manifest(registry, "v1")
    assert resp.status_code == 200, describe(resp)
    assert resp.content == image.data, "the manifest must come back byte for byte"
    assert resp.headers["content-type"].split(";")[0] == oci.IMAGE_MANIFEST
    assert resp.headers["docker-content-digest"] == image.digest
    assert int(resp.headers["content-length"]) == image.size


def test_get_manifest_by_digest(registry: Registry) -> None:
    image = oci.image_manifest("pull-by-digest")
    push_manifest(registry, image, "v1")

    resp = get_manifest(registry, image.digest)
    assert resp.status_code == 200, describe(resp)
    assert resp.content == image.data
    assert resp.headers["content-type"].split(";")[0] == oci.IMAGE_MANIFEST
    assert resp.headers["docker-content-digest"] == image.digest


def test_get_index_by_tag(registry: Registry) -> None:
    amd = oci.image_manifest("index-amd64")
    arm = oci.image_manifest("index-arm64")
    push_manifest(registry, amd)
    push_manifest(registry, arm)
    index = oci.image_index([amd, arm])
    push_manifest(registry, index, "multi")

    resp = get_manifest(registry, "multi")
    assert resp.status_code == 200, describe(resp)
    assert resp.content == index.data
    assert resp.headers["content-type"].split(";")[0] == oci.IMAGE_INDEX
    assert resp.headers["docker-content-digest"] == index.digest


def test_head_manifest(registry: Registry) -> None:
    image = oci.image_manifest("head-manifest")
    push_manifest(registry, image, "v1")

    for reference in ("v1", image.digest):
        resp = get_manifest(registry, reference, method="HEAD")
        assert resp.status_code == 200, describe(resp)
        assert resp.content == b"", "a HEAD response has no body"
        assert resp.headers["docker-content-digest"] == image.digest
        assert int(resp.headers["content-length"]) == image.size
        assert resp.headers["content-type"].split(";")[0] == oci.IMAGE_MANIFEST


def test_manifest_is_stored_byte_for_byte(registry: Registry) -> None:
    """Whitespace and key order are the client's: the registry must not re-serialize."""
    image = oci.image_manifest("byte-exact")
    odd = oci.Manifest(
        b'{\n  "schemaVersion" : 2,\n  "layers": '
        + oci.canonical_json(image.json()["layers"])
        + b',\n  "config": '
        + oci.canonical_json(image.json()["config"])
        + b',\n  "mediaType": "'
        + oci.IMAGE_MANIFEST.encode()
        + b'"\n}\n',
        oci.IMAGE_MANIFEST,
        blobs=image.blobs,
    )
    push_manifest(registry, odd, "spaced")
    resp = get_manifest(registry, "spaced")
    assert resp.status_code == 200, describe(resp)
    assert resp.content == odd.data
    assert resp.headers["docker-content-digest"] == odd.digest


def test_get_unknown_manifest(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("unknown-manifest"), "present")

    resp = get_manifest(registry, "absent")
    expect_error(registry, resp, 404, "MANIFEST_UNKNOWN", check="tag")
    missing = oci.missing_descriptor("unknown-manifest")["digest"]
    resp = get_manifest(registry, missing)
    expect_error(registry, resp, 404, "MANIFEST_UNKNOWN", check="digest")
    resp = get_manifest(registry, "absent", method="HEAD")
    assert resp.status_code == 404, describe(resp)
    assert resp.content == b""


def test_get_manifest_in_unknown_repository(registry: Registry) -> None:
    resp = get_manifest(registry, "latest", repo=registry.new_repo("never-pushed"))
    expect_error(registry, resp, 404, {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})


def test_get_blob(registry: Registry) -> None:
    blob = oci.layer("get-blob", 3000)
    push_blob(registry, blob)

    resp = registry.client.get(f"/v2/{registry.repo}/blobs/{blob.digest}")
    assert resp.status_code == 200, describe(resp)
    assert resp.content == blob.data
    assert resp.headers["docker-content-digest"] == blob.digest
    assert int(resp.headers["content-length"]) == blob.size


def test_head_blob(registry: Registry) -> None:
    blob = oci.layer("head-blob", 3000)
    push_blob(registry, blob)

    resp = registry.client.head(f"/v2/{registry.repo}/blobs/{blob.digest}")
    assert resp.status_code == 200, describe(resp)
    assert resp.content == b""
    assert resp.headers["docker-content-digest"] == blob.digest
    assert int(resp.headers["content-length"]) == blob.size


def test_get_unknown_blob(registry: Registry) -> None:
    push_blob(registry, oci.layer("unknown-blob-sibling"))
    missing = oci.missing_descriptor("unknown-blob")["digest"]

    resp = registry.client.get(f"/v2/{registry.repo}/blobs/{missing}")
    expect_error(registry, resp, 404, "BLOB_UNKNOWN")
    resp = registry.client.head(f"/v2/{registry.repo}/blobs/{missing}")
    assert resp.status_code == 404, describe(resp)
    assert resp.content == b""


def test_blob_is_scoped_to_its_repository(registry: Registry) -> None:
    blob = oci.layer("scoped", 1024)
    push_blob(registry, blob)
    other = registry.new_repo()
    push_blob(registry, oci.layer("scoped-other", 1024), repo=other)

    resp = registry.client.get(f"/v2/{other}/blobs/{blob.digest}")
    expect_error(registry, resp, 404, "BLOB_UNKNOWN")


def test_blob_range_requests(registry: Registry) -> None:
    blob = oci.layer("range", 4096)
    push_blob(registry, blob)
    path = f"/v2/{registry.repo}/blobs/{blob.digest}"

    cases = {
        "bytes=0-99": (0, 99),
        "bytes=1000-1999": (1000, 1999),
        "bytes=4000-": (4000, 4095),
        "bytes=-96": (4000, 4095),
        "bytes=4090-99999": (4090, 4095),
    }
    for header, (first, last) in cases.items():
        resp = registry.client.get(path, headers={"Range": header})
        assert resp.status_code == 206, f"{header}: {describe(resp)}"
        assert resp.headers["content-range"] == f"bytes {first}-{last}/{blob.size}", header
        assert int(resp.headers["content-length"]) == last - first + 1, header
        assert resp.content == blob.data[first : last + 1], header
