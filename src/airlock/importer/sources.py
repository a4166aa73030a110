"""What an import copies and where to: ``az acr import``'s arguments as value types.

``--source`` names an image as ``[registry/]repo[:tag][@digest]``, with Docker Hub names
normalised (``node:15-alpine`` is ``docker.io/library/node:15-alpine``). With ``--registry``
the source is ``repo:tag`` inside that registry. A source in one of this server's own
registries (by name with ``--registry``, or by login server ``127.0.0.1:<port>/repo``) is
*local*: it is linked, never downloaded.

Targets: each ``--image repo[:tag]`` is a tag to set; each ``--repository repo`` a
manifest-only copy. Without either, the target is the source's repository (Docker Hub's
``library/`` dropped, as ACR does) and its tag; a source given by digest alone then gives an
untagged, manifest-only copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airlock.errors import InvalidArgumentError
from airlock.oci.errors import OciValueError
from airlock.oci.names import check_name, check_tag
from airlock.oci.reference import Reference

DOCKER_HUB = "docker.io"
DEFAULT_TAG = "latest"


@dataclass(frozen=True, slots=True)
class OwnRegistry:
    """One of this server's registries, as the parser needs to recognise it."""

    name: str
    login_server: str


@dataclass(frozen=True, slots=True)
class Source:
    """``registry`` is a host[:port] for a remote source, a registry name for a local one."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    local: bool

    @property
    def reference(self) -> str:
        """What to ask the source for: the digest when given (it pins), else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        return text + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True, slots=True)
class TargetTag:
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True, slots=True)
class ImportSpec:
    source: Source
    tags: tuple[TargetTag, ...]
    repositories: tuple[str, ...]

    def target_repositories(self) -> list[str]:
        """Every repository written to, each once, in the order given."""
        names = [t.repository for t in self.tags] + list(self.repositories)
        return list(dict.fromkeys(names))


def parse_import(
    source: str,
    *,
    images: Sequence[str] = (),
    repositories: Sequence[str] = (),
    registry: str | None = None,
    own: Sequence[OwnRegistry] = (),
) -> ImportSpec:
    src = parse_source(source, registry, own)
    tags = tuple(parse_target(image, src) for image in images)
    repos = tuple(_checked_name(repo, "--repository") for repo in repositories)
    if not tags and not repos:
        default = default_repository(src)
        if src.tag is not None or src.digest is None:
            tags = (TargetTag(default, src.tag or DEFAULT_TAG),)
        else:
            repos = (default,)
    return ImportSpec(src, tags, repos)


def parse_source(source: str, registry: str | None, own: Sequence[OwnRegistry]) -> Source:
    if not source.strip():
        raise InvalidArgumentError("--source is required: the image to import, e.g. node:20")
    if registry:
        return _in_named_registry(source, registry, own)
    ref = _reference(source)
    host = _local_alias(ref.registry)
    for entry in own:
        if entry.login_server == host:
            return _source(ref, entry.name, local=True)
    return _source(ref, ref.registry, local=False)


def _in_named_registry(source: str, registry: str, own: Sequence[OwnRegistry]) -> Source:
    for entry in own:
        if registry.lower() == entry.name.lower() or _local_alias(registry) == entry.login_server:
            # Parsed under the login server so that no Docker Hub normalisation applies.
            return _source(_reference(f"{entry.login_server}/{source}"), entry.name, local=True)
    if "." in registry or ":" in registry:
        ref = _reference(f"{registry}/{source}")
        return _source(ref, ref.registry, local=False)
    raise InvalidArgumentError(
        f"source registry {registry!r} is not a registry of this server (see 'airlock acr "
        "list'); for an external registry give its host, e.g. --registry ghcr.io",
        "RegistryNotFound",
    )


def _source(ref: Reference, registry: str, *, local: bool) -> Source:
    digest = None if ref.digest is None else str(ref.digest)
    return Source(registry, ref.repository, ref.tag, digest, local)


def _reference(text: str) -> Reference:
    try:
        return Reference.parse(text.strip())
    except OciValueError as exc:  # InvalidReferenceError and the name/tag/digest errors
        raise InvalidArgumentError(f"invalid --source {text[:200]!r}: {exc}") from None


def _local_alias(host: str) -> str:
    """``localhost:5001`` is the login server ``127.0.0.1:5001``."""
    name, sep, port = host.rpartition(":")
    return f"127.0.0.1:{port}" if sep and name.lower() == "localhost" else host


def default_repository(source: Source) -> str:
    if not source.local and source.registry == DOCKER_HUB:
        return source.repository.removeprefix("library/")
    return source.repository


def parse_target(image: str, source: Source) -> TargetTag:
    """``--image repo[:tag]``; without a tag, the source's tag (else ``latest``)."""
    if "@" in image:
        raise InvalidArgumentError(
            f"invalid --image {image!r}: a target is repo:tag, not a digest; use "
            "--repository for an untagged copy"
        )
    repo, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        repo, tag = image, source.tag or DEFAULT_TAG
    return TargetTag(_checked_name(repo, "--image"), _checked_tag(tag, image))


def _checked_name(name: str, option: str) -> str:
    try:
        return check_name(name)
    except OciValueError as exc:
        raise InvalidArgumentError(f"invalid {option}: {exc}") from None


def _checked_tag(tag: str, image: str) -> str:
    try:
        return check_tag(tag)
    except OciValueError as exc:
        raise InvalidArgumentError(f"invalid --image {image!r}: {exc}") from None
