"""Build small OCI images in pure Python, for tests that need something to push and run.

There is no Docker Hub here, so base images are made from Debian's ``busybox-static``:
a layer holding ``/bin/busybox`` and ``/bin/sh -> busybox``. Everything is deterministic
(fixed mtimes, sorted entries, gzip without a timestamp), so the same call gives the same
digests on every machine with the same busybox.

The result is an OCI image layout folder (``oci-layout``, ``index.json``, ``blobs/sha256``)
that skopeo reads as ``oci:<folder>:<tag>``; ``push_layout`` copies it into a registry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from airlock.engine import engine_env

BUSYBOX = Path("/bin/busybox")
HELLO_CMD = ("/bin/sh", "-c", "echo hello from airlock")
HELLO_OUTPUT = "hello from airlock"

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

# 2024-01-01T00:00:00Z, for every mtime and "created" field.
EPOCH = 1704067200
CREATED = "2024-01-01T00:00:00Z"


def host_arch() -> str:
    """The host's architecture in OCI terms (``amd64``, ``arm64``, ...)."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes
    platform: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, object]:
        desc: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
        }
        if self.platform:
            desc["platform"] = dict(self.platform)
        if self.annotations:
            desc["annotations"] = dict(self.annotations)
        return desc


@dataclass(frozen=True)
class Layer:
    blob: Blob
    diff_id: str


@dataclass(frozen=True)
class OciImage:
    """One single-platform image inside an OCI layout."""

    layout: Path
    tag: str
    manifest_digest: str
    config_digest: str
    layer_digests: tuple[str, ...]
    manifest: bytes = field(repr=False)

    @property
    def reference(self) -> str:
        """``oci:<layout>:<tag>`` for skopeo."""
        return f"oci:{self.layout}:{self.tag}"


@dataclass(frozen=True)
class OciIndexImage:
    """A multi-platform image index inside an OCI layout."""

    layout: Path
    tag: str
    index_digest: str
    manifests: dict[str, str]  # "linux/amd64" -> manifest digest
    index: bytes = field(repr=False)

    @property
    def reference(self) -> str:
        return f"oci:{self.layout}:{self.tag}"


# --- layers -----------------------------------------------------------------------------------


def _tar_info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = link
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def make_layer(
    files: Mapping[str, bytes],
    *,
    symlinks: Mapping[str, str] | None = None,
    executables: Sequence[str] = (),
) -> Layer:
    """A gzipped tar layer. Paths are relative (``bin/busybox``); parent folders are added."""
    symlinks = symlinks or {}
    folders = {
        "/".join(parts[:i])
        for path in [*files, *symlinks]
        for parts in [path.strip("/").split("/")]
        for i in range(1, len(parts))
    }
    entries: list[tuple[str, tarfile.TarInfo, bytes | None]] = []
    for folder in folders:
        entries.append((folder, _tar_info(folder + "/", tarfile.DIRTYPE, 0o755), None))
    for path, data in files.items():
        name = path.strip("/")
        mode = 0o755 if name in executables else 0o644
        entries.append((name, _tar_info(name, tarfile.REGTYPE, mode, len(data)), data))
    for path, target in symlinks.items():
        name = path.strip("/")
        entries.append((name, _tar_info(name, tarfile.SYMTYPE, 0o777, link=target), None))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for _, info, content in sorted(entries, key=lambda entry: entry[0]):
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    uncompressed = raw.getvalue()
    compressed = gzip.compress(uncompressed, compresslevel=6, mtime=0)
    return Layer(blob=Blob(MEDIA_LAYER, compressed), diff_id=sha256_digest(uncompressed))


def busybox_layer(busybox: Path = BUSYBOX) -> Layer:
    """``/bin/busybox`` (from busybox-static) and ``/bin/sh -> busybox``."""
    return make_layer(
        {"bin/busybox": busybox.read_bytes()},
        symlinks={"bin/sh": "busybox"},
        executables=["bin/busybox"],
    )


# --- config, manifest, index ------------------------------------------------------------------


def make_config(
    layers: Sequence[Layer],
    *,
    arch: str,
    cmd: Sequence[str] = HELLO_CMD,
    env: Sequence[str] = ("PATH=/bin",),
    labels: Mapping[str, str] | None = None,
) -> Blob:
    config: dict[str, object] = {
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": list(cmd), "Env": list(env), "Labels": dict(labels or {})},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": "tests/support/images.py"}] * len(layers),
    }
    return Blob(MEDIA_CONFIG, canonical_json(config))


def make_manifest(config: Blob, layers: Sequence[Layer]) -> Blob:
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
    }
    return Blob(MEDIA_MANIFEST, canonical_json(manifest))


