"""Everything a real ``airlock server`` writes under $AIRLOCK_HOME is private to its user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx

from tests.e2e.conftest import start_with_registry
from tests.e2e.helpers import admin_auth, push_blob, push_manifest, sha256_digest
from tests.support.images import canonical_json


def test_state_folder_holds_only_0600_files_and_0700_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)  # as a careless setup leaves it: the server must close it
    server, url = start_with_registry(home)
    try:
        with httpx.Client(base_url=url, auth=admin_auth(server), timeout=60) as client:
            for repo in ("perm/one", "perm/two"):
                layer = os.urandom(64 * 1024)
                config = canonical_json({"architecture": "amd64", "os": "linux", "repo": repo})
                manifest = canonical_json(
                    {
                        "schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {
                            "mediaType": "application/vnd.oci.image.config.v1+json",
                            "digest": push_blob(client, repo, config),
                            "size": len(config),
                        },
                        "layers": [
                            {
                                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": push_blob(client, repo, layer),
                                "size": len(layer),
                            }
                        ],
                    }
                )
                pushed = push_manifest(client, repo, "v1", manifest)
                assert pushed.status_code == 201, pushed.text
                assert pushed.headers["docker-content-digest"] == sha256_digest(manifest)
    finally:
        server.stop()
    log = server.log()
    assert "was open to other users (mode 755); made it private (700)" in log

    checked: list[str] = []
    wrong: list[str] = []
    for folder, dirs, files in os.walk(home):
        here = Path(folder)
        if here == home:
            # engine/ is podman's image store (layer files keep their image modes); the
            # server-*.log files are written by this test's harness, not by the server.
            dirs[:] = [d for d in dirs if d != "engine"]
            files = [f for f in files if not (f.startswith("server-") and f.endswith(".log"))]
        for name in dirs:
            path = here / name
            checked.append(str(path.relative_to(home)))
            if stat.S_IMODE(path.lstat().st_mode) != 0o700:
                wrong.append(f"{path}: {stat.S_IMODE(path.lstat().st_mode):03o}")
        for name in files:
            path = here / name
            checked.append(str(path.relative_to(home)))
            if stat.S_IMODE(path.lstat().st_mode) != 0o600:
                wrong.append(f"{path}: {stat.S_IMODE(path.lstat().st_mode):03o}")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert wrong == []
    # The walk saw the state that matters: the database, keys and the pushed blobs.
    assert any(name.endswith(".db") for name in checked), checked
    assert sum(1 for name in checked if name.startswith("storage/")) >= 4, checked
