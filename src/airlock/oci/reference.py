"""Image references (``registry/repository[:tag][@digest]``) as a parsed value type.

Normalisation follows docker's: a first component without ``.`` or ``:`` (and not
``localhost``) is a Docker Hub repository, and a one-component Docker Hub name lives under
``library/``. So ``node:15-alpine`` is ``docker.io/library/node:15-alpine``.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.oci.digest import Digest
from airlock.oci.errors import InvalidReferenceError, OciValueError
from airlock.oci.names import check_name, check_tag

DOCKER_HUB = "docker.io"
# Names users write for Docker Hub; its API answers at registry-1.docker.io.
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"


def normalise_registry(registry: str) -> str:
    host = registry.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def api_host(registry: str) -> str:
    """The host (and port) that serves the registry's HTTP API."""
    registry = normalise_registry(registry)
    return "registry-1.docker.io" if registry == DOCKER_HUB else registry


@dataclass(frozen=True, slots=True)
class Reference:
    registry: str
    repository: str
    tag: str | None
    digest: Digest | None

    @classmethod
    def parse(cls, text: str) -> Reference:
        if not text or text != text.strip():
            raise InvalidReferenceError(f"invalid image reference {text[:80]!r}: empty", text)
        try:
            return cls._parse(text)
        except InvalidReferenceError:
            raise
        except OciValueError as exc:
            raise InvalidReferenceError(
                f"invalid image reference {text[:80]!r}: {exc}", text
            ) from None

    @classmethod
    def _parse(cls, text: str) -> Reference:
        rest, _, digest_text = text.partition("@")
        digest = Digest.parse(digest_text) if digest_text else None
        registry, path = _split_registry(rest)
        name, tag = path, None
        slash = path.rfind("/")
        colon = path.rfind(":")
        if colon > slash:
            name, tag = path[:colon], check_tag(path[colon + 1 :])
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        check_name(name)
        if tag is None and digest is None:
            tag = DEFAULT_TAG
        return cls(registry, name, tag, digest)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest if there is one, else the tag."""
        return str(self.digest) if self.digest is not None else str(self.tag)

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, check_tag(tag), None)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def _split_registry(text: str) -> tuple[str, str]:
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not rest:
            raise InvalidReferenceError(f"invalid image reference {text!r}: no repository", text)
        return normalise_registry(first), rest
    if sep and first != first.lower():
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: repository names are lowercase", text
        )
    return DOCKER_HUB, text
