"""Image references: docker.io normalisation, tags and digests, and clear errors."""

from __future__ import annotations

import pytest

from airlock.oci.errors import InvalidReferenceError
from airlock.oci.reference import Reference, api_host

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("node:15-alpine", "docker.io", "library/node", "15-alpine", None,
         "docker.io/library/node:15-alpine"),
        ("node", "docker.io", "library/node", "latest", None, "docker.io/library/node:latest"),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None, "docker.io/bitnami/redis:7"),
        ("docker.io/node", "docker.io", "library/node", "latest", None,
         "docker.io/library/node:latest"),
        ("index.docker.io/library/node:1", "docker.io", "library/node", "1", None,
         "docker.io/library/node:1"),
        (f"ghcr.io/a/b@{DIGEST}", "ghcr.io", "a/b", None, DIGEST, f"ghcr.io/a/b@{DIGEST}"),
        (f"quay.io/x/y:v1@{DIGEST}", "quay.io", "x/y", "v1", DIGEST, f"quay.io/x/y:v1@{DIGEST}"),
        ("localhost/app", "localhost", "app", "latest", None, "localhost/app:latest"),
        ("127.0.0.1:5001/hello:v1", "127.0.0.1:5001", "hello", "v1", None,
         "127.0.0.1:5001/hello:v1"),
        ("mcr.microsoft.com/dotnet/sdk:8.0", "mcr.microsoft.com", "dotnet/sdk", "8.0", None,
         "mcr.microsoft.com/dotnet/sdk:8.0"),
    ],
)  # fmt: skip
def test_parse(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None, canonical: str
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)
    assert (str(ref.digest) if ref.digest else None) == digest
    assert str(ref) == canonical
    assert ref.reference == (digest or tag)
    assert Reference.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" node", "empty"),
        ("Node:1", "lowercase"),
        ("node:", "invalid tag"),
        ("node:-x", "invalid tag"),
        ("ghcr.io/", "no repository"),
        ("node@sha256:abc", "64 lowercase hex"),
        ("node@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("ghcr.io/A/b", "invalid repository name"),
    ],
)
def test_invalid_references_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError, match=message) as caught:
        Reference.parse(text)
    assert caught.value.value == text


def test_api_host() -> None:
    assert api_host("docker.io") == "registry-1.docker.io"
    assert api_host("index.docker.io") == "registry-1.docker.io"
    assert api_host("ghcr.io") == "ghcr.io"
    assert api_host("127.0.0.1:5001") == "127.0.0.1:5001"
