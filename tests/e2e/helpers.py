"""Helpers for the end-to-end tests: running tools, speaking the /v2/ API with httpx (as the
registry's admin user, through the token flow), and looking at the server's blob storage on
disk."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.support.images import MEDIA_MANIFEST, OciImage, blob_path
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import Airlock

TOOL_TIMEOUT = 180
REGISTRY_NAME = "e2etests"  # the registry each e2e server gets (tests/e2e/conftest.py)


def admin_auth(server: Airlock, registry: str = REGISTRY_NAME) -> RegistryTokenAuth:
    """The token flow as ``registry``'s admin user, for httpx clients (several may share it)."""
    return RegistryTokenAuth(*server.admin_credentials(registry))


def admin_creds(server: Airlock, registry: str = REGISTRY_NAME) -> str:
    """``user:password`` of ``registry``'s admin user, for ``--creds`` and friends."""
    return ":".join(server.admin_credentials(registry))


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def run_tool(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = TOOL_TIMEOUT
) -> str:
    """Run podman/buildah/skopeo; fail the test with its output unless it exits 0."""
    done = subprocess.run(
        args,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def repo_name(label: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:50] or "test"
    return f"e2e/{slug}-{uuid.uuid4().hex[:8]}"


def absolute(client: httpx.Client, location: str) -> str:
    return urljoin(str(client.base_url).rstrip("/") + "/", location)


# --- /v2/ pushes and pulls ----------------------------------------------------------------------


def push_blob(client: httpx.Client, repo: str, data: bytes) -> str:
    """Monolithic upload (POST then PUT with the bytes); returns the digest."""
    digest = sha256_digest(data)
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    done = client.put(
        absolute(client, started.headers["location"]),
        params={"digest": digest},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text
    return digest


def push_manifest(
    client: httpx.Client, repo: str, reference: str, body: bytes, media_type: str = MEDIA_MANIFEST
) -> httpx.Response:
    return client.put(
        f"/v2/{repo}/manifests/{reference}", content=body, headers={"content-type": media_type}
    )


def push_image(client: httpx.Client, repo: str, image: OciImage, tag: str) -> None:
    """Push a single-platform image from an OCI layout over plain HTTP."""
    for digest in (image.config_digest, *image.layer_digests):
        pushed = push_blob(client, repo, blob_path(image.layout, digest).read_bytes())
        assert pushed == digest
    answer = push_manifest(client, repo, tag, image.manifest)
    assert answer.status_code == 201, answer.text
    assert answer.headers["docker-content-digest"] == image.manifest_digest


def pull_and_verify(client: httpx.Client, repo: str, reference: str) -> str:
    """GET a manifest and every blob it names; assert each hashes to its digest.

    Returns the manifest digest."""
    answer = client.get(f"/v2/{repo}/manifests/{reference}", headers={"accept": MEDIA_MANIFEST})
    assert answer.status_code == 200, answer.text
    digest = answer.headers["docker-content-digest"]
    assert sha256_digest(answer.content) == digest
    manifest = json.loads(answer.content)
    for descriptor in [manifest["config"], *manifest["layers"]]:
        blob = client.get(f"/v2/{repo}/blobs/{descriptor['digest']}")
        assert blob.status_code == 200, blob.text
        assert len(blob.content) == descriptor["size"]
        assert sha256_digest(blob.content) == descriptor["digest"]
    return digest


def image_manifest(
    config_digest: str, config_size: int, layers: list[tuple[str, int]], **notes: str
) -> bytes:
    """A small OCI image manifest; ``notes`` become annotations (to make distinct digests)."""
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
            for digest, size in layers
        ],
    }
    if notes:
        doc["annotations"] = dict(notes)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class BaseBlobs:
    """A config and a layer pushed to a repository, for tests that push many manifests."""

    config: tuple[str, int]
    layer: tuple[str, int]

    def manifest(self, **notes: str) -> bytes:
        return image_manifest(self.config[0], self.config[1], [self.layer], **notes)


def push_base_blobs(client: httpx.Client, repo: str) -> BaseBlobs:
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    layer = os.urandom(4096)
    return BaseBlobs(
        config=(push_blob(client, repo, config), len(config)),
        layer=(push_blob(client, repo, layer), len(layer)),
    )


# --- storage on disk ----------------------------------------------------------------------------


def blob_files(storage_root: Path) -> list[Path]:
    """Every file under ``storage/blobs``."""
    base = storage_root / "blobs"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def blob_file(storage_root: Path, digest: str) -> Path:
    algorithm, hex_part = digest.split(":", 1)
    return storage_root / "blobs" / algorithm / hex_part[:2] / hex_part


def upload_file(storage_root: Path, upload_location: str) -> Path:
    return storage_root / "uploads" / upload_location.rstrip("/").rsplit("/", 1)[-1]


# --- generated content --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """``chunks`` chunks of ``chunk_size`` bytes, each a shared random block stamped with its
    index: large content that is never held in memory at once, with a known digest."""

    chunks: int
    chunk_size: int = 1024 * 1024
    seed: bytes = b""

    @property
    def size(self) -> int:
        return self.chunks * self.chunk_size

    def _block(self) -> bytes:
        seed = self.seed or b"airlock-e2e"
        out = bytearray()
        counter = 0
        while len(out) < self.chunk_size:
            out += hashlib.sha512(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return bytes(out[: self.chunk_size])

    def chunk(self, index: int, block: bytes | None = None) -> bytes:
        block = block if block is not None else self._block()
        return index.to_bytes(8, "big") + block[8:]

    def iter_from(self, offset: int = 0) -> Iterator[bytes]:
        """The content from byte ``offset`` on, chunk by chunk."""
        block = self._block()
        first, skip = divmod(offset, self.chunk_size)
        for index in range(first, self.chunks):
            data = self.chunk(index, block)
            yield data[skip:] if index == first else data

    def digest(self) -> str:
        hasher = hashlib.sha256()
        for data in self.iter_from(0):
            hasher.update(data)
        return "sha256:" + hasher.hexdigest()
