"""The pure-Python OCI images in tests/support/images.py are real images to skopeo and podman."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.engine import EnginePaths
from tests.support.images import (
    HELLO_OUTPUT,
    MEDIA_INDEX,
    blob_path,
    build_busybox_image,
    build_multiplatform_image,
    host_arch,
    podman_env,
    push_layout,
    sha256_digest,
)
from tests.support.servers import running_distribution

pytestmark = pytest.mark.podman


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield podman_env(tmp_path)
    shutil.rmtree(EnginePaths.of(tmp_path / "airlock-home").run_dir, ignore_errors=True)


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_images_are_deterministic(tmp_path: Path) -> None:
    first = build_busybox_image(tmp_path / "a", tag="v1")
    second = build_busybox_image(tmp_path / "b", tag="v1")
    assert first.manifest_digest == second.manifest_digest
    assert build_multiplatform_image(tmp_path / "a").index_digest == (
        build_multiplatform_image(tmp_path / "b").index_digest
    )


def test_blobs_are_stored_under_their_digest(tmp_path: Path) -> None:
    image = build_busybox_image(tmp_path / "layout")
    for digest in (image.manifest_digest, image.config_digest, *image.layer_digests):
        assert sha256_digest(blob_path(image.layout, digest).read_bytes()) == digest


def test_variants_differ_by_their_extra_layer(tmp_path: Path) -> None:
    green = build_busybox_image(tmp_path / "layout", tag="green", extra_files={"etc/c": b"g"})
    red = build_busybox_image(tmp_path / "layout", tag="red", extra_files={"etc/c": b"r"})
    assert green.manifest_digest != red.manifest_digest
    assert green.layer_digests[0] == red.layer_digests[0]
    tags = [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in json.loads((tmp_path / "layout" / "index.json").read_text())["manifests"]
    ]
    assert tags == ["green", "red"]


def test_skopeo_inspects_the_single_platform_image(tmp_path: Path) -> None:
    image = build_busybox_image(tmp_path / "layout", tag="v1")
    info = json.loads(run("skopeo", "inspect", image.reference))
    assert info["Digest"] == image.manifest_digest
    assert info["Architecture"] == host_arch()
    assert info["Layers"] == list(image.layer_digests)


def test_skopeo_copies_the_index_with_all_platforms(tmp_path: Path) -> None:
    image = build_multiplatform_image(tmp_path / "layout", tag="multi")
    raw = json.loads(run("skopeo", "inspect", "--raw", image.reference))
    assert raw["mediaType"] == MEDIA_INDEX
    platforms = {f"{m['platform']['os']}/{m['platform']['architecture']}" for m in raw["manifests"]}
    assert platforms == {"linux/amd64", "linux/arm64"}
    assert len(set(image.manifests.values())) == 2
    target = tmp_path / "copy"
    run("skopeo", "copy", "--all", image.reference, f"dir:{target}")
    for digest in image.manifests.values():
        assert (target / f"{digest.removeprefix('sha256:')}.manifest.json").exists()


def test_podman_runs_the_image_from_the_layout(tmp_path: Path, env: dict[str, str]) -> None:
    image = build_busybox_image(tmp_path / "layout", tag="v1")
    run("podman", "pull", "--quiet", image.reference, env=env)
    out = run("podman", "run", "--rm", "--network", "none", image.reference, env=env)
    assert out.strip() == HELLO_OUTPUT


def test_podman_picks_the_host_platform_from_the_index(tmp_path: Path, env: dict[str, str]) -> None:
    image = build_multiplatform_image(tmp_path / "layout", tag="multi")
    out = run(
        "podman",
        "run",
        "--rm",
        "--network",
        "none",
        image.reference,
        "busybox",
        "cat",
        "/etc/platform",
        env=env,
    )
    assert out.strip() == f"linux/{host_arch()}"


def test_push_layout_keeps_digests(tmp_path: Path) -> None:
    single = build_busybox_image(tmp_path / "layout", tag="v1")
    multi = build_multiplatform_image(tmp_path / "layout", tag="multi")
    with running_distribution(tmp_path / "distribution") as registry:
        host = registry.url.removeprefix("http://")
        push_layout(single, f"{host}/hello:v1")
        push_layout(multi, f"{host}/hello:multi")
        for tag, digest in (("v1", single.manifest_digest), ("multi", multi.index_digest)):
            info = run(
                "skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/hello:{tag}"
            )
            assert sha256_digest(info.encode()) == digest