def make_index(manifests: Sequence[Blob]) -> Blob:
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [m.descriptor() for m in manifests],
    }
    return Blob(MEDIA_INDEX, canonical_json(index))


# --- layout -----------------------------------------------------------------------------------


def write_blob(layout: Path, data: bytes) -> str:
    digest = sha256_digest(data)
    path = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return digest


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, hex_part = digest.split(":", 1)
    return layout / "blobs" / algorithm / hex_part


def add_to_layout(layout: Path, top: Blob, tag: str, blobs: Sequence[Blob]) -> None:
    """Write ``blobs`` and ``top``, and point ``tag`` in index.json at ``top``."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    for blob in [*blobs, top]:
        write_blob(layout, blob.data)
    index_path = layout / "index.json"
    existing: list[dict[str, object]] = []
    if index_path.exists():
        existing = json.loads(index_path.read_bytes())["manifests"]
    kept = [d for d in existing if _ref_name(d) != tag]
    tagged = Blob(top.media_type, top.data, annotations={REF_NAME: tag}).descriptor()
    kept.append(tagged)
    kept.sort(key=lambda d: _ref_name(d) or "")
    index_path.write_bytes(
        canonical_json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": kept})
    )


def _ref_name(descriptor: Mapping[str, object]) -> str | None:
    annotations = descriptor.get("annotations")
    if isinstance(annotations, dict):
        name = annotations.get(REF_NAME)
        return name if isinstance(name, str) else None
    return None


def build_busybox_image(
    layout: Path,
    *,
    tag: str = "latest",
    cmd: Sequence[str] = HELLO_CMD,
    extra_files: Mapping[str, bytes] | None = None,
    labels: Mapping[str, str] | None = None,
    arch: str | None = None,
) -> OciImage:
    """A single-platform busybox image, tagged ``tag`` in the layout at ``layout``.

    ``extra_files`` (``{"etc/colour": b"green"}``) go into a second layer, which gives a
    different digest per variant: what a test needs to play "the base image changed".
    """
    layers = [busybox_layer()]
    if extra_files:
        layers.append(make_layer(extra_files))
    config = make_config(layers, arch=arch or host_arch(), cmd=cmd, labels=labels)
    manifest = make_manifest(config, layers)
    add_to_layout(layout, manifest, tag, [config, *(layer.blob for layer in layers)])
    return OciImage(
        layout=layout,
        tag=tag,
        manifest_digest=manifest.digest,
        config_digest=config.digest,
        layer_digests=tuple(layer.blob.digest for layer in layers),
        manifest=manifest.data,
    )


def build_multiplatform_image(
    layout: Path,
    *,
    tag: str = "latest",
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
    cmd: Sequence[str] = HELLO_CMD,
) -> OciIndexImage:
    """An image index with one manifest per platform.

    Every platform reuses the same busybox bytes (only the host's entry is meant to run);
    each gets a small ``etc/platform`` layer and its own config, so the digests differ.
    """
    base = busybox_layer()
    manifests: list[Blob] = []
    blobs: list[Blob] = [base.blob]
    for spec in platforms:
        os_name, arch = spec.split("/")[:2]
        marker = make_layer({"etc/platform": f"{spec}\n".encode()})
        config = make_config([base, marker], arch=arch, cmd=cmd)
        manifest = make_manifest(config, [base, marker])
        blobs += [marker.blob, config, manifest]
        manifests.append(
            Blob(MEDIA_MANIFEST, manifest.data, platform={"os": os_name, "architecture": arch})
        )
    index = make_index(manifests)
    add_to_layout(layout, index, tag, blobs)
    return OciIndexImage(
        layout=layout,
        tag=tag,
        index_digest=index.digest,
        manifests={spec: m.digest for spec, m in zip(platforms, manifests, strict=True)},
        index=index.data,
    )


# --- tools ------------------------------------------------------------------------------------


def podman_env(tmp_path: Path) -> dict[str, str]:
    """``os.environ`` plus Airlock's engine configuration under ``tmp_path/airlock-home``.

    Podman, buildah and skopeo run with this environment use a private image store and
    never touch the user's configuration or logins.
    """
    env = dict(os.environ)
    env.update(engine_env(tmp_path / "airlock-home"))
    return env


def push_layout(
    source: OciImage | OciIndexImage,
    destination: str,
    *,
    env: Mapping[str, str] | None = None,
    creds: str | None = None,
) -> None:
    """``skopeo copy --all`` the tagged image into ``destination`` (``host:port/repo:tag``)
    over plain HTTP."""
    command = [
        "skopeo",
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        source.reference,
        f"docker://{destination}",
    ]
    if creds is not None:
        command[2:2] = ["--dest-creds", creds]
    subprocess.run(
        command,
        env=dict(env) if env is not None else None,
        check=True,
        capture_output=True,
        timeout=300,
    )
