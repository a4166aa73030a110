"""``az acr import`` argument semantics: sources, targets, Docker Hub names, local sources."""

from __future__ import annotations

import pytest

from airlock.errors import InvalidArgumentError
from airlock.importer.sources import OwnRegistry, TargetTag, parse_import

OWN = (OwnRegistry("baseimages", "127.0.0.1:5002"), OwnRegistry("myregistry", "127.0.0.1:5001"))
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("source", "images", "repositories", "registry", "expected"),
    [
        # Docker Hub official image: library/ is dropped from the target, as ACR does.
        ("node:15-alpine", [], [], None, ("docker.io", "library/node", "15-alpine", None, False,
                                           [("node", "15-alpine")], [])),
        ("docker.io/library/hello-world:latest", ["hello-world:v1"], [], None,
         ("docker.io", "library/hello-world", "latest", None, False, [("hello-world", "v1")], [])),
        ("docker.io/bitnami/nginx:1.25", [], [], None,
         ("docker.io", "bitnami/nginx", "1.25", None, False, [("bitnami/nginx", "1.25")], [])),
        ("mcr.microsoft.com/dotnet/runtime:8.0", [], [], None,
         ("mcr.microsoft.com", "dotnet/runtime", "8.0", None, False,
          [("dotnet/runtime", "8.0")], [])),
        # No tag given: latest.
        ("ghcr.io/owner/app", [], [], None,
         ("ghcr.io", "owner/app", "latest", None, False, [("owner/app", "latest")], [])),
        # By digest only: a manifest-only copy in the source's repository.
        (f"quay.io/prometheus/node-exporter@{DIGEST}", [], [], None,
         ("quay.io", "prometheus/node-exporter", None, DIGEST, False, [],
          ["prometheus/node-exporter"])),
        # By digest with a target tag.
        (f"node@{DIGEST}", ["node:pinned"], [], None,
         ("docker.io", "library/node", None, DIGEST, False, [("node", "pinned")], [])),
        # --repository only: untagged copies.
        ("node:20", [], ["mirror/node", "other"], None,
         ("docker.io", "library/node", "20", None, False, [], ["mirror/node", "other"])),
        # Several tags and a repository at once.
        ("node:20", ["a:1", "b:2"], ["c"], None,
         ("docker.io", "library/node", "20", None, False, [("a", "1"), ("b", "2")], ["c"])),
        # A target without a tag takes the source's tag.
        ("node:20", ["base/node"], [], None,
         ("docker.io", "library/node", "20", None, False, [("base/node", "20")], [])),
        # One of this server's registries, by name with --registry: no normalisation.
        ("hello:v1", [], [], "baseimages",
         ("baseimages", "hello", "v1", None, True, [("hello", "v1")], [])),
        ("hello:v1", [], [], "BaseImages",
         ("baseimages", "hello", "v1", None, True, [("hello", "v1")], [])),
        ("hello:v1", [], [], "localhost:5002",
         ("baseimages", "hello", "v1", None, True, [("hello", "v1")], [])),
        # ... and by its login server (localhost is the same address).
        ("127.0.0.1:5001/team/app:v2", ["app:v2"], [], None,
         ("myregistry", "team/app", "v2", None, True, [("app", "v2")], [])),
        ("localhost:5001/team/app:v2", [], [], None,
         ("myregistry", "team/app", "v2", None, True, [("team/app", "v2")], [])),
        # An external registry host with --registry.
        ("owner/app:1", [], [], "ghcr.io",
         ("ghcr.io", "owner/app", "1", None, False, [("owner/app", "1")], [])),
        # Another loopback port is not ours: remote (the guard decides).
        ("127.0.0.1:5999/app:1", [], [], None,
         ("127.0.0.1:5999", "app", "1", None, False, [("app", "1")], [])),
    ],
)  # fmt: skip
def test_parse_import(
    source: str,
    images: list[str],
    repositories: list[str],
    registry: str | None,
    expected: tuple[str, str, str | None, str | None, bool, list[tuple[str, str]], list[str]],
) -> None:
    spec = parse_import(
        source, images=images, repositories=repositories, registry=registry, own=OWN
    )
    src = spec.source
    got = (src.registry, src.repository, src.tag, src.digest, src.local)
    assert got == expected[:5]
    assert spec.tags == tuple(TargetTag(r, t) for r, t in expected[5])
    assert spec.repositories == tuple(expected[6])


def test_reference_prefers_the_digest() -> None:
    spec = parse_import(f"node:20@{DIGEST}", own=OWN)
    assert spec.source.reference == DIGEST
    assert spec.tags == (TargetTag("node", "20"),)


@pytest.mark.parametrize(
    ("source", "images", "repositories", "registry", "message"),
    [
        ("", [], [], None, "--source is required"),
        ("Node:20", [], [], None, "invalid --source"),
        ("node:20", ["app@" + DIGEST], [], None, "not a digest"),
        ("node:20", ["App:1"], [], None, "invalid --image"),
        ("node:20", ["app:-bad"], [], None, "invalid --image"),
        ("node:20", [], ["UPPER"], None, "invalid --repository"),
        ("hello:v1", [], [], "nosuchregistry", "not a registry of this server"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(
    source: str, images: list[str], repositories: list[str], registry: str | None, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        parse_import(source, images=images, repositories=repositories, registry=registry, own=OWN)
