"""Deterministic OCI content for the conformance tests: blobs, image manifests, indexes, artifacts.

Every builder returns the exact bytes that will be sent, so a test can compare what it pushed with
what it pulls byte for byte, and the sha256 digest of those bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
IMAGE_LAYER = "application/vnd.oci.image.layer.v1.tar"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
EMPTY_JSON_BYTES = b"{}"

# What a pulling client accepts: every manifest type these tests push.
MANIFEST_ACCEPT = ", ".join(
    [
        IMAGE_MANIFEST,
        IMAGE_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def deterministic_bytes(seed: str, size: int) -> bytes:
    """``size`` pseudo-random bytes that depend only on ``seed`` (sha256 in counter mode)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str = IMAGE_LAYER

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Manifest:
    """A manifest (image manifest or index) as raw bytes plus the blobs it needs pushed first."""

    data: bytes
    media_type: str
    blobs: tuple[Blob, ...] = field(default=())
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.data)
        return loaded


def layer(seed: str, size: int = 2048) -> Blob:
    return Blob(deterministic_bytes(f"layer:{seed}", size), IMAGE_LAYER)


def config(seed: str) -> Blob:
    body = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    return Blob(canonical_json(body), IMAGE_CONFIG)


def empty_config() -> Blob:
    return Blob(EMPTY_JSON_BYTES, EMPTY_JSON)


def image_manifest(
    seed: str,
    *,
    layers: int = 1,
    layer_size: int = 2048,
    config_blob: Blob | None = None,
    layer_blobs: list[Blob] | None = None,
    annotations: dict[str, str] | None = None,
    artifact_type: str | None = None,
    subject: Manifest | dict[str, Any] | None = None,
) -> Manifest:
    """An OCI image manifest with its config and layer blobs (pushed by ``push_image``)."""
    cfg = config_blob if config_blob is not None else config(seed)
    lyrs = (
        layer_blobs
        if layer_blobs is not None
        else [layer(f"{seed}:{i}", layer_size) for i in range(layers)]
    )
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "config": cfg.descriptor(),
        "layers": [b.descriptor() for b in lyrs],
    }
    if artifact_type is not None:
        body["artifactType"] = artifact_type
    if subject is not None:
        body["subject"] = subject.descriptor() if isinstance(subject, Manifest) else subject
    if annotations:
        body["annotations"] = annotations
    return Manifest(
        canonical_json(body),
        IMAGE_MANIFEST,
        blobs=(cfg, *lyrs),
        artifact_type=artifact_type,
        annotations=annotations,
    )


def artifact_manifest(
    seed: str,
    subject: Manifest | dict[str, Any],
    *,
    artifact_type: str | None = "application/vnd.example.sbom.v1",
    config_blob: Blob | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """An artifact: an image manifest with ``subject``, ``artifactType`` and one small layer.

    With ``artifact_type=None`` the config's media type says what it is (the pre-1.1 way), which
    the referrers API must report as the descriptor's ``artifactType``.
    """
    cfg = config_blob if config_blob is not None else empty_config()
    payload = Blob(deterministic_bytes(f"artifact:{seed}", 512), "application/vnd.example.data")
    return image_manifest(
        seed,
        config_blob=cfg,
        layer_blobs=[payload],
        annotations=annotations,
        artifact_type=artifact_type,
        subject=subject,
    )


def image_index(
    manifests: list[Manifest],
    *,
    annotations: dict[str, str] | None = None,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
) -> Manifest:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": IMAGE_INDEX,
        "manifests": [
            m.descriptor(platform={"architecture": "amd64", "os": f"linux{i}"})
            for i, m in enumerate(manifests)
        ],
    }
    if artifact_type is not None:
        body["artifactType"] = artifact_type
    if subject is not None:
        body["subject"] = subject.descriptor()
    if annotations:
        body["annotations"] = annotations
    return Manifest(
        canonical_json(body),
        IMAGE_INDEX,
        artifact_type=artifact_type,
        annotations=annotations,
    )


def missing_descriptor(seed: str, media_type: str = IMAGE_MANIFEST) -> dict[str, Any]:
    """A descriptor for content that was never pushed anywhere."""
    data = deterministic_bytes(f"missing:{seed}", 64)
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}
