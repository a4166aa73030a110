"""Credentials from podman and docker auth files, in their search order."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from airlock.client import AuthenticationError, Credentials


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_podman_auth_file_with_base64_auth(home: Path) -> None:
    write(home / ".config/containers/auth.json", {"auths": {"ghcr.io": {"auth": b64("bob:pw:x")}}})
    assert Credentials.from_auth_files("ghcr.io") == Credentials("bob", "pw:x")
    assert Credentials.from_auth_files("quay.io") is None


def test_docker_config_with_username_and_password(home: Path) -> None:
    write(
        home / ".docker/config.json",
        {"auths": {"https://index.docker.io/v1/": {"username": "dh", "password": "tok"}}},
    )
    assert Credentials.from_auth_files("docker.io") == Credentials("dh", "tok")
    assert Credentials.from_auth_files("registry-1.docker.io") == Credentials("dh", "tok")


def test_search_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".docker/config.json", {"auths": {"r.test": {"auth": b64("docker:1")}}})
    assert Credentials.from_auth_files("r.test") == Credentials("docker", "1")
    write(home / ".config/containers/auth.json", {"auths": {"r.test": {"auth": b64("podman:2")}}})
    assert Credentials.from_auth_files("r.test") == Credentials("podman", "2")
    runtime = home / "run"
    write(runtime / "containers/auth.json", {"auths": {"r.test": {"auth": b64("runtime:3")}}})
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert Credentials.from_auth_files("r.test") == Credentials("runtime", "3")
    explicit = write(home / "mine.json", {"auths": {"r.test": {"auth": b64("explicit:4")}}})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(explicit))
    assert Credentials.from_auth_files("r.test") == Credentials("explicit", "4")


def test_credential_helper_is_named_in_the_error(home: Path) -> None:
    write(home / ".docker/config.json", {"auths": {}, "credHelpers": {"ghcr.io": "gh"}})
    with pytest.raises(AuthenticationError, match="credential helper 'gh'"):
        Credentials.from_auth_files("ghcr.io")


def test_malformed_auth_entry(home: Path) -> None:
    write(home / ".config/containers/auth.json", {"auths": {"r.test": {"auth": b64("nocolon")}}})
    with pytest.raises(AuthenticationError, match="no ':'"):
        Credentials.from_auth_files("r.test")


def test_repr_masks_the_password() -> None:
    creds = Credentials("alice", "hunter2")
    assert "hunter2" not in repr(creds) and "alice" in repr(creds)
