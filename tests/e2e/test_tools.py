"""skopeo, podman and buildah against a running Airlock registry, as its admin user
(``--creds``, ``--src-creds``, ``--dest-creds``)."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import (
    blob_file,
    blob_files,
    pull_and_verify,
    repo_name,
    run_tool,
    sha256_digest,
)
from tests.support.images import (
    BUSYBOX,
    HELLO_OUTPUT,
    MEDIA_INDEX,
    OciImage,
    OciIndexImage,
    push_layout,
)
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import Airlock

pytestmark = pytest.mark.podman

CONTAINERFILE = """\
FROM scratch
COPY busybox /bin/busybox
COPY message /etc/message
CMD ["/bin/busybox", "cat", "/etc/message"]
"""


def layout_digest(layout: Path, tag: str) -> str:
    """The digest index.json of an OCI layout gives for ``tag``."""
    index = json.loads((layout / "index.json").read_bytes())
    found = [
        m["digest"]
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    assert len(found) == 1, index
    return str(found[0])


def raw_digest(engine: dict[str, str], creds: str, reference: str) -> str:
    raw = run_tool(
        "skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", creds, reference, env=engine
    )
    return sha256_digest(raw.encode())


def test_skopeo_round_trip_of_a_single_image(
    engine: dict[str, str],
    creds: str,
    host: str,
    repo: str,
    busybox_image: OciImage,
    tmp_path: Path,
) -> None:
    push_layout(busybox_image, f"{host}/{repo}:v1", env=engine, creds=creds)
    assert raw_digest(engine, creds, f"docker://{host}/{repo}:v1") == busybox_image.manifest_digest

    out = tmp_path / "out"
    run_tool(
        "skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", creds,
        f"docker://{host}/{repo}:v1", f"oci:{out}:v1",
        env=engine,
    )  # fmt: skip
    assert layout_digest(out, "v1") == busybox_image.manifest_digest
    for digest in (busybox_image.config_digest, *busybox_image.layer_digests):
        copied = out / "blobs" / "sha256" / digest.removeprefix("sha256:")
        assert sha256_digest(copied.read_bytes()) == digest


def test_skopeo_round_trip_of_a_two_platform_index(
    engine: dict[str, str],
    creds: str,
    host: str,
    repo: str,
    multi_image: OciIndexImage,
    tmp_path: Path,
    registry_url: str,
    registry_auth: RegistryTokenAuth,
) -> None:
    push_layout(multi_image, f"{host}/{repo}:multi", env=engine, creds=creds)
    assert raw_digest(engine, creds, f"docker://{host}/{repo}:multi") == multi_image.index_digest

    out = tmp_path / "out"
    run_tool(
        "skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", creds,
        f"docker://{host}/{repo}:multi", f"oci:{out}:multi",
        env=engine,
    )  # fmt: skip
    assert layout_digest(out, "multi") == multi_image.index_digest
    index = json.loads((out / "blobs" / "sha256" / multi_image.index_digest[7:]).read_bytes())
    assert index["mediaType"] == MEDIA_INDEX
    assert {m["digest"] for m in index["manifests"]} == set(multi_image.manifests.values())
    with httpx.Client(base_url=registry_url, timeout=60, auth=registry_auth) as client:
        for digest in multi_image.manifests.values():
            assert pull_and_verify(client, repo, digest) == digest
            assert (out / "blobs" / "sha256" / digest[7:]).exists()


def test_podman_pulls_and_runs_an_image_pushed_by_skopeo(
    engine: dict[str, str], creds: str, host: str, repo: str, busybox_image: OciImage
) -> None:
    reference = f"{host}/{repo}:v1"
    push_layout(busybox_image, reference, env=engine, creds=creds)
    run_tool(
        "podman", "pull", "--quiet", "--tls-verify=false", "--creds", creds, reference, env=engine
    )
    repo_digests = run_tool(
        "podman", "image", "inspect", "--format", "{{json .RepoDigests}}", reference, env=engine
    )
    assert f"{host}/{repo}@{busybox_image.manifest_digest}" in json.loads(repo_digests)
    out = run_tool("podman", "run", "--rm", "--network", "none", reference, env=engine)
    assert out.splitlines() == [HELLO_OUTPUT]


@pytest.fixture(scope="module")
def built_image(engine: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """``buildah bud --isolation chroot`` of a FROM-scratch busybox image; its local name."""
    context = tmp_path_factory.mktemp("context")
    shutil.copy2(BUSYBOX, context / "busybox")
    (context / "message").write_text(f"built {uuid.uuid4().hex}\n")
    (context / "Containerfile").write_text(CONTAINERFILE)
    name = f"localhost/e2e-built:{uuid.uuid4().hex[:8]}"
    run_tool(
        "buildah", "bud", "--quiet", "--isolation", "chroot", "--tag", name, str(context),
        env=engine,
    )  # fmt: skip
    return name


def local_image_id(engine: dict[str, str], name: str) -> str:
    return run_tool("podman", "image", "inspect", "--format", "{{.Id}}", name, env=engine).strip()


@pytest.mark.parametrize("tool", ["podman", "buildah"])
def test_push_of_a_locally_built_image(
    tool: str,
    engine: dict[str, str],
    creds: str,
    built_image: str,
    host: str,
    repo: str,
    registry_url: str,
    registry_auth: RegistryTokenAuth,
    tmp_path: Path,
) -> None:
    digest_file = tmp_path / "digest"
    reference = f"{host}/{repo}:{tool}"
    run_tool(
        tool, "push", "--tls-verify=false", "--creds", creds, "--digestfile", str(digest_file),
        built_image, f"docker://{reference}",
        env=engine,
    )  # fmt: skip
    pushed = digest_file.read_text().strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pushed)
    assert raw_digest(engine, creds, f"docker://{reference}") == pushed
    image_id = local_image_id(engine, built_image)
    with httpx.Client(base_url=registry_url, timeout=60, auth=registry_auth) as client:
        assert pull_and_verify(client, repo, tool) == pushed
        manifest = client.get(f"/v2/{repo}/manifests/{pushed}").json()
    # The config the registry holds is the local image's config: its digest is the image ID.
    assert manifest["config"]["digest"] == f"sha256:{image_id}"

    # Pull it back under the registry's name: same image, same digest.
    run_tool(
        "podman", "pull", "--quiet", "--tls-verify=false", "--creds", creds, reference, env=engine
    )
    assert local_image_id(engine, reference) == image_id
    repo_digests = run_tool(
        "podman", "image", "inspect", "--format", "{{json .RepoDigests}}", reference, env=engine
    )
    assert f"{host}/{repo}@{pushed}" in json.loads(repo_digests)


def test_skopeo_copy_between_repositories_mounts_blobs(
    engine: dict[str, str], creds: str, host: str, busybox_image: OciImage, airlock: Airlock
) -> None:
    storage = airlock.home / "storage"
    source, target = repo_name("copy-a"), repo_name("copy-b")
    push_layout(busybox_image, f"{host}/{source}:v1", env=engine, creds=creds)
    layer = busybox_image.layer_digests[0]
    inode = blob_file(storage, layer).stat().st_ino
    files_before = blob_files(storage)
    log_start = len(airlock.log())

    run_tool(
        "skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        "--src-creds", creds, "--dest-creds", creds,
        f"docker://{host}/{source}:v1", f"docker://{host}/{target}:v1",
        env=engine,
    )  # fmt: skip

    assert (
        raw_digest(engine, creds, f"docker://{host}/{target}:v1") == busybox_image.manifest_digest
    )
    assert blob_files(storage) == files_before
    assert blob_file(storage, layer).stat().st_ino == inode
    log = airlock.log()[log_start:]
    target_lines = [line for line in log.splitlines() if f"/v2/{target}/" in line]
    # The layer went across by a mount (POST ?from=&mount= answered 201), not by an upload.
    mounts = [line for line in target_lines if re.search(r"/blobs/uploads/\?\S*mount", line)]
    assert mounts, f"skopeo did not mount into {target}:\n" + "\n".join(target_lines)
    assert all('" 201 ' in line for line in mounts), "\n".join(mounts)
    patches = [line for line in target_lines if '"PATCH ' in line]
    assert len(patches) <= 1, "more than the config was uploaded:\n" + "\n".join(patches)
