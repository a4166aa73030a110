"""OCI value types: digests, names, tags and manifests parse or refuse with a clear error."""

from __future__ import annotations

import json

import pytest

from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.errors import (
    InvalidDigestError,
    InvalidManifestError,
    InvalidNameError,
    InvalidTagError,
    UnsupportedDigestError,
)
from airlock.oci.manifest import parse_manifest
from airlock.oci.names import check_name, check_tag

SHA = "sha256:" + "a" * 64


def test_digest_round_trip() -> None:
    digest = Digest.parse(SHA)
    assert digest.algorithm == "sha256"
    assert str(digest) == SHA
    assert str(Digest.of(b"")) == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_sha512_digest() -> None:
    digest = Digest.of(b"x", "sha512")
    assert Digest.parse(str(digest)) == digest


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:abc",
        "SHA256:" + "a" * 64,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
    ],
)
def test_invalid_digests(text: str) -> None:
    with pytest.raises(InvalidDigestError):
        Digest.parse(text)


def test_unsupported_algorithm() -> None:
    with pytest.raises(UnsupportedDigestError, match="sha256 or sha512"):
        Digest.parse("md5:" + "a" * 32)


@pytest.mark.parametrize("name", ["a", "library/node", "a.b/c_d/e__f", "x-y--z", "a" * 255])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "a/", "/a", "a//b", "a_-b", "a..b", "-a", "a" * 256, "a b", "a/../b"]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid repository name"):
        check_name(name)


@pytest.mark.parametrize("tag", ["v1", "latest", "1.0.0-rc_1", "_x", "A" * 128])
def test_valid_tags(tag: str) -> None:
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidTagError):
        check_tag(tag)


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data)}


def test_manifest_keeps_raw_bytes_and_digest() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": _descriptor("application/vnd.oci.image.config.v1+json", b"{}"),
        "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar", b"layer")],
        "subject": _descriptor(mediatypes.OCI_MANIFEST, b"subject"),
        "artifactType": "application/example",
    }
    raw = json.dumps(doc, indent=3).encode()
    manifest = parse_manifest(raw, mediatypes.OCI_MANIFEST)
    assert manifest.raw == raw
    assert manifest.digest == Digest.of(raw)
    assert [str(d.digest) for d in manifest.blob_references()] == [
        str(Digest.of(b"{}")),
        str(Digest.of(b"layer")),
    ]
    assert manifest.subject is not None
    assert manifest.effective_artifact_type == "application/example"


def test_index_children() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [_descriptor(mediatypes.OCI_MANIFEST, b"m1")],
    }
    manifest = parse_manifest(json.dumps(doc).encode())
    assert manifest.is_index
    assert manifest.blob_references() == []
    assert [str(c.digest) for c in manifest.children] == [str(Digest.of(b"m1"))]


def test_non_distributable_layers_need_no_blob() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.DOCKER_MANIFEST,
        "config": _descriptor("application/vnd.docker.container.image.v1+json", b"{}"),
        "layers": [_descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", b"f")],
    }
    manifest = parse_manifest(json.dumps(doc).encode(), mediatypes.DOCKER_MANIFEST)
    assert len(manifest.blob_references()) == 1


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (b"not json", None, "not valid JSON"),
        (b"[]", None, "JSON object"),
        (b'{"schemaVersion": 1}', None, "schemaVersion must be 2"),
        (
            b'{"schemaVersion": 2, "mediaType": "text/plain"}',
            None,
            "unsupported manifest media type",
        ),
        (
            json.dumps(
                {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
            ).encode(),
            mediatypes.OCI_MANIFEST,
            "does not match Content-Type",
        ),
        (b'{"schemaVersion": 2, "layers": []}', mediatypes.OCI_MANIFEST, "config"),
        (
            b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:1", "size": 1}}',
            mediatypes.OCI_MANIFEST,
            "config.digest",
        ),
        (
            b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:1", "size": -1}}',
            mediatypes.OCI_MANIFEST,
            "config.size",
        ),
    ],
)
def test_invalid_manifests(raw: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(InvalidManifestError, match=message):
        parse_manifest(raw, content_type)
