"""The external registries of tests/support/external.py behave as the import tests assume."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.external import (
    BasicAuthDistribution,
    HostileMode,
    bcrypt_hash,
    bcrypt_verify,
    start_distribution_basic,
    start_hostile_registry,
    start_rate_limited_proxy,
)
from tests.support.images import OciImage, build_busybox_image, push_layout
from tests.support.servers import Distribution, running_distribution

needs_registry = pytest.mark.skipif(
    shutil.which("docker-registry") is None, reason="docker-registry is not installed"
)
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")

MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def skopeo_inspect(reference: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", *args, f"docker://{reference}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def image(tmp_path: Path) -> OciImage:
    return build_busybox_image(tmp_path / "layout", tag="v1")


@pytest.fixture
def basic(tmp_path: Path) -> Iterator[BasicAuthDistribution]:
    with start_distribution_basic(tmp_path / "basic", "puller", "s3cret pass") as server:
        yield server


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Distribution]:
    with running_distribution(tmp_path / "plain") as server:
        yield server


def test_bcrypt_hash_round_trips() -> None:
    hashed = bcrypt_hash("s3cret pass")
    assert hashed.startswith("$2b$05$") and len(hashed) == 60
    assert bcrypt_verify("s3cret pass", hashed)
    assert not bcrypt_verify("s3cret pasS", hashed)
    assert bcrypt_hash("s3cret pass") != hashed  # a fresh salt each time


# -- Distribution with Basic auth --------------------------------------------------------------


@needs_registry
def test_basic_distribution_demands_credentials(basic: BasicAuthDistribution) -> None:
    assert basic.host == f"127.0.0.1:{basic.port}"
    anonymous = httpx.get(f"{basic.url}/v2/", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].lower().startswith("basic ")
    wrong = httpx.get(f"{basic.url}/v2/", auth=("puller", "nope"), timeout=10)
    assert wrong.status_code == 401
    right = httpx.get(f"{basic.url}/v2/", auth=("puller", "s3cret pass"), timeout=10)
    assert right.status_code == 200


@needs_registry
@needs_skopeo
def test_skopeo_pushes_with_creds_and_not_without(
    basic: BasicAuthDistribution, image: OciImage
) -> None:
    destination = f"{basic.host}/library/busybox:v1"
    with pytest.raises(subprocess.CalledProcessError) as refused:
        push_layout(image, destination)
    assert b"401" in refused.value.stderr or b"unauthorized" in refused.value.stderr.lower()
    with pytest.raises(subprocess.CalledProcessError):
        push_layout(image, destination, creds="puller:wrong")

    push_layout(image, destination, creds=basic.creds)

    assert skopeo_inspect(destination).returncode != 0  # pulling needs the creds too
    pulled = skopeo_inspect(destination, "--creds", basic.creds)
    assert pulled.returncode == 0, pulled.stderr
    assert hashlib.sha256(pulled.stdout.encode()).hexdigest() == image.manifest_digest[7:]


# -- the rate-limited proxy --------------------------------------------------------------------


@needs_registry
def test_proxy_serves_429_then_proxies(plain: Distribution) -> None:
    with start_rate_limited_proxy(plain.url, fail_first=2, retry_after="3") as proxy:
        assert proxy.host.startswith("127.0.0.1:") and proxy.url == f"http://{proxy.host}"
        for _ in range(2):
            refused = httpx.get(f"{proxy.url}/v2/", timeout=10)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "3"
            assert refused.headers["ratelimit-remaining"] == "0;w=60"
            assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        passed = httpx.get(f"{proxy.url}/v2/", timeout=10)
        assert passed.status_code == 200
        assert passed.headers["docker-distribution-api-version"] == "registry/2.0"
        missing = httpx.get(f"{proxy.url}/v2/nothing/manifests/none", timeout=10)
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        assert proxy.throttled == 2
        # The proxy records a relayed request after the client has its answer: wait for it.
        deadline = time.monotonic() + 5
        while len(proxy.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.proxied == 2
        assert [status for _, _, status in proxy.requests] == [429, 429, 200, 404]


@needs_registry
def test_proxy_streams_uploads_and_rewrites_locations(plain: Distribution) -> None:
    blob = bytes(range(256)) * 4096  # 1 MiB
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with (
        start_rate_limited_proxy(plain.url, fail_first=1, path_pattern=r"/blobs/uploads/") as proxy,
        httpx.Client(base_url=proxy.url, timeout=30) as client,
    ):
        assert client.post("/v2/app/blobs/uploads/").status_code == 429
        started = client.post("/v2/app/blobs/uploads/")
        assert started.status_code == 202
        location = started.headers["location"]
        assert location.startswith(proxy.url), location  # rewritten from the upstream's
        # a chunked request body (a generator has no length) goes through too
        patched = client.patch(
            location,
            content=(blob[i : i + 100_000] for i in range(0, len(blob), 100_000)),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert patched.status_code == 202, patched.text
        location = patched.headers["location"]
        assert location.startswith(proxy.url)
        finished = client.put(f"{location}&digest={digest}")  # keeps Distribution's _state
        assert finished.status_code == 201, finished.text
        head = client.head(f"/v2/app/blobs/{digest}")
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(blob)
        with client.stream("GET", f"/v2/app/blobs/{digest}") as got:
            assert got.status_code == 200
            assert b"".join(got.iter_bytes()) == blob
        assert proxy.throttled == 1
    direct = httpx.get(f"{plain.url}/v2/app/blobs/{digest}", timeout=30)
    assert direct.content == blob


@needs_registry
@needs_skopeo
def test_skopeo_through_the_proxy_after_429s(plain: Distribution, image: OciImage) -> None:
    push_layout(image, f"127.0.0.1:{plain.port}/library/busybox:v1")
    with start_rate_limited_proxy(
        plain.url, fail_first=1, retry_after="1", path_pattern=r"/manifests/"
    ) as proxy:
        started = time.monotonic()
        done = skopeo_inspect(f"{proxy.host}/library/busybox:v1", "--retry-times", "3")
        assert done.returncode == 0, done.stderr
        assert hashlib.sha256(done.stdout.encode()).hexdigest() == image.manifest_digest[7:]
        assert proxy.throttled == 1
        assert time.monotonic() - started < 30


# -- the hostile registry ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["content", "size"])
def test_hostile_layer_does_not_match_its_digest(mode: HostileMode) -> None:
    with start_hostile_registry(mode, repository="evil/app", tag="v1") as reg:
        assert reg.reference == f"{reg.host}/evil/app:v1"
        assert httpx.get(f"{reg.url}/v2/", timeout=10).status_code == 200
        by_tag = httpx.get(
            f"{reg.url}/v2/evil/app/manifests/v1", headers={"Accept": MANIFEST_ACCEPT}, timeout=10
        )
        assert by_tag.status_code == 200
        assert by_tag.headers["content-type"] == MANIFEST_ACCEPT
        digest = "sha256:" + hashlib.sha256(by_tag.content).hexdigest()
        assert digest == reg.manifest_digest == by_tag.headers["docker-content-digest"]
        by_digest = httpx.get(f"{reg.url}/v2/evil/app/manifests/{digest}", timeout=10)
        assert by_digest.content == by_tag.content
        manifest = json.loads(by_tag.content)
        (layer,) = manifest["layers"]
        assert layer["digest"] == reg.layer_digest and layer["size"] == reg.layer_size

        config = httpx.get(f"{reg.url}/v2/evil/app/blobs/{manifest['config']['digest']}")
        assert "sha256:" + hashlib.sha256(config.content).hexdigest() == reg.config_digest

        served = httpx.get(f"{reg.url}/v2/evil/app/blobs/{layer['digest']}", timeout=10)
        assert served.status_code == 200
        assert "sha256:" + hashlib.sha256(served.content).hexdigest() != layer["digest"]
        if mode == "content":
            assert len(served.content) == layer["size"]
        else:
            assert len(served.content) != layer["size"]
        assert reg.blob_requests() == 2
        assert httpx.get(f"{reg.url}/v2/evil/app/manifests/nope").status_code == 404


def test_hostile_manifest_by_digest_is_not_those_bytes() -> None:
    with start_hostile_registry("manifest") as reg:
        got = httpx.get(f"{reg.url}/v2/{reg.repository}/manifests/{reg.manifest_digest}")
        assert got.status_code == 200
        assert "sha256:" + hashlib.sha256(got.content).hexdigest() != reg.manifest_digest
        layer = httpx.get(f"{reg.url}/v2/{reg.repository}/blobs/{reg.layer_digest}")
        assert "sha256:" + hashlib.sha256(layer.content).hexdigest() == reg.layer_digest


@needs_skopeo
def test_skopeo_refuses_the_hostile_image(tmp_path: Path) -> None:
    with start_hostile_registry("content") as reg:
        copied = subprocess.run(
            [
                "skopeo",
                "copy",
                "--src-tls-verify=false",
                f"docker://{reg.reference}",
                f"oci:{tmp_path / 'out'}:x",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert copied.returncode != 0
        assert "digest" in copied.stderr.lower()


def test_servers_stop_and_free_their_ports() -> None:
    reg = start_hostile_registry()
    url = reg.url
    reg.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/v2/", timeout=2)
    reg.stop()  # twice is fine
