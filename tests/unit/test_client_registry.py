"""RegistryClient's requests: blobs verified before the last chunk, manifests, tags, uploads."""

from __future__ import annotations

import json

import httpx
import pytest

from airlock.client import (
    DigestMismatchError,
    NotFoundError,
    ProgressEvent,
    RegistryClient,
    copy_image,
)
from tests.support.fake_registry import MANIFEST, REGISTRY, FakeRegistry, sha256

INDEX = "application/vnd.oci.image.index.v1+json"


def client_for(fake: FakeRegistry) -> RegistryClient:
    return RegistryClient(REGISTRY, transport=fake.transport())


def manifest_for(config: bytes, *layers: bytes) -> bytes:
    def desc(data: bytes) -> dict[str, object]:
        return {"mediaType": "application/octet-stream", "digest": sha256(data), "size": len(data)}

    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": desc(config),
        "layers": [desc(layer) for layer in layers],
    }
    return json.dumps(doc).encode()


def test_iter_blob_streams_and_verifies() -> None:
    fake = FakeRegistry()
    data = bytes(range(256)) * 40
    digest = fake.add_blob("app", data)
    with client_for(fake) as client:
        chunks = list(client.iter_blob("app", digest, chunk_size=1000))
    assert b"".join(chunks) == data and len(chunks) == 11


def test_iter_blob_digest_mismatch_withholds_the_last_chunk() -> None:
    fake = FakeRegistry()
    data = b"x" * 5000
    claimed = sha256(b"something else")
    fake.blobs[("app", claimed)] = data
    received: list[bytes] = []
    with client_for(fake) as client, pytest.raises(DigestMismatchError) as caught:
        for chunk in client.iter_blob("app", claimed, chunk_size=1000):
            received.append(chunk)
    assert len(received) == 4 and sum(map(len, received)) == 4000  # never the 5th
    assert caught.value.digest == claimed and claimed in str(caught.value)


def test_iter_blob_short_body_is_refused() -> None:
    fake = FakeRegistry()
    data = b"y" * 3000
    digest = fake.add_blob("app", data)
    with client_for(fake) as client, pytest.raises(DigestMismatchError, match="3000 bytes"):
        list(client.iter_blob("app", digest, size=4000))


def test_missing_blob_is_not_found() -> None:
    fake = FakeRegistry()
    with client_for(fake) as client:
        assert client.blob_size("app", sha256(b"none")) is None
        with pytest.raises(NotFoundError) as caught:
            list(client.iter_blob("app", sha256(b"none")))
    assert caught.value.codes == ["BLOB_UNKNOWN"]


def test_manifest_by_digest_is_verified() -> None:
    fake = FakeRegistry()
    raw = manifest_for(b"config")
    digest = fake.add_manifest("app", "v1", raw)
    with client_for(fake) as client:
        manifest = client.get_manifest("app", digest)
        assert manifest.raw == raw and str(manifest.digest) == digest
        forged = sha256(b"another manifest")
        fake.manifests[("app", forged)] = (raw, MANIFEST)
        with pytest.raises(DigestMismatchError):
            client.get_manifest("app", forged)


def test_manifest_by_tag_and_head() -> None:
    fake = FakeRegistry()
    raw = manifest_for(b"config", b"layer")
    digest = fake.add_manifest("app", "v1", raw)
    with client_for(fake) as client:
        head = client.head_manifest("app", "v1")
        assert head is not None and str(head.digest) == digest and head.size == len(raw)
        assert head.media_type == MANIFEST
        assert client.head_manifest("app", "v2") is None
        with pytest.raises(NotFoundError, match="MANIFEST_UNKNOWN"):
            client.get_manifest("app", "v2")
        manifest = client.get_manifest("app", "v1")
    assert [str(layer.digest) for layer in manifest.layers] == [sha256(b"layer")]
    get = fake.sent("GET", "/manifests/")[0]
    assert INDEX in get.headers["accept"] and MANIFEST in get.headers["accept"]


def test_list_tags_follows_link_pagination() -> None:
    fake = FakeRegistry(tags_page=2)
    for tag in ["a", "b", "c", "d", "e"]:
        fake.add_manifest("app", tag, manifest_for(tag.encode()))
    with client_for(fake) as client:
        assert client.list_tags("app") == ["a", "b", "c", "d", "e"]
    assert len(fake.sent("GET", "/tags/list")) == 3


def test_monolithic_upload_and_skip_existing() -> None:
    fake = FakeRegistry()
    data = b"layer bytes" * 100
    with client_for(fake) as client:
        assert client.upload_blob("app", sha256(data), iter([data[:500], data[500:]])) is True
        assert client.upload_blob("app", sha256(data), iter([data])) is False
    assert fake.blobs[("app", sha256(data))] == data
    assert len(fake.sent("POST")) == 1 and len(fake.sent("PUT")) == 1


