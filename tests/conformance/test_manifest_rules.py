"""Manifest rules beyond the grammar: ambiguous documents (CVE-2021-41190), descriptor sizes,
nesting depth, and tags set with ``?tag=`` on a push by digest.

Every refusal is checked for "nothing stored" first (plain asserts), then for its status and
code through ``expect_spec``/``expect_error``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    Registry,
    departures,
    describe,
    error_codes,
    expect_error,
    expect_spec,
    get_manifest,
    json_body,
    manifest_exists,
    push_blob,
    push_manifest,
    put_manifest,
    tag_list,
)

departures(
    {
        "test_descriptor_size_must_match_the_blob": (
            "a config descriptor whose size differs from the stored blob is accepted (201)"
        ),
        "test_descriptor_size_must_match_the_child_manifest": (
            "an index entry whose size differs from the stored child manifest is accepted (201)"
        ),
        "test_deeply_nested_manifest_is_invalid": (
            "a manifest with a descriptor field nested 40 levels deep is accepted (201)"
        ),
        "test_put_by_digest_with_tag_parameters": (
            "ignores ?tag= on a PUT by digest: no OCI-Tag header and no tags created"
        ),
        "test_invalid_tag_parameter_stores_nothing": (
            "ignores ?tag= on a PUT by digest: a malformed tag value is 201"
        ),
    }
)


def raw_manifest(body: dict[str, Any], media_type: str = oci.IMAGE_MANIFEST) -> oci.Manifest:
    return oci.Manifest(oci.canonical_json(body), media_type)


def pushed_image(registry: Registry, seed: str) -> oci.Manifest:
    image = oci.image_manifest(seed)
    push_manifest(registry, image)
    return image


# ---------------------------------------------------------------------------------------------
# Ambiguous manifests


def test_manifest_with_layers_and_manifests_is_invalid(registry: Registry) -> None:
    child = pushed_image(registry, "child")
    cfg, layer = oci.config("ambiguous"), oci.layer("ambiguous")
    for blob in (cfg, layer):
        push_blob(registry, blob)
    for media_type in (oci.IMAGE_MANIFEST, oci.IMAGE_INDEX):
        both = raw_manifest(
            {
                "schemaVersion": 2,
                "mediaType": media_type,
                "config": cfg.descriptor(),
                "layers": [layer.descriptor()],
                "manifests": [child.descriptor()],
            },
            media_type,
        )
        resp = put_manifest(registry, both, "ambiguous")
        assert not manifest_exists(registry, both.digest), describe(resp)
        expect_error(registry, resp, 400, "MANIFEST_INVALID", check=media_type)
        if registry.kind == "airlock":
            assert "CVE-2021-41190" in json_body(resp)["errors"][0]["message"]
    assert tag_list(registry) in (None, [])


def test_index_with_layers_is_invalid(registry: Registry) -> None:
    child = pushed_image(registry, "child")
    layer = oci.layer("stray")
    index = raw_manifest(
        {
            "schemaVersion": 2,
            "mediaType": oci.IMAGE_INDEX,
            "manifests": [child.descriptor()],
            "layers": [layer.descriptor()],
        },
        oci.IMAGE_INDEX,
    )
    resp = put_manifest(registry, index)
    assert not manifest_exists(registry, index.digest), describe(resp)
    expect_error(registry, resp, 400, "MANIFEST_INVALID")


# ---------------------------------------------------------------------------------------------
# Descriptor sizes


def test_descriptor_size_must_match_the_blob(registry: Registry) -> None:
    image = pushed_image(registry, "sized")
    body = image.json()
    body["config"]["size"] += 1
    body["annotations"] = {"variant": "wrong-size"}
    wrong = raw_manifest(body)
    resp = put_manifest(registry, wrong, "wrong")
    # Stricter than the spec asks (the reference accepts it): checked after the status.
    expect_error(registry, resp, 400, "MANIFEST_INVALID")
    assert not manifest_exists(registry, wrong.digest), describe(resp)
    assert tag_list(registry) == [], "the refused tag must not exist"
    if registry.kind == "airlock":
        message = json_body(resp)["errors"][0]["message"]
        config = body["config"]
        assert config["digest"] in message
        assert f"declares size {config['size']}" in message
        assert f"stored content is {config['size'] - 1} bytes" in message


def test_descriptor_size_must_match_the_child_manifest(registry: Registry) -> None:
    child = pushed_image(registry, "child")
    entry = child.descriptor()
    entry["size"] = child.size + 10
    index = raw_manifest(
        {"schemaVersion": 2, "mediaType": oci.IMAGE_INDEX, "manifests": [entry]},
        oci.IMAGE_INDEX,
    )
    resp = put_manifest(registry, index)
    expect_error(registry, resp, 400, "MANIFEST_INVALID")
    assert not manifest_exists(registry, index.digest), describe(resp)
    if registry.kind == "airlock":
        message = json_body(resp)["errors"][0]["message"]
        assert child.digest in message and f"is {child.size} bytes" in message


def test_right_sizes_are_accepted(registry: Registry) -> None:
    child = pushed_image(registry, "child")
    index = oci.image_index([child])
    resp = put_manifest(registry, index, "v1")
    expect_spec(registry, resp.status_code == 201, f"want 201, got {describe(resp)}")
    assert get_manifest(registry, "v1").content == index.data


# ---------------------------------------------------------------------------------------------
# Nesting


def test_deeply_nested_manifest_is_invalid(registry: Registry) -> None:
    image = pushed_image(registry, "deep")
    body = image.json()
    nested: Any = "bottom"
    for _ in range(40):
        nested = {"next": nested}
    body["config"]["platform"] = nested
    deep = oci.Manifest(json.dumps(body, separators=(",", ":")).encode(), oci.IMAGE_MANIFEST)
    resp = put_manifest(registry, deep, "deep")
    expect_error(registry, resp, 400, "MANIFEST_INVALID")
    assert not manifest_exists(registry, deep.digest), describe(resp)
    assert tag_list(registry) == []
    if registry.kind == "airlock":
        assert "nested deeper than" in json_body(resp)["errors"][0]["message"]


# ---------------------------------------------------------------------------------------------
# ?tag= on a push by digest


def oci_tags(values: list[str]) -> list[str]:
    """The tags of ``OCI-Tag`` headers, each of which may list several (RFC 9110)."""
    return [tag.strip() for value in values for tag in value.split(",") if tag.strip()]


def test_put_by_digest_with_tag_parameters(registry: Registry) -> None:
    image = oci.image_manifest("tagged")
    for blob in image.blobs:
        push_blob(registry, blob)
    tags = ["1.2.3", "1.2", "latest"]
    resp = registry.client.put(
        f"/v2/{registry.repo}/manifests/{image.digest}",
        params=[("tag", t) for t in tags],
        content=image.data,
        headers={"Content-Type": image.media_type},
    )
    assert resp.status_code == 201, describe(resp)
    found = oci_tags(resp.headers.get_list("oci-tag"))
    expect_spec(
        registry,
        sorted(found) == sorted(tags) and set(tags) <= set(tag_list(registry) or []),
        f"want OCI-Tag headers and tags {tags}, got headers {found} and tags {tag_list(registry)}",
    )
    if registry.kind == "airlock":
        # One header per tag, in the order asked.
        assert resp.headers.get_list("oci-tag") == tags
        for tag in tags:
            assert get_manifest(registry, tag).headers["docker-content-digest"] == image.digest


def test_invalid_tag_parameter_stores_nothing(registry: Registry) -> None:
    image = oci.image_manifest("badtag")
    for blob in image.blobs:
        push_blob(registry, blob)
    resp = registry.client.put(
        f"/v2/{registry.repo}/manifests/{image.digest}",
        params=[("tag", "good"), ("tag", "-bad")],
        content=image.data,
        headers={"Content-Type": image.media_type},
    )
    assert "good" not in (tag_list(registry) or [])
    expect_error(registry, resp, 400, {"TAG_INVALID", "MANIFEST_INVALID"})
    if registry.kind == "airlock":
        assert error_codes(resp) == ["TAG_INVALID"]
        assert "'-bad'" in json_body(resp)["errors"][0]["message"]
        assert not manifest_exists(registry, image.digest)
