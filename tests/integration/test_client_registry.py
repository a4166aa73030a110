"""airlock.client against real registries: Airlock (token auth) and Debian's docker-registry
(CNCF Distribution, anonymous). Images are seeded with skopeo from tests/support/images.py."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.client import AuthenticationError, Credentials, RegistryClient, copy_image
from airlock.engine import EnginePaths
from tests.support.images import (
    build_busybox_image,
    build_multiplatform_image,
    podman_env,
    push_layout,
)
from tests.support.servers import (
    Airlock,
    Distribution,
    free_port,
    start_airlock,
    start_distribution,
)

pytestmark = pytest.mark.podman
REGISTRY = "clienttests"


@pytest.fixture(scope="module")
def airlock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    server = start_airlock(tmp_path_factory.mktemp("client-home"))
    try:
        server.create_registry(REGISTRY, port=free_port())
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    server = start_distribution(tmp_path_factory.mktemp("client-dist"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(airlock: Airlock) -> Credentials:
    return Credentials(*airlock.admin_credentials(REGISTRY))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield podman_env(tmp_path)
    shutil.rmtree(EnginePaths.of(tmp_path / "airlock-home").run_dir, ignore_errors=True)


def host(url: str) -> str:
    return url.removeprefix("http://")


@pytest.fixture
def airlock_client(airlock: Airlock, admin: Credentials) -> Iterator[RegistryClient]:
    with RegistryClient(host(airlock.registries[REGISTRY]), credentials=admin, insecure=True) as c:
        yield c


@pytest.fixture
def dist_client(distribution: Distribution) -> Iterator[RegistryClient]:
    with RegistryClient(host(distribution.url), insecure=True) as client:
        yield client


def test_copy_single_image_from_airlock_to_distribution(
    tmp_path: Path,
    env: dict[str, str],
    airlock: Airlock,
    admin: Credentials,
    airlock_client: RegistryClient,
    dist_client: RegistryClient,
) -> None:
    image = build_busybox_image(tmp_path / "layout", tag="v1", extra_files={"etc/a": b"single"})
    source = host(airlock.registries[REGISTRY])
    push_layout(image, f"{source}/single:v1", env=env, creds=f"{admin.username}:{admin.password}")

    result = copy_image(airlock_client, "single", "v1", dist_client, "copied/single", ["v1"])

    assert result.digest == image.manifest_digest
    assert (result.blobs_copied, result.blobs_skipped) == (3, 0)  # config and two layers
    head = dist_client.head_manifest("copied/single", "v1")
    assert head is not None and str(head.digest) == image.manifest_digest
    for digest in (image.config_digest, *image.layer_digests):
        data = b"".join(dist_client.iter_blob("copied/single", digest))
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert dist_client.list_tags("copied/single") == ["v1"]


def test_copy_index_from_distribution_to_airlock_then_again_skips_everything(
    tmp_path: Path,
    env: dict[str, str],
    distribution: Distribution,
    airlock_client: RegistryClient,
    dist_client: RegistryClient,
) -> None:
    index = build_multiplatform_image(tmp_path / "layout", tag="multi")
    push_layout(index, f"{host(distribution.url)}/multi:multi", env=env)

    first = copy_image(dist_client, "multi", "multi", airlock_client, "multi", ["1.0", "stable"])
    second = copy_image(dist_client, "multi", "multi", airlock_client, "multi", ["1.0"])

    assert first.digest == index.index_digest
    # busybox layer shared by both platforms, then a marker layer and a config per platform.
    assert first.blobs_copied == 5 and first.blobs_skipped == 0
    assert (second.blobs_copied, second.bytes_copied) == (0, 0)
    assert airlock_client.get_manifest("multi", "stable").raw == index.index
    for digest in index.manifests.values():
        assert airlock_client.head_manifest("multi", digest) is not None
    assert sorted(airlock_client.list_tags("multi")) == ["1.0", "stable"]


def test_copy_inside_one_registry_mounts_every_blob(
    tmp_path: Path,
    env: dict[str, str],
    airlock: Airlock,
    admin: Credentials,
    airlock_client: RegistryClient,
) -> None:
    image = build_busybox_image(tmp_path / "layout", tag="v1", extra_files={"etc/m": b"mount"})
    source = host(airlock.registries[REGISTRY])
    push_layout(image, f"{source}/origin:v1", env=env, creds=f"{admin.username}:{admin.password}")

    result = copy_image(airlock_client, "origin", "v1", airlock_client, "team/mirror", ["v1"])

    assert (result.blobs_mounted, result.blobs_copied, result.bytes_copied) == (3, 0, 0)
    assert str(airlock_client.get_manifest("team/mirror", "v1").digest) == image.manifest_digest


@pytest.mark.parametrize("server", ["airlock", "distribution"])
def test_chunked_upload_round_trip(
    server: str, airlock_client: RegistryClient, dist_client: RegistryClient
) -> None:
    client = airlock_client if server == "airlock" else dist_client
    data = os.urandom(3 * (1 << 20) + 12345)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    parts = [data[i : i + 700_000] for i in range(0, len(data), 700_000)]
    assert client.upload_blob("chunked", digest, parts, size=len(data), chunk_size=1 << 20)
    assert client.blob_size("chunked", digest) == len(data)
    assert b"".join(client.iter_blob("chunked", digest, chunk_size=1 << 18)) == data
    assert client.upload_blob("chunked", digest, parts, chunk_size=1 << 20) is False


def test_wrong_password_names_the_user_not_the_password(airlock: Airlock) -> None:
    wrong = Credentials("clienttests", "definitely-wrong")
    with (
        RegistryClient(host(airlock.registries[REGISTRY]), credentials=wrong, insecure=True) as c,
        pytest.raises(AuthenticationError) as caught,
    ):
        c.ping()
    assert "clienttests" in str(caught.value) and "definitely-wrong" not in str(caught.value)
