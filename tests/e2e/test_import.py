"""``airlock acr import`` end to end: the CLI against a real server, from its own registries
(zero-copy) and from external registries (Debian's docker-registry with Basic auth, a 429
proxy, a hostile registry), with the SSRF guard on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.external import (
    BasicAuthDistribution,
    HostileRegistry,
    RateLimitedProxy,
    start_distribution_basic,
    start_hostile_registry,
    start_rate_limited_proxy,
)
from tests.support.images import (
    OciImage,
    OciIndexImage,
    build_busybox_image,
    build_multiplatform_image,
    push_layout,
)
from tests.support.servers import Airlock, free_port, start_airlock

pytestmark = pytest.mark.podman  # skopeo seeds the sources

TARGET = "imptarget"
SOURCE = "impsource"
USER, PASSWORD = "puller", "pa55-Secret-word"


@dataclass
class World:
    airlock: Airlock
    source_host: str  # login server of the SOURCE registry
    dist: BasicAuthDistribution
    proxy: RateLimitedProxy
    hostiles: dict[str, HostileRegistry]  # by mode: content, size, manifest
    outsider: HostileRegistry  # a registry that is NOT allowed
    image: OciImage
    variant: OciImage
    index: OciIndexImage

    def cli(self, *args: str) -> tuple[int, str, str]:
        done = self.airlock.cli(*args, check=False)
        return done.returncode, done.stdout, done.stderr

    def tags(self, repository: str, registry: str = TARGET) -> dict[str, str]:
        status, found = self.airlock.api(
            "GET", f"/api/registries/{registry}/tags?repository={repository}&detail=true"
        )
        if status == 404:
            return {}
        assert status == 200, found
        assert isinstance(found, list)
        return {t["name"]: t["digest"] for t in found}

    def manifests(self, repository: str, registry: str = TARGET) -> set[str]:
        status, found = self.airlock.api(
            "GET", f"/api/registries/{registry}/manifests?repository={repository}&detail=true"
        )
        if status == 404:
            return set()
        assert status == 200, found
        assert isinstance(found, list)
        return {m["digest"] for m in found}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("import")
    dist = start_distribution_basic(root / "dist", USER, PASSWORD)
    proxy = start_rate_limited_proxy(dist.url, fail_first=2, path_pattern=r"/manifests/")
    hostiles = {mode: start_hostile_registry(mode) for mode in ("content", "size", "manifest")}
    outsider = start_hostile_registry("manifest", repository="outside/app")
    allowed = ",".join([dist.host, proxy.host, *(h.host for h in hostiles.values())])
    airlock = start_airlock(root / "home", extra_env={"AIRLOCK_IMPORT_ALLOWED_REGISTRIES": allowed})
    try:
        airlock.create_registry(TARGET, port=free_port())
        source_url = airlock.create_registry(SOURCE, port=free_port())
        image = build_busybox_image(root / "layout", tag="v1")
        variant = build_busybox_image(root / "layout", tag="v2", extra_files={"etc/v": b"2"})
        index = build_multiplatform_image(root / "layout", tag="multi")
        creds = ":".join(airlock.admin_credentials(SOURCE))
        source_host = source_url.removeprefix("http://")
        for item, ref in ((image, "hello:v1"), (variant, "hello:v2"), (index, "multi:v1")):
            push_layout(item, f"{source_host}/{ref}", creds=creds)
            push_layout(item, f"{dist.host}/lib/{ref}", creds=dist.creds)
        yield World(airlock, source_host, dist, proxy, hostiles, outsider, image, variant, index)
    finally:
        airlock.stop()
        for server in (dist, proxy, outsider, *hostiles.values()):
            server.stop()


def storage_files(airlock: Airlock) -> dict[str, int]:
    """Every file under the storage root, with its inode."""
    root = airlock.home / "storage"
    return {
        str(path.relative_to(root)): path.stat().st_ino
        for path in root.rglob("*")
        if path.is_file()
    }


# -- local: between registries of this server -------------------------------------------------


def test_local_import_moves_no_bytes_and_keeps_the_digest(world: World) -> None:
    before = storage_files(world.airlock)
    code, out, err = world.cli(
        "acr", "import", "-n", TARGET, "--source", "hello:v1", "--registry", SOURCE
    )
    assert (code, out) == (0, ""), err
    assert storage_files(world.airlock) == before  # no new file, no rewritten file
    assert world.tags("hello") == {"v1": world.image.manifest_digest}


def test_local_import_of_an_index_by_login_server(world: World) -> None:
    before = storage_files(world.airlock)
    code, out, err = world.cli(
        "acr", "import", "-n", TARGET, "--source", f"{world.source_host}/multi:v1",
        "--image", "base/multi:v1", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    assert (job["status"], job["mode"], job["digest"]) == (
        "Succeeded",
        "local",
        world.index.index_digest,
    )
    assert storage_files(world.airlock) == before
    assert world.tags("base/multi") == {"v1": world.index.index_digest}
    assert world.manifests("base/multi") == {
        world.index.index_digest,
        *world.index.manifests.values(),
    }


def test_local_import_by_digest_to_repository_only(world: World) -> None:
    digest = world.variant.manifest_digest
    code, _, err = world.cli(
        "acr", "import", "-n", TARGET, "--source", f"hello@{digest}",
        "--registry", SOURCE, "--repository", "pinned",
    )  # fmt: skip
    assert code == 0, err
    assert world.manifests("pinned") == {digest}
    assert world.tags("pinned") == {}


def test_force_is_needed_to_move_a_tag(world: World) -> None:
    args = ("acr", "import", "-n", TARGET, "--registry", SOURCE, "--image", "forced:v1")
    assert world.cli(*args, "--source", "hello:v1")[0] == 0
    code, out, err = world.cli(*args, "--source", "hello:v2")
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"ERROR: tag forced:v1 already exists in registry {TARGET}; use --force to overwrite it"
    )
    assert world.tags("forced") == {"v1": world.image.manifest_digest}
    code, _, err = world.cli(*args, "--source", "hello:v2", "--force")
    assert code == 0, err
    assert world.tags("forced") == {"v1": world.variant.manifest_digest}


def test_write_locked_tag_stays_refused_with_force(world: World) -> None:
    args = ("acr", "import", "-n", TARGET, "--registry", SOURCE, "--image", "locked:v1")
    assert world.cli(*args, "--source", "hello:v1")[0] == 0
    code, _, err = world.cli(
        "acr", "repository", "update", "-n", TARGET, "--image", "locked:v1",
        "--write-enabled", "false",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = world.cli(*args, "--source", "hello:v2", "--force")
    assert code == 1
    assert err.startswith("ERROR: ") and "writeEnabled: false" in err
    assert world.tags("locked") == {"v1": world.image.manifest_digest}


def test_import_is_recorded_as_a_push_event(world: World) -> None:
    code, _, err = world.cli(
        "acr", "import", "-n", TARGET, "--registry", SOURCE, "--source", "hello:v2",
        "--image", "evented:v2",
    )  # fmt: skip
    assert code == 0, err
    status, events = world.airlock.api("GET", f"/api/registries/{TARGET}/events?limit=1000")
    assert status == 200 and isinstance(events, list)
    mine = [e for e in events if e["repository"] == "evented"]
    assert [(e["action"], e["tag"], e["digest"]) for e in mine] == [
        ("push", "v2", world.variant.manifest_digest)
    ]


def test_missing_local_image_is_a_clear_error(world: World) -> None:
    code, _, err = world.cli(
        "acr", "import", "-n", TARGET, "--registry", SOURCE, "--source", "hello:nope"
    )
    assert code == 1
    assert err.strip() == f"ERROR: image hello:nope not found in registry {SOURCE}"


# -- remote: external registries --------------------------------------------------------------


def remote(
    world: World, *args: str, creds: tuple[str, str] = (USER, PASSWORD)
) -> tuple[int, str, str]:
    return world.cli("acr", "import", "-n", TARGET, "-u", creds[0], "-p", creds[1], *args)


def test_remote_import_with_basic_auth(world: World) -> None:
    code, out, err = remote(
        world, "--source", f"{world.dist.host}/lib/hello:v1", "--image", "ext/hello:v1",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    assert job["mode"] == "remote" and job["digest"] == world.image.manifest_digest
    assert PASSWORD not in out + err
    assert world.tags("ext/hello") == {"v1": world.image.manifest_digest}


def test_remote_import_of_an_index_skips_blobs_already_here(world: World) -> None:
    code, out, err = remote(
        world, "--source", f"{world.dist.host}/lib/multi:v1", "--image", "ext/multi:v1",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    # The SOURCE registry already holds every blob of this index: nothing is downloaded.
    assert job["progress"]["blobsTotal"] == 0
    assert job["progress"]["blobsAlreadyPresent"] > 0
    assert world.manifests("ext/multi") == {
        world.index.index_digest,
        *world.index.manifests.values(),
    }


def test_remote_import_by_digest_with_registry_option(world: World) -> None:
    digest = world.variant.manifest_digest
    code, _, err = remote(
        world, "--registry", world.dist.host, "--source", f"lib/hello@{digest}",
        "--repository", "ext/pinned",
    )  # fmt: skip
    assert code == 0, err
    assert world.manifests("ext/pinned") == {digest}


def test_wrong_credentials_are_a_clear_error(world: World) -> None:
    code, out, err = remote(
        world, "--source", f"{world.dist.host}/lib/hello:v1", "--image", "ext/wrong:v1",
        creds=(USER, "not-the-password"),
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err.startswith("ERROR: ") and "check --username and --password" in err
    assert "not-the-password" not in err
    assert world.tags("ext/wrong") == {}


def test_missing_remote_image_is_a_clear_error(world: World) -> None:
    code, _, err = remote(world, "--source", f"{world.dist.host}/lib/hello:absent")
    assert code == 1
    assert err.startswith("ERROR: ") and "not found" in err.lower() and "hello" in err


def test_rate_limited_source_is_retried(world: World) -> None:
    code, _, err = remote(
        world, "--source", f"{world.proxy.host}/lib/hello:v2", "--image", "ext/limited:v2"
    )
    assert code == 0, err
    assert world.proxy.throttled == 2
    assert world.tags("ext/limited") == {"v2": world.variant.manifest_digest}


@pytest.mark.parametrize("mode", ["content", "size", "manifest"])
def test_hostile_source_is_refused_and_nothing_is_written(world: World, mode: str) -> None:
    hostile = world.hostiles[mode]
    repo = f"evil/{mode}"
    source = hostile.reference
    if mode == "manifest":  # only what is fetched by digest is wrong there
        source = f"{hostile.host}/{hostile.repository}@{hostile.manifest_digest}"
    code, _, err = world.cli(
        "acr", "import", "-n", TARGET, "--source", source, "--image", f"{repo}:v1"
    )
    assert code == 1
    assert err.startswith("ERROR: ") and "refused" in err, err
    if mode != "manifest":
        assert hostile.blob_requests() >= 1  # it was really asked for the bad blob
    assert world.tags(repo) == {} and world.manifests(repo) == set()
    files = storage_files(world.airlock)
    layer_hex = hostile.layer_digest.split(":")[1]
    assert not [f for f in files if layer_hex in f]
    assert not [f for f in files if f.startswith("uploads/")]


def test_source_outside_the_allowed_hosts_is_refused_before_connecting(world: World) -> None:
    code, _, err = world.cli("acr", "import", "-n", TARGET, "--source", world.outsider.reference)
    assert code == 1
    assert "AIRLOCK_IMPORT_ALLOWED_REGISTRIES" in err
    assert world.outsider.requests == []


def test_rest_api_job_never_shows_the_password(world: World) -> None:
    status, job = world.airlock.api(
        "POST",
        f"/api/registries/{TARGET}/imports",
        {
            "source": f"{world.dist.host}/lib/hello:v1",
            "images": ["rest/hello:v1"],
            "username": USER,
            "password": PASSWORD,
        },
    )
    assert status == 202, job
    assert isinstance(job, dict) and PASSWORD not in json.dumps(job)
    deadline = time.monotonic() + 60
    shown: object = job
    while isinstance(shown, dict) and shown["status"] == "Running" and time.monotonic() < deadline:
        time.sleep(0.1)
        status, shown = world.airlock.api("GET", f"/api/imports/{job['id']}")
        assert status == 200
    assert isinstance(shown, dict) and shown["status"] == "Succeeded", shown
    status, done = world.airlock.api(
        "POST",
        f"/api/registries/{TARGET}/imports?wait=true",
        {"source": f"{world.dist.host}/lib/hello:v1", "images": ["rest/hello:v1"]},
    )
    assert status == 409, done
    assert isinstance(done, dict) and done["error"]["code"] == "TagAlreadyExists"
    assert PASSWORD not in world.airlock.log()
    status, missing = world.airlock.api("GET", "/api/imports/nosuchjob")
    assert status == 404, missing
    # wait=true answers with the failed job's error and status.
    status, failed = world.airlock.api(
        "POST",
        f"/api/registries/{TARGET}/imports?wait=true",
        {
            "source": f"{world.dist.host}/lib/hello:absent",
            "username": USER,
            "password": PASSWORD,
        },
    )
    assert status == 404, failed
    assert isinstance(failed, dict) and failed["error"]["code"] == "ImportSourceNotFound"
    assert PASSWORD not in json.dumps(failed)


def test_no_wait_prints_the_running_job(world: World) -> None:
    code, out, err = world.cli(
        "acr", "import", "-n", TARGET, "--registry", SOURCE, "--source", "hello:v1",
        "--image", "nowait:v1", "--no-wait",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] in ("Running", "Succeeded")
