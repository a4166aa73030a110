"""Manifests and indexes parsed from their raw bytes.

The raw bytes are kept: a manifest's digest is always computed from what was pushed, never
from a re-serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airlock.common.jsonio import JSONLimitError, loads_bounded
from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.errors import InvalidDigestError, InvalidManifestError, UnsupportedDigestError


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    platform: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        if self.platform:
            out["platform"] = self.platform
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest or an index. ``children`` are the manifests an index lists."""

    raw: bytes
    media_type: str
    digest: Digest
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in mediatypes.INDEXES

    @property
    def effective_artifact_type(self) -> str | None:
        """What the referrers API reports: artifactType, else the config's media type."""
        if self.artifact_type:
            return self.artifact_type
        if self.config is not None and not self.is_index:
            return self.config.media_type
        return None

    def blob_references(self) -> list[Descriptor]:
        """Blobs the registry must hold before it accepts this manifest."""
        blobs = [] if self.config is None else [self.config]
        blobs.extend(
            layer
            for layer in self.layers
            if layer.media_type not in mediatypes.NON_DISTRIBUTABLE_LAYERS
        )
        return blobs


def parse_manifest(
    raw: bytes, content_type: str | None = None, digest_algorithm: str = "sha256"
) -> Manifest:
    """Parse and validate ``raw`` as a manifest of ``content_type`` (or its own mediaType)."""
    try:
        # Bounded: a client's manifest must not exhaust the recursion limit (a 500) nor carry
        # lone surrogates that cannot be stored or re-encoded.
        doc = loads_bounded(raw)
    except JSONLimitError as exc:
        raise InvalidManifestError(f"manifest refused: {exc}") from None
    except ValueError as exc:  # malformed JSON or bad UTF-8
        raise InvalidManifestError(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidManifestError("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise InvalidManifestError("manifest schemaVersion must be 2")
    media_type = _media_type(doc, content_type)
    _check_unambiguous(doc, media_type)
    digest = Digest.of(raw, digest_algorithm)
    subject = _descriptor(doc["subject"], "subject") if "subject" in doc else None
    artifact_type = _optional_str(doc, "artifactType")
    annotations = _annotations(doc.get("annotations"), "annotations") or {}
    if media_type in mediatypes.INDEXES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise InvalidManifestError("index must have a 'manifests' list")
        return Manifest(
            raw=raw,
            media_type=media_type,
            digest=digest,
            children=tuple(_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children)),
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )
    if "config" not in doc:
        raise InvalidManifestError("image manifest must have a 'config' descriptor")
    layers = doc.get("layers", [])
    if not isinstance(layers, list):
        raise InvalidManifestError("manifest 'layers' must be a list")
    return Manifest(
        raw=raw,
        media_type=media_type,
        digest=digest,
        config=_descriptor(doc["config"], "config"),
        layers=tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)),
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )


def _check_unambiguous(doc: dict[str, Any], media_type: str) -> None:
    """Refuse a document that reads as both an image manifest and an index (CVE-2021-41190):
    two clients could otherwise resolve one digest to different content."""
    if "layers" in doc and "manifests" in doc:
        raise InvalidManifestError(
            "ambiguous manifest: it has both 'layers' and 'manifests' (CVE-2021-41190); "
            "an image manifest has 'config' and 'layers', an index has 'manifests'"
        )
    if media_type in mediatypes.INDEXES:
        stray = [key for key in ("config", "layers") if key in doc]
        if stray:
            raise InvalidManifestError(
                f"ambiguous manifest: index ({media_type}) has image manifest field(s) "
                f"{', '.join(repr(k) for k in stray)} (CVE-2021-41190); remove them"
            )
    elif "manifests" in doc:
        raise InvalidManifestError(
            f"ambiguous manifest: image manifest ({media_type}) has the index field "
            "'manifests' (CVE-2021-41190); remove it or push it as an index"
        )


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    header = (content_type or "").split(";", 1)[0].strip() or None
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifestError("manifest mediaType must be a string")
    if declared and header and declared != header:
        raise InvalidManifestError(
            f"manifest mediaType {declared!r} does not match Content-Type {header!r}"
        )
    media_type = declared or header
    if media_type is None:
        # An OCI manifest may omit mediaType; tell index and manifest apart by shape.
        media_type = mediatypes.OCI_INDEX if "manifests" in doc else mediatypes.OCI_MANIFEST
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise InvalidManifestError(
            f"unsupported manifest media type {media_type!r}; supported: "
            + ", ".join(sorted(mediatypes.MANIFEST_TYPES))
        )
    return media_type


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InvalidManifestError(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifestError(f"{where}.mediaType must be a non-empty string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifestError(f"{where}.size must be a non-negative integer")
    try:
        digest = Digest.parse(str(value.get("digest", "")))
    except (InvalidDigestError, UnsupportedDigestError) as exc:
        raise InvalidManifestError(f"{where}.digest: {exc}") from None
    platform = value.get("platform")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=_optional_str(value, "artifactType"),
        annotations=_annotations(value.get("annotations"), f"{where}.annotations"),
        platform=platform if isinstance(platform, dict) else None,
    )


def _optional_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidManifestError(f"{key} must be a string")
    return value


def _annotations(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidManifestError(f"{where} must map strings to strings")
    return dict(value)
