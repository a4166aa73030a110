"""CLI helpers of the auth commands: repository/action groups and the containers auth file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from airlock.cli.errors import CLIError
from airlock.cli.login import auth_file, store
from airlock.cli.scope_map import map_actions


def test_repository_groups_become_acr_actions() -> None:
    groups = [["node", "content/read", "metadata/read"], ["samples/*", "content/write"]]
    assert map_actions(groups, "--repository") == [
        "repositories/node/content/read",
        "repositories/node/metadata/read",
        "repositories/samples/*/content/write",
    ]


def test_a_repository_without_actions_is_a_clear_error() -> None:
    with pytest.raises(CLIError, match="needs at least one action"):
        map_actions([["node"]], "--repository")


def test_auth_file_follows_podman(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "a.json"))
    assert auth_file() == tmp_path / "a.json"
    monkeypatch.delenv("REGISTRY_AUTH_FILE")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert auth_file() == tmp_path / "containers" / "auth.json"


def test_store_merges_and_keeps_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "containers" / "auth.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"other:1": {"auth": "eDp5"}}, "credHelpers": {}}))
    store(path, "127.0.0.1:5001", "ci-pull", "secret")
    document = json.loads(path.read_text())
    assert document["auths"]["other:1"] == {"auth": "eDp5"} and "credHelpers" in document
    assert document["auths"]["127.0.0.1:5001"] == {"auth": "Y2ktcHVsbDpzZWNyZXQ="}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["auth.json"]
