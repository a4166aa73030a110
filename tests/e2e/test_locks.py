"""A write-locked tag holds against ``podman push``."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REGISTRY_NAME
from tests.e2e.helpers import run_tool
from tests.support.images import BUSYBOX
from tests.support.servers import Airlock

pytestmark = pytest.mark.podman

CONTAINERFILE = """\
FROM scratch
COPY busybox /bin/busybox
COPY message /etc/message
CMD ["/bin/busybox", "cat", "/etc/message"]
"""


def build(engine: dict[str, str], folder: Path, message: str) -> str:
    """A FROM-scratch busybox image with ``message``; its local name."""
    folder.mkdir()
    shutil.copy2(BUSYBOX, folder / "busybox")
    (folder / "message").write_text(message + "\n")
    (folder / "Containerfile").write_text(CONTAINERFILE)
    name = f"localhost/e2e-locks:{uuid.uuid4().hex[:8]}"
    run_tool(
        "buildah", "bud", "--quiet", "--isolation", "chroot", "--tag", name, str(folder),
        env=engine,
    )  # fmt: skip
    return name


def creds(airlock: Airlock) -> list[str]:
    """``--creds user:password`` of the registry's admin user."""
    user, password = airlock.admin_credentials(REGISTRY_NAME)
    return ["--creds", f"{user}:{password}"]


def podman_push(
    engine: dict[str, str], airlock: Airlock, local: str, remote: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "push", "--quiet", "--tls-verify=false", *creds(airlock), local, remote],
        env=engine,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_podman_push_to_a_write_locked_tag_fails(
    engine: dict[str, str],
    airlock: Airlock,
    client: httpx.Client,
    host: str,
    repo: str,
    tmp_path: Path,
) -> None:
    first = build(engine, tmp_path / "first", f"first {uuid.uuid4().hex}")
    second = build(engine, tmp_path / "second", f"second {uuid.uuid4().hex}")
    remote = f"{host}/{repo}:v1"
    done = podman_push(engine, airlock, first, remote)
    assert done.returncode == 0, done.stderr
    old = client.head(f"/v2/{repo}/manifests/v1").headers["docker-content-digest"]

    airlock.cli(
        "acr", "repository", "update", "--name", REGISTRY_NAME, "--image", f"{repo}:v1",
        "--write-enabled", "false",
    )  # fmt: skip
    refused = podman_push(engine, airlock, second, remote)
    assert refused.returncode != 0, refused.stderr
    assert "denied" in refused.stderr.lower(), refused.stderr
    assert client.head(f"/v2/{repo}/manifests/v1").headers["docker-content-digest"] == old

    shown = airlock.cli(
        "acr", "repository", "show-tags", "--name", REGISTRY_NAME, "--repository", repo,
        "--detail", "-o", "json",
    )  # fmt: skip
    (tag,) = json.loads(shown.stdout)
    assert tag["name"] == "v1" and tag["digest"] == old
    assert tag["changeableAttributes"]["writeEnabled"] is False
