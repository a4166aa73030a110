"""The base images of a Dockerfile, as base-image triggers track them."""

from __future__ import annotations

from airlock.runner.dockerfile import base_images, expand, instructions, normalised

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG REGISTRY_NAME=
ARG NODE=15-alpine
FROM ${REGISTRY_NAME}node:${NODE} AS build
RUN echo \\
  hi
FROM --platform=linux/amd64 golang:1.21 AS tools
FROM build
COPY --from=tools /x /x
"""


def test_the_last_stage_is_the_runtime_base_and_earlier_ones_buildtime() -> None:
    bases = base_images(MULTI_STAGE, {})
    # The last FROM names the stage "build": its base is the runtime dependency.
    assert bases.runtime == "node:15-alpine"
    assert bases.buildtime == ("golang:1.21",)


def test_build_arguments_override_arg_defaults() -> None:
    bases = base_images(MULTI_STAGE, {"REGISTRY_NAME": "127.0.0.1:5001/", "NODE": "16"})
    assert bases.runtime == "127.0.0.1:5001/node:16"


def test_scratch_and_no_from_have_no_base() -> None:
    assert base_images("FROM scratch\nCOPY a b\n", {}).all() == ()
    assert base_images("# nothing\n", {}).runtime is None


def test_variable_forms_and_continuations() -> None:
    assert expand("${A:-x}${B:+y}$C${D}", {"B": "1", "C": "c", "D": "d"}) == "xycd"
    assert expand("${A:-x}", {"A": "set"}) == "set"
    assert instructions("RUN a \\\n  # inside\n  b\nfrom x\n") == [("RUN", "a  b"), ("FROM", "x")]


def test_references_are_normalised_as_registries_store_them() -> None:
    reference = normalised("node:15-alpine")
    assert reference is not None
    assert (reference.registry, reference.repository, reference.tag) == (
        "docker.io",
        "library/node",
        "15-alpine",
    )
    assert normalised("Not A Reference") is None
