"""The base images a run's builds used: as the worker API carries them, and as acr-builder
prints them at the end of a run's log."""

from __future__ import annotations

from airlock.errors import InvalidArgumentError
from airlock.runs.baseimages import BaseImage


def dependency_json(base: BaseImage) -> dict[str, str | None]:
    """A dependency as the worker API carries it."""
    return {
        "image": base.image,
        "registry": base.registry,
        "repository": base.repository,
        "tag": base.tag,
        "digest": base.digest,
        "kind": base.kind,
    }


def dependencies_from_json(data: object) -> tuple[BaseImage, ...]:
    """Dependencies from the worker API; InvalidArgumentError when they are not well formed."""
    keys = ("image", "registry", "repository", "tag", "digest", "kind")
    if not isinstance(data, list) or len(data) > 1000:
        raise InvalidArgumentError("'dependencies' must be a list of at most 1000 objects")
    found = []
    for entry in data:
        if not isinstance(entry, dict) or set(entry) != set(keys):
            raise InvalidArgumentError(f"each dependency has exactly {', '.join(keys)}")
        values = [entry[k] for k in keys]
        if not all(isinstance(v, str) and len(v) <= 512 for v in values if v is not None):
            raise InvalidArgumentError("dependency fields are strings of at most 512 characters")
        if entry["kind"] not in ("runtime", "buildtime") or None in values[:4]:
            raise InvalidArgumentError("a dependency needs an image, a reference and a kind")
        found.append(BaseImage(*values))
    return tuple(found)


def dependency_report(dependencies: tuple[BaseImage, ...], commit: str) -> str:
    """acr-builder's block: each image built, its runtime and buildtime bases, the commit."""
    lines = [""]
    by_image: dict[str, list[BaseImage]] = {}
    for base in dependencies:
        by_image.setdefault(base.image, []).append(base)
    for image, bases in by_image.items():
        registry, _, rest = image.partition("/")
        repository, _, tag = rest.rpartition(":")
        lines += ["- image:", f"    registry: {registry}", f"    repository: {repository}"]
        lines.append(f"    tag: {tag}")
        for base in bases:
            key = "runtime-dependency" if base.kind == "runtime" else "buildtime-dependency"
            lines += [f"  {key}:", f"    registry: {base.registry}"]
            lines += [f"    repository: {base.repository}", f"    tag: {base.tag}"]
            if base.digest:
                lines.append(f"    digest: {base.digest}")
        if commit:
            lines += ["  git:", f"    git-head-revision: {commit}"]
    return "\n".join(lines)
