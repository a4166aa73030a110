"""Bad input: each case gets its status and error code, and a check that nothing was stored.

The "nothing stored" checks come first and are plain asserts (they hold for every server); the
status and code checks follow through ``expect_spec``/``expect_error``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    OCTET,
    Registry,
    blob_exists,
    catalog,
    departures,
    describe,
    error_codes,
    expect_error,
    expect_spec,
    get_manifest,
    json_body,
    manifest_exists,
    push_blob,
    push_manifest,
    put_manifest,
    start_upload,
    tag_list,
    with_query,
)

ROUTE_404 = "404 text/plain '404 page not found' (the router does not match the name)"
TAG_ROUTE_404 = "404 text/plain '404 page not found' (the router does not match the tag)"

departures(
    {
        "test_invalid_repository_name:upper-case": ROUTE_404,
        "test_invalid_repository_name:double-dot": ROUTE_404,
        "test_invalid_repository_name:leading-dash": ROUTE_404,
        "test_invalid_repository_name:trailing-underscore": ROUTE_404,
        "test_invalid_repository_name:triple-underscore": ROUTE_404,
        "test_invalid_repository_name:too-long": "a 300-character name is 500 UNKNOWN",
        "test_invalid_tag:leading-dash": TAG_ROUTE_404,
        "test_invalid_tag:leading-dot": TAG_ROUTE_404,
        "test_invalid_tag:bang": TAG_ROUTE_404,
        "test_invalid_tag:129-chars": TAG_ROUTE_404,
        "test_invalid_digest_on_blob_get:no-algorithm": (
            "404 text/plain '404 page not found' (the router does not match 'notadigest')"
        ),
        "test_invalid_digest_on_manifest_get": (
            "GET /v2/<name>/manifests/sha256:xyz is 500 UNKNOWN (a storage path error)"
        ),
        "test_out_of_order_chunk_keeps_offset": (
            "ignores Content-Range on PATCH: re-sending 500-1499 after 0-999 is 202 with "
            "Range: 0-1999 (the bytes are appended)"
        ),
        "test_bad_range_on_blob_get:beyond-end": (
            "the 416 says Content-Length: <blob size> but sends a 33-byte text body "
            "'invalid range: failed to overlap' (the client sees a truncated response)"
        ),
        "test_bad_range_on_blob_get:at-end": (
            "the 416 says Content-Length: <blob size> but sends a 33-byte text body "
            "'invalid range: failed to overlap' (the client sees a truncated response)"
        ),
        "test_oversized_manifest": "a 4 MiB+ manifest is 400 MANIFEST_INVALID "
        "'http: request body too large', not 413",
        "test_upload_url_under_another_repository": (
            "the upload URL under another repository is 404 BLOB_UPLOAD_INVALID"
        ),
        "test_negative_n_on_tags_list": "ignores n=-1 on tags/list: 200 with every tag",
        "test_negative_n_on_catalog": "ignores n=-1 on _catalog: 200 with every repository",
    }
)


# ---------------------------------------------------------------------------------------------
# Names, tags, digests

INVALID_NAMES = {
    "upper-case": "conformance/Upper",
    "double-dot": "conformance/a..b",
    "leading-dash": "conformance/-lead",
    "trailing-underscore": "conformance/trail_",
    "triple-underscore": "conformance/a___b",
    "too-long": "conformance/" + "a" * 300,
}


@pytest.mark.parametrize("case", sorted(INVALID_NAMES))
def test_invalid_repository_name(registry: Registry, case: str) -> None:
    name = INVALID_NAMES[case]
    blob = oci.layer(f"bad-name-{case}", 256)
    resp = registry.client.post(
        with_query(f"/v2/{name}/blobs/uploads/", digest=blob.digest),
        content=blob.data,
        headers=OCTET,
    )
    assert resp.status_code != 201, f"a blob was stored under {name!r}: {describe(resp)}"
    names = catalog(registry)
    assert name not in names and name.lower() not in names
    expect_error(registry, resp, 400, "NAME_INVALID", check=case)


INVALID_TAGS = {
    "leading-dash": "-bad",
    "leading-dot": ".bad",
    "bang": "bad!",
    "129-chars": "t" * 129,
}


@pytest.mark.parametrize("case", sorted(INVALID_TAGS))
def test_invalid_tag(registry: Registry, case: str) -> None:
    image = oci.image_manifest("bad-tag")
    push_manifest(registry, image, "good")
    resp = put_manifest(registry, image, INVALID_TAGS[case])
    assert resp.status_code != 201, describe(resp)
    assert tag_list(registry) == ["good"]
    expect_error(registry, resp, 400, {"MANIFEST_INVALID", "TAG_INVALID"}, check=case)


def test_tag_of_128_chars_is_valid(registry: Registry) -> None:
    image = oci.image_manifest("long-tag")
    tag = "t" * 128
    push_manifest(registry, image, tag)
    assert get_manifest(registry, tag).content == image.data


INVALID_DIGESTS = {
    "bad-hex": "sha256:xyz",
    "short-hex": "sha256:" + "a" * 63,
    "unknown-algorithm": "md5:" + "a" * 32,
    "no-algorithm": "notadigest",
}


@pytest.mark.parametrize("case", sorted(INVALID_DIGESTS))
def test_invalid_digest_on_blob_get(registry: Registry, case: str) -> None:
    push_blob(registry, oci.layer("bad-digest-sibling", 64))
    resp = registry.client.get(f"/v2/{registry.repo}/blobs/{INVALID_DIGESTS[case]}")
    expect_error(registry, resp, 400, "DIGEST_INVALID", check=case)


@pytest.mark.parametrize("case", ["bad-hex", "short-hex", "unknown-algorithm"])
def test_invalid_digest_on_upload(registry: Registry, case: str) -> None:
    data = oci.deterministic_bytes(f"bad-upload-digest-{case}", 512)
    location = start_upload(registry)
    resp = registry.client.put(
        with_query(location, digest=INVALID_DIGESTS[case]), content=data, headers=OCTET
    )
    assert resp.status_code != 201, describe(resp)
    assert not blob_exists(registry, oci.sha256_digest(data))
    expect_error(registry, resp, 400, "DIGEST_INVALID")


def test_invalid_digest_on_manifest_get(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("bad-manifest-digest"), "v1")
    resp = get_manifest(registry, "sha256:xyz")
    expect_error(registry, resp, 400, {"DIGEST_INVALID", "MANIFEST_INVALID"})


# ---------------------------------------------------------------------------------------------
# Uploads


def test_wrong_digest_on_monolithic_upload(registry: Registry) -> None:
    data = oci.deterministic_bytes("wrong-digest-mono", 1024)
    claimed = oci.missing_descriptor("wrong-digest-mono")["digest"]
    location = start_upload(registry)
    resp = registry.client.put(with_query(location, digest=claimed), content=data, headers=OCTET)
    assert resp.status_code != 201, describe(resp)
    assert not blob_exists(registry, claimed)
    assert not blob_exists(registry, oci.sha256_digest(data))
    expect_error(registry, resp, 400, "DIGEST_INVALID")


def test_wrong_digest_on_chunked_upload(registry: Registry) -> None:
    data = oci.deterministic_bytes("wrong-digest-chunked", 2048)
    claimed = oci.missing_descriptor("wrong-digest-chunked")["digest"]
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=data, headers={**OCTET, "Content-Range": "0-2047"}
    )
    assert resp.status_code == 202, describe(resp)
    resp = registry.client.put(with_query(registry.url(resp.headers["location"]), digest=claimed))
    assert resp.status_code != 201, describe(resp)
    assert not blob_exists(registry, claimed)
    assert not blob_exists(registry, oci.sha256_digest(data))
    expect_error(registry, resp, 400, "DIGEST_INVALID")


def test_wrong_digest_on_single_post(registry: Registry) -> None:
    """A registry without single-POST uploads answers 202 and stores nothing; one with them must
    check the digest."""
    data = oci.deterministic_bytes("wrong-digest-post", 1024)
    claimed = oci.missing_descriptor("wrong-digest-post")["digest"]
    resp = registry.client.post(
        with_query(f"/v2/{registry.repo}/blobs/uploads/", digest=claimed),
        content=data,
        headers=OCTET,
    )
    assert resp.status_code != 201, describe(resp)
    assert not blob_exists(registry, claimed)
    assert not blob_exists(registry, oci.sha256_digest(data))
    if resp.status_code != 202:
        expect_error(registry, resp, 400, "DIGEST_INVALID")


def upload_offset(registry: Registry, location: str) -> str:
    resp = registry.client.get(location)
    assert resp.status_code == 204, describe(resp)
    return resp.headers["range"]


def test_out_of_order_chunk_keeps_offset(registry: Registry) -> None:
    blob = oci.layer("out-of-order-offset", 3000)
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=blob.data[:1000], headers={**OCTET, "Content-Range": "0-999"}
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])

    resp = registry.client.patch(
        location, content=blob.data[500:1500], headers={**OCTET, "Content-Range": "500-1499"}
    )
    expect_spec(
        registry,
        resp.status_code == 416,
        f"an overlapping chunk must be 416, got {describe(resp)}",
    )
    assert upload_offset(registry, location) == "0-999", "a refused chunk must not move the offset"

    resp = registry.client.patch(
        location, content=blob.data[1000:], headers={**OCTET, "Content-Range": "1000-2999"}
    )
    assert resp.status_code == 202, describe(resp)
    resp = registry.client.put(
        with_query(registry.url(resp.headers["location"]), digest=blob.digest)
    )
    assert resp.status_code == 201, describe(resp)
    got = registry.client.get(f"/v2/{registry.repo}/blobs/{blob.digest}")
    assert got.content == blob.data


def test_upload_url_under_another_repository(registry: Registry) -> None:
    blob = oci.layer("cross-repo-upload", 1000)
    location = start_upload(registry)
    resp = registry.client.patch(
        location, content=blob.data[:100], headers={**OCTET, "Content-Range": "0-99"}
    )
    assert resp.status_code == 202, describe(resp)
    location = registry.url(resp.headers["location"])
    other = registry.new_repo()
    push_blob(registry, oci.layer("cross-repo-upload-other", 64), repo=other)
    stolen = location.replace(f"/v2/{registry.repo}/", f"/v2/{other}/", 1)
    assert stolen != location

    status = registry.client.get(stolen)
    patch = registry.client.patch(
        stolen, content=blob.data[100:], headers={**OCTET, "Content-Range": "100-999"}
    )
    put = registry.client.put(with_query(stolen, digest=blob.digest))
    assert put.status_code != 201, describe(put)
    assert not blob_exists(registry, blob.digest, repo=other)
    assert not blob_exists(registry, blob.digest)
    assert upload_offset(registry, location) == "0-99", "the session is untouched"
    for resp in (status, patch, put):
        expect_error(registry, resp, 404, "BLOB_UPLOAD_UNKNOWN")

    resp = registry.client.patch(
        location, content=blob.data[100:], headers={**OCTET, "Content-Range": "100-999"}
    )
    assert resp.status_code == 202, describe(resp)
    resp = registry.client.put(
        with_query(registry.url(resp.headers["location"]), digest=blob.digest)
    )
    assert resp.status_code == 201, describe(resp)
    assert not blob_exists(registry, blob.digest, repo=other)


# ---------------------------------------------------------------------------------------------
# Range requests


@pytest.mark.parametrize("case", ["beyond-end", "at-end"])
def test_bad_range_on_blob_get(registry: Registry, case: str) -> None:
    blob = oci.layer("bad-range", 1024)
    push_blob(registry, blob)
    header = {"beyond-end": "bytes=5000-6000", "at-end": f"bytes={blob.size}-"}[case]
    path = f"/v2/{registry.repo}/blobs/{blob.digest}"

    with registry.client.stream("GET", path, headers={"Range": header}) as resp:
        assert resp.status_code == 416, f"{header}: {describe(resp)}"
        assert resp.headers.get("content-range") == f"bytes */{blob.size}", describe(resp)
        declared = resp.headers.get("content-length")
        try:
            body: bytes | None = resp.read()
        except httpx.RemoteProtocolError:
            body = None  # the server sent fewer bytes than it declared
    whole = registry.client.get(path)
    assert whole.status_code == 200 and whole.content == blob.data, "the blob is intact"
    expect_spec(
        registry,
        body is not None and (declared is None or int(declared) == len(body)),
        f"Content-Length {declared} must match the 416 body "
        f"({'truncated' if body is None else len(body)} bytes)",
        check=case,
    )


# ---------------------------------------------------------------------------------------------
# Manifests


@pytest.mark.parametrize("missing", ["layer", "config"])
def test_manifest_referencing_missing_blob(registry: Registry, missing: str) -> None:
    image = oci.image_manifest(f"missing-{missing}")
    push_manifest(registry, oci.image_manifest("missing-blob-base"), "base")
    for blob in image.blobs:
        is_config = blob.media_type == oci.IMAGE_CONFIG
        if is_config != (missing == "config"):
            push_blob(registry, blob)
    resp = put_manifest(registry, image, "broken")
    assert resp.status_code != 201, describe(resp)
    assert tag_list(registry) == ["base"]
    assert not manifest_exists(registry, image.digest)
    expect_error(registry, resp, 400, "MANIFEST_BLOB_UNKNOWN")


def test_index_referencing_missing_manifest(registry: Registry) -> None:
    present = oci.image_manifest("index-present")
    push_manifest(registry, present, "base")
    absent = oci.image_manifest("index-absent")
    index = oci.image_index([present, absent])
    resp = put_manifest(registry, index, "broken")
    assert resp.status_code != 201, describe(resp)
    assert tag_list(registry) == ["base"]
    assert not manifest_exists(registry, index.digest)
    expect_error(registry, resp, 400, "MANIFEST_BLOB_UNKNOWN")


def test_malformed_manifest(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("malformed-base"), "base")
    bad = oci.Manifest(b'{"schemaVersion": 2, "mediaType": ', oci.IMAGE_MANIFEST)
    resp = put_manifest(registry, bad, "broken")
    assert resp.status_code != 201, describe(resp)
    assert tag_list(registry) == ["base"]
    expect_error(registry, resp, 400, "MANIFEST_INVALID")


def test_oversized_manifest(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("oversized-base"), "base")
    image = oci.image_manifest("oversized")
    for blob in image.blobs:
        push_blob(registry, blob)
    body = image.json()
    body["annotations"] = {"pad": "x" * (4 * 1024 * 1024 + 1024)}
    big = oci.Manifest(oci.canonical_json(body), oci.IMAGE_MANIFEST)
    assert big.size > 4 * 1024 * 1024
    resp = put_manifest(registry, big, "huge")
    assert resp.status_code != 201, describe(resp)
    assert tag_list(registry) == ["base"]
    assert not manifest_exists(registry, big.digest)
    expect_spec(registry, resp.status_code == 413, f"want 413, got {describe(resp)}")


# ---------------------------------------------------------------------------------------------
# Pagination numbers


def test_huge_n_on_tags_list(registry: Registry) -> None:
    """The spec lets a registry return fewer than ``n``: clamp, or refuse with an OCI error."""
    image = oci.image_manifest("huge-n")
    push_manifest(registry, image, "a")
    assert put_manifest(registry, image, "b").status_code == 201
    resp = registry.client.get(f"/v2/{registry.repo}/tags/list?n=1000000000000")
    if resp.status_code == 200:
        assert sorted(json_body(resp)["tags"]) == ["a", "b"]
    else:
        assert resp.status_code == 400 and error_codes(resp), describe(resp)


def test_negative_n_on_tags_list(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("negative-n"), "a")
    resp = registry.client.get(f"/v2/{registry.repo}/tags/list?n=-1")
    assert tag_list(registry) == ["a"]
    expect_spec(
        registry,
        resp.status_code == 400 and error_codes(resp) is not None,
        f"want 400 (PAGINATION_NUMBER_INVALID or another OCI error), got {describe(resp)}",
    )


def test_huge_n_on_catalog(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("catalog-huge-n"), "a")
    resp = registry.client.get("/v2/_catalog?n=1000000000000")
    if resp.status_code == 200:
        assert json_body(resp)["repositories"], "at least this test's repository is listed"
    else:
        assert resp.status_code == 400 and error_codes(resp), describe(resp)


def test_negative_n_on_catalog(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("catalog-negative-n"), "a")
    resp = registry.client.get("/v2/_catalog?n=-1")
    expect_spec(
        registry,
        resp.status_code == 400 and error_codes(resp) is not None,
        f"want 400 (PAGINATION_NUMBER_INVALID or another OCI error), got {describe(resp)}",
    )