def test_chunked_upload_sends_content_ranges() -> None:
    fake = FakeRegistry()
    data = b"0123456789"
    with client_for(fake) as client:
        client.upload_blob("app", sha256(data), [b"012", b"3456789"], chunk_size=4)
    ranges = [r.headers["content-range"] for r in fake.sent("PATCH")]
    assert ranges == ["0-3", "4-7", "8-9"]
    assert fake.blobs[("app", sha256(data))] == data


def test_upload_with_wrong_digest_is_a_digest_mismatch() -> None:
    fake = FakeRegistry()
    with client_for(fake) as client, pytest.raises(DigestMismatchError):
        client.upload_blob("app", sha256(b"other"), [b"data"])


def test_mount_falls_back_and_cancels_the_upload() -> None:
    fake = FakeRegistry()
    digest = fake.add_blob("source", b"shared")
    with client_for(fake) as client:
        assert client.mount_blob("target", digest, "source") is True
        assert client.mount_blob("target", sha256(b"nowhere"), "source") is False
    assert len(fake.sent("DELETE")) == 1 and fake.uploads == {}


def test_put_manifest_returns_its_digest() -> None:
    fake = FakeRegistry()
    raw = manifest_for(b"c")
    with client_for(fake) as client:
        assert client.put_manifest("app", "v1", raw, MANIFEST) == sha256(raw)
    assert fake.manifests[("app", "v1")] == (raw, MANIFEST)


def test_copy_image_of_an_index_skips_what_the_target_has() -> None:
    source, target = FakeRegistry(), FakeRegistry()
    shared = source.add_blob("src", b"busybox layer")
    children = []
    for arch in ("amd64", "arm64"):
        config = arch.encode()
        source.add_blob("src", config)
        source.add_blob("src", b"marker " + config)
        raw = manifest_for(config, b"busybox layer", b"marker " + config)
        children.append(
            {
                "mediaType": MANIFEST,
                "digest": source.add_manifest("src", arch, raw),
                "size": len(raw),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": children}).encode()
    index_digest = source.add_manifest("src", "v1", index, INDEX)
    target.blobs[("dst", shared)] = b"busybox layer"
    events: list[ProgressEvent] = []
    with (
        client_for(source) as src,
        RegistryClient("target.test", transport=target.transport()) as dst,
    ):
        result = copy_image(src, "src", "v1", dst, "dst", ["v1", "stable"], progress=events.append)
    assert result.digest == index_digest and result.media_type == INDEX
    assert (result.blobs_copied, result.blobs_skipped, result.blobs_mounted) == (4, 1, 0)
    assert target.manifests[("dst", "stable")] == (index, INDEX)
    assert all((("dst", c["digest"]) in target.manifests) for c in children)
    assert {e.kind for e in events} >= {"blob-start", "blob-done", "blob-skipped", "manifest"}
    assert result.bytes_copied == sum(len(b) for (r, _), b in target.blobs.items()) - len(
        b"busybox layer"
    )


def test_copy_stops_on_a_corrupt_layer_and_puts_no_manifest() -> None:
    source, target = FakeRegistry(), FakeRegistry()
    good = b"layer"
    source.add_blob("src", b"cfg")
    source.blobs[("src", sha256(good))] = b"tampered"
    source.add_manifest("src", "v1", manifest_for(b"cfg", good))
    with (
        client_for(source) as src,
        RegistryClient("target.test", transport=target.transport()) as dst,
        pytest.raises(DigestMismatchError),
    ):
        copy_image(src, "src", "v1", dst, "dst", ["v1"])
    assert ("dst", sha256(good)) not in target.blobs
    assert not target.manifests


def test_redirected_blob_download_drops_the_token() -> None:
    fake = FakeRegistry(mode="bearer")
    digest = sha256(b"on the cdn")

    def cdn(request: httpx.Request) -> httpx.Response | None:
        if request.url.host == "cdn.test":
            return httpx.Response(200, content=b"on the cdn")
        if request.url.path.endswith(digest) and "authorization" in request.headers:
            return httpx.Response(307, headers={"Location": "https://cdn.test/blob?sig=1"})
        return None

    fake.hooks.append(cdn)
    with client_for(fake) as client:
        assert b"".join(client.iter_blob("app", digest)) == b"on the cdn"
    (at_cdn,) = [r for r in fake.requests if r.url.host == "cdn.test"]
    assert "authorization" not in at_cdn.headers
