"""Import from an external registry that speaks the Docker token flow: another Airlock
server, which answers 401 with a Bearer challenge and issues tokens for Basic credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.images import build_busybox_image, push_layout
from tests.support.servers import free_port, start_airlock

pytestmark = pytest.mark.podman  # skopeo seeds the source


def test_import_through_a_bearer_token_flow(tmp_path: Path) -> None:
    upstream = start_airlock(tmp_path / "upstream")
    try:
        upstream_url = upstream.create_registry("upstreamreg", port=free_port())
        host = upstream_url.removeprefix("http://")
        user, password = upstream.admin_credentials("upstreamreg")
        image = build_busybox_image(tmp_path / "layout", tag="v1")
        push_layout(image, f"{host}/team/app:v1", creds=f"{user}:{password}")
        airlock = start_airlock(
            tmp_path / "home", extra_env={"AIRLOCK_IMPORT_ALLOWED_REGISTRIES": host}
        )
        try:
            airlock.create_registry("downstreamreg", port=free_port())
            source = f"{host}/team/app:v1"
            refused = airlock.cli(
                "acr", "import", "-n", "downstreamreg", "--source", source,
                "--username", user, "--password", password + "x", check=False,
            )  # fmt: skip
            assert refused.returncode != 0
            assert password not in refused.stderr
            done = airlock.cli(
                "acr", "import", "-n", "downstreamreg", "--source", source,
                "--username", user, "--password", password, "-o", "json",
            )  # fmt: skip
            job = json.loads(done.stdout)
            assert job["status"] == "Succeeded"
            assert job["digest"] == image.manifest_digest
            status, tags = airlock.api(
                "GET", "/api/registries/downstreamreg/tags?repository=team/app&detail=true"
            )
            assert status == 200
            assert isinstance(tags, list)
            assert [(t["name"], t["digest"]) for t in tags] == [("v1", image.manifest_digest)]
            # The copy went through the upstream's token endpoint, not around it.
            assert "GET /oauth2/token" in upstream.log()
        finally:
            airlock.stop()
    finally:
        upstream.stop()
