"""Blob uploads over plain HTTP: chunked, resumed, and cross-repository mounts."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.e2e.conftest import REGISTRY_NAME
from tests.e2e.helpers import (
    absolute,
    blob_file,
    blob_files,
    pull_and_verify,
    push_image,
    repo_name,
    sha256_digest,
    upload_file,
)
from tests.support.images import OciImage
from tests.support.registry_auth import RegistryTokenAuth, parse_challenge
from tests.support.servers import Airlock


def patch_chunk(client: httpx.Client, location: str, data: bytes, start: int) -> httpx.Response:
    return client.patch(
        absolute(client, location),
        content=data,
        headers={
            "content-type": "application/octet-stream",
            "content-range": f"{start}-{start + len(data) - 1}",
        },
    )


def test_chunked_upload_with_content_range(client: httpx.Client, repo: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 12345)
    digest = sha256_digest(data)
    sizes = [1, 1024 * 1024, 777, 1024 * 1024 + 1]
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    offset = 0
    for size in [*sizes, len(data) - sum(sizes)]:
        answer = patch_chunk(client, location, data[offset : offset + size], offset)
        assert answer.status_code == 202, answer.text
        offset += size
        assert answer.headers["range"] == f"0-{offset - 1}"
        location = answer.headers["location"]
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404  # not before the PUT
    done = client.put(absolute(client, location), params={"digest": digest})
    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == digest
    blob = client.get(f"/v2/{repo}/blobs/{digest}")
    assert blob.status_code == 200
    assert blob.content == data
    head = client.head(f"/v2/{repo}/blobs/{digest}")
    assert int(head.headers["content-length"]) == len(data)


def test_resumed_upload_continues_from_the_reported_offset(
    registry_url: str, repo: str, storage_root: Path, registry_auth: RegistryTokenAuth
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 999)
    digest = sha256_digest(data)
    first_part = 1024 * 1024 + 17
    with httpx.Client(base_url=registry_url, timeout=60, auth=registry_auth) as first:
        started = first.post(f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202
        location = started.headers["location"]
        answer = patch_chunk(first, location, data[:first_part], 0)
        assert answer.status_code == 202, answer.text
    assert upload_file(storage_root, location).stat().st_size == first_part

    # A new connection, as after a network failure: ask where the upload stands.
    with httpx.Client(base_url=registry_url, timeout=60, auth=registry_auth) as second:
        status = second.get(absolute(second, location))
        assert status.status_code == 204, status.text
        assert status.headers["range"] == f"0-{first_part - 1}"
        resume_at = int(status.headers["range"].split("-")[1]) + 1

        # A chunk that does not start at the offset is refused and changes nothing.
        wrong = patch_chunk(second, location, data[resume_at + 10 :], resume_at + 10)
        assert wrong.status_code == 416, wrong.text
        assert wrong.headers["range"] == f"0-{first_part - 1}"
        again = second.get(absolute(second, location))
        assert again.headers["range"] == f"0-{first_part - 1}"

        middle = resume_at + 500_000
        answer = patch_chunk(second, location, data[resume_at:middle], resume_at)
        assert answer.status_code == 202, answer.text
        assert answer.headers["range"] == f"0-{middle - 1}"
        # The last chunk goes with the closing PUT.
        done = second.put(
            absolute(second, answer.headers["location"]),
            params={"digest": digest},
            content=data[middle:],
            headers={
                "content-type": "application/octet-stream",
                "content-range": f"{middle}-{len(data) - 1}",
            },
        )
        assert done.status_code == 201, done.text
        assert second.get(f"/v2/{repo}/blobs/{digest}").content == data
        # The session is gone once the blob is published.
        assert second.get(absolute(second, location)).status_code == 404
    assert not upload_file(storage_root, location).exists()
    assert blob_file(storage_root, digest).read_bytes() == data


def test_wrong_digest_publishes_nothing(
    client: httpx.Client, repo: str, storage_root: Path
) -> None:
    data = os.urandom(100_000)
    claimed = sha256_digest(b"something else " + data)
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    location = started.headers["location"]
    assert patch_chunk(client, location, data, 0).status_code == 202
    done = client.put(absolute(client, location), params={"digest": claimed})
    assert done.status_code == 400
    assert done.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert client.head(f"/v2/{repo}/blobs/{claimed}").status_code == 404
    assert not blob_file(storage_root, claimed).exists()
    assert not blob_file(storage_root, sha256_digest(data)).exists()
    assert not upload_file(storage_root, location).exists()


def test_cross_repository_mount_writes_no_blob_file(
    client: httpx.Client,
    busybox_image: OciImage,
    storage_root: Path,
    registry_url: str,
    registry_auth: RegistryTokenAuth,
) -> None:
    source, target = repo_name("mount-a"), repo_name("mount-b")
    push_image(client, source, busybox_image, "v1")
    layer = busybox_image.layer_digests[0]
    layer_file = blob_file(storage_root, layer)
    inode = layer_file.stat().st_ino
    files_before = blob_files(storage_root)
    assert client.head(f"/v2/{target}/blobs/{layer}").status_code == 404

    # A mount needs pull on the source as well, which a client asks for up front.
    registry_auth.prefetch(registry_url, target, "push", also=[f"repository:{source}:pull"])
    mounted = client.post(f"/v2/{target}/blobs/uploads/", params={"mount": layer, "from": source})
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["docker-content-digest"] == layer
    assert mounted.headers["location"].endswith(f"/v2/{target}/blobs/{layer}")
    # The config too, then the manifest: the image exists in the target without an upload.
    config = client.post(
        f"/v2/{target}/blobs/uploads/",
        params={"mount": busybox_image.config_digest, "from": source},
    )
    assert config.status_code == 201, config.text
    put = client.put(
        f"/v2/{target}/manifests/v1",
        content=busybox_image.manifest,
        headers={"content-type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert put.status_code == 201, put.text

    assert blob_files(storage_root) == files_before
    assert layer_file.stat().st_ino == inode
    assert pull_and_verify(client, target, "v1") == busybox_image.manifest_digest
    head = client.head(f"/v2/{target}/blobs/{layer}")
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == layer_file.stat().st_size


def test_mount_from_a_repository_without_the_blob_opens_an_upload(
    client: httpx.Client,
    busybox_image: OciImage,
    storage_root: Path,
    registry_url: str,
    registry_auth: RegistryTokenAuth,
) -> None:
    holder, other, target = repo_name("holder"), repo_name("empty"), repo_name("target")
    push_image(client, holder, busybox_image, "v1")
    layer = busybox_image.layer_digests[0]
    # Pull on ``other`` is granted, so only its lack of the blob can prevent the mount.
    registry_auth.prefetch(registry_url, target, "push", also=[f"repository:{other}:pull"])
    # ``other`` never received the blob: no mount, a plain upload session (spec: 202).
    answer = client.post(f"/v2/{target}/blobs/uploads/", params={"mount": layer, "from": other})
    assert answer.status_code == 202, answer.text
    assert client.head(f"/v2/{target}/blobs/{layer}").status_code == 404
    cancel = client.delete(absolute(client, answer.headers["location"]))
    assert cancel.status_code == 204
    assert not upload_file(storage_root, answer.headers["location"]).exists()


def test_mount_challenge_names_the_source_repository(
    airlock: Airlock, registry_url: str, client: httpx.Client, busybox_image: OciImage
) -> None:
    source, target = repo_name("challenge-from"), repo_name("challenge-to")
    push_image(client, source, busybox_image, "v1")
    layer = busybox_image.layer_digests[0]
    params = {"mount": layer, "from": source}
    with httpx.Client(base_url=registry_url, timeout=30) as anonymous:
        answer = anonymous.post(f"/v2/{target}/blobs/uploads/", params=params)
        plain = anonymous.post(f"/v2/{target}/blobs/uploads/")
    assert answer.status_code == 401, answer.text
    challenge = parse_challenge(answer.headers["www-authenticate"])
    assert challenge is not None
    assert challenge["scope"] == f"repository:{target}:pull,push repository:{source}:pull"
    # Without a mount the challenge names the target only.
    plain_challenge = parse_challenge(plain.headers["www-authenticate"])
    assert plain_challenge is not None
    assert plain_challenge["scope"] == f"repository:{target}:pull,push"

    # A client that only follows the challenge gets a token that lets the mount happen.
    follower = RegistryTokenAuth(*airlock.admin_credentials(REGISTRY_NAME))
    with httpx.Client(base_url=registry_url, timeout=30, auth=follower) as fresh:
        mounted = fresh.post(f"/v2/{target}/blobs/uploads/", params=params)
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["docker-content-digest"] == layer
    assert follower.token_requests == 1
    assert client.head(f"/v2/{target}/blobs/{layer}").status_code == 200
