"""Registry credentials: given explicitly, or read from the user's podman/docker auth files.

Files are searched in podman's order, then docker's: ``$REGISTRY_AUTH_FILE``,
``$XDG_RUNTIME_DIR/containers/auth.json``, ``~/.config/containers/auth.json``,
``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``. The first file with an entry
for the registry wins. Credential helpers (``credsStore``, ``credHelpers``) are not run;
when one is configured and no plain entry exists, the error says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.client.errors import AuthenticationError
from airlock.oci.reference import normalise_registry


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    @classmethod
    def from_auth_files(cls, registry: str) -> Credentials | None:
        wanted = normalise_registry(registry)
        helpers: list[str] = []
        for path in auth_file_paths():
            config = _load(path)
            if config is None:
                continue
            found = _lookup(config, wanted, path)
            if found is not None:
                return found
            helper = _helper_for(config, wanted)
            if helper:
                helpers.append(f"'{helper}' in {path}")
        if helpers:
            raise AuthenticationError(
                f"credentials for {wanted} are kept by the credential helper "
                f"{', '.join(helpers)}, which Airlock does not run; log in with "
                "'podman login' (which writes auth.json) or pass the credentials explicitly",
                registry=wanted,
            )
        return None


def auth_file_paths() -> list[Path]:
    env = os.environ
    paths = []
    if env.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        paths.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    home = Path(env.get("HOME") or Path.home())
    paths.append(home / ".config" / "containers" / "auth.json")
    docker_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    paths.append(docker_dir / "config.json")
    return paths


def _load(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuthenticationError(f"cannot read auth file {path}: {exc}") from None
    return doc if isinstance(doc, dict) else None


def _key_host(key: str) -> str:
    # Keys are "host[:port]", "host/namespace" or docker's "https://index.docker.io/v1/".
    host = key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return normalise_registry(host)


def _lookup(config: dict[str, Any], registry: str, path: Path) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if isinstance(entry, dict) and _key_host(str(key)) == registry:
            found = _decode(entry, registry, path)
            if found is not None:
                return found
    return None


def _decode(entry: dict[str, Any], registry: str, path: Path) -> Credentials | None:
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            text = base64.b64decode(entry["auth"], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationError(
                f"the 'auth' entry for {registry} in {path} is not base64 'user:password'",
                registry=registry,
            ) from None
        username, sep, password = text.partition(":")
        if not sep:
            raise AuthenticationError(
                f"the 'auth' entry for {registry} in {path} has no ':' between user and password",
                registry=registry,
            )
        return Credentials(username, password)
    user, secret = entry.get("username"), entry.get("password")
    if isinstance(user, str) and isinstance(secret, str):
        return Credentials(user, secret)
    return None


def _helper_for(config: dict[str, Any], registry: str) -> str | None:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if _key_host(str(key)) == registry:
                return str(name)
    store = config.get("credsStore")
    return str(store) if store else None
