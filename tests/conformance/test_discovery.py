"""Content discovery: tags list (``n``, ``last``, ``Link``), the catalog, the referrers API."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    Registry,
    departures,
    describe,
    expect_error,
    expect_spec,
    json_body,
    next_link,
    push_blob,
    push_manifest,
    put_manifest,
)

NO_REFERRERS = (
    "no referrers API: GET /v2/<name>/referrers/<digest> is 404 text/plain '404 page not found'"
)
NO_TAG_PAGINATION = "ignores n and last on tags/list: ?n=3, ?n=0 and ?last=x return all 11 tags"

departures(
    {
        "test_tags_list_is_sorted": (
            "tags/list is unsorted: ['b','E.3','v2','v1.0','C','z','e_2','a','v10','e-1','d']"
        ),
        "test_tags_list_n": NO_TAG_PAGINATION,
        "test_tags_list_n_and_last": NO_TAG_PAGINATION,
        "test_tags_list_last_without_n": NO_TAG_PAGINATION,
        "test_tags_list_n_zero": NO_TAG_PAGINATION,
        "test_tags_list_follow_link": NO_TAG_PAGINATION,
        "test_referrers_empty": NO_REFERRERS,
        "test_referrers_lists_subject_manifests": NO_REFERRERS,
        "test_referrers_artifact_type_filter": NO_REFERRERS,
        "test_referrers_of_unknown_subject": NO_REFERRERS,
        "test_referrers_invalid_digest": NO_REFERRERS,
        "test_referrers_subject_pushed_after_referrer": NO_REFERRERS,
    }
)

TAGS = ["b", "a", "C", "d", "e-1", "e_2", "E.3", "z", "v1.0", "v10", "v2"]


def push_tags(registry: Registry, tags: list[str]) -> None:
    """Tag one small image under every name in ``tags``."""
    image = oci.image_manifest("tags", layer_size=256)
    push_manifest(registry, image, tags[0])
    for tag in tags[1:]:
        resp = put_manifest(registry, image, tag)
        assert resp.status_code == 201, describe(resp)


def is_spec_order(tags: list[str]) -> bool:
    """Lexical (case-insensitive) or "ASCIIbetical" (Go's ``sort.Strings``) order."""
    return tags in (sorted(tags), sorted(tags, key=str.lower))


def tags_page(registry: Registry, query: str) -> tuple[list[str], str | None, int]:
    resp = registry.client.get(f"/v2/{registry.repo}/tags/list{query}")
    assert resp.status_code == 200, describe(resp)
    body = json_body(resp)
    assert body["name"] == registry.repo
    tags: list[str] = body.get("tags") or []
    return tags, next_link(registry, resp), resp.status_code


def spec_order(registry: Registry) -> list[str]:
    """All tags in the order this server claims: whichever of the two the spec allows."""
    tags, _, _ = tags_page(registry, "")
    return tags if tags == sorted(tags, key=str.lower) else sorted(tags)


def test_tags_list(registry: Registry) -> None:
    push_tags(registry, TAGS)
    resp = registry.client.get(f"/v2/{registry.repo}/tags/list")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["content-type"].split(";")[0] == "application/json"
    body = json_body(resp)
    assert body["name"] == registry.repo
    assert sorted(body["tags"]) == sorted(TAGS)


def test_tags_list_is_sorted(registry: Registry) -> None:
    push_tags(registry, TAGS)
    tags, _, _ = tags_page(registry, "")
    expect_spec(registry, is_spec_order(tags), f"tags must be sorted, got {tags}")


def test_tags_list_n(registry: Registry) -> None:
    push_tags(registry, TAGS)
    tags, link, _ = tags_page(registry, "?n=3")
    expect_spec(registry, len(tags) == 3, f"?n=3 must return exactly 3 of 11 tags, got {tags}")
    assert tags == spec_order(registry)[:3]
    if link is not None:
        assert "n=3" in link and "last=" in link, link


def test_tags_list_n_and_last(registry: Registry) -> None:
    push_tags(registry, TAGS)
    ordered = spec_order(registry)
    tags, _, _ = tags_page(registry, f"?n=2&last={ordered[3]}")
    expect_spec(registry, tags == ordered[4:6], f"want {ordered[4:6]}, got {tags}")


def test_tags_list_last_without_n(registry: Registry) -> None:
    push_tags(registry, TAGS)
    ordered = spec_order(registry)
    tags, _, _ = tags_page(registry, f"?last={ordered[7]}")
    expect_spec(registry, tags == ordered[8:], f"want {ordered[8:]}, got {tags}")


def test_tags_list_n_zero(registry: Registry) -> None:
    push_tags(registry, TAGS)
    tags, link, _ = tags_page(registry, "?n=0")
    expect_spec(registry, tags == [], f"?n=0 must return no tags, got {tags}")
    assert link is None, "n=0 must not carry a Link header"


def test_tags_list_follow_link(registry: Registry) -> None:
    push_tags(registry, TAGS)
    ordered = spec_order(registry)
    url: str | None = f"/v2/{registry.repo}/tags/list?n=4"
    seen: list[str] = []
    pages = 0
    while url is not None and pages < 10:
        pages += 1
        resp = registry.client.get(url)
        assert resp.status_code == 200, describe(resp)
        page = json_body(resp).get("tags") or []
        expect_spec(registry, len(page) <= 4, f"a page of n=4 held {len(page)} tags: {page}")
        seen += page
        url = next_link(registry, resp)
        if url is None and len(seen) < len(ordered):
            # No Link: the client goes on with last= (the spec's older pagination).
            url = f"/v2/{registry.repo}/tags/list?n=4&last={seen[-1]}" if page else None
    assert seen == ordered


def test_tags_list_unknown_repository(registry: Registry) -> None:
    resp = registry.client.get(f"/v2/{registry.new_repo('never-pushed')}/tags/list")
    expect_error(registry, resp, 404, "NAME_UNKNOWN")


def test_catalog_pagination(registry: Registry) -> None:
    prefix = f"zz-catalog-{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}/r1", f"{prefix}/r2", f"{prefix}/r3"]
    for name in names:
        push_manifest(registry, oci.image_manifest(f"catalog-{name}", layer_size=128), "v1", name)

    # Every repository name that starts with the prefix sorts after the prefix itself.
    resp = registry.client.get(f"/v2/_catalog?n=2&last={prefix}")
    assert resp.status_code == 200, describe(resp)
    assert json_body(resp)["repositories"] == names[:2]
    link = next_link(registry, resp)
    assert link is not None, "more repositories follow: a Link header rel=next is expected"
    resp = registry.client.get(link)
    assert resp.status_code == 200, describe(resp)
    assert json_body(resp)["repositories"][:1] == names[2:]

    resp = registry.client.get(f"/v2/_catalog?n=1&last={names[0]}")
    assert resp.status_code == 200, describe(resp)
    assert json_body(resp)["repositories"] == names[1:2]

    resp = registry.client.get("/v2/_catalog?n=0")
    assert resp.status_code == 200, describe(resp)
    assert json_body(resp)["repositories"] == []
    assert "link" not in resp.headers


# ---------------------------------------------------------------------------------------------
# Referrers API (distribution-spec 1.1)


def get_referrers(
    registry: Registry, digest: str, artifact_type: str | None = None
) -> tuple[int, Any, str, str | None]:
    url = f"/v2/{registry.repo}/referrers/{digest}"
    params = {"artifactType": artifact_type} if artifact_type else None
    resp = registry.client.get(url, params=params)
    body = json_body(resp) if resp.status_code == 200 else None
    return resp.status_code, body, describe(resp), resp.headers.get("oci-filters-applied")


def is_index(body: Any) -> bool:
    return (
        body is not None
        and isinstance(body, dict)
        and body.get("schemaVersion") == 2
        and body.get("mediaType") == oci.IMAGE_INDEX
        and isinstance(body.get("manifests"), list)
    )


def test_referrers_empty(registry: Registry) -> None:
    image = oci.image_manifest("referrers-empty")
    push_manifest(registry, image, "v1")
    resp = registry.client.get(f"/v2/{registry.repo}/referrers/{image.digest}")
    expect_spec(registry, resp.status_code == 200, f"want 200, got {describe(resp)}")
    assert resp.headers["content-type"].split(";")[0] == oci.IMAGE_INDEX
    body = json_body(resp)
    assert is_index(body), body
    assert body["manifests"] == []


def test_referrers_lists_subject_manifests(registry: Registry) -> None:
    image = oci.image_manifest("referrers-image")
    push_manifest(registry, image, "v1")
    sbom = oci.artifact_manifest(
        "referrers-sbom",
        image,
        artifact_type="application/vnd.example.sbom.v1",
        annotations={"org.example.format": "json"},
    )
    # No artifactType: the descriptor's artifactType is the config's mediaType.
    signature = oci.artifact_manifest(
        "referrers-sig",
        image,
        artifact_type=None,
        config_blob=oci.Blob(b'{"sig":1}', "application/vnd.example.signature.config.v1+json"),
    )
    index = oci.image_index(
        [sbom], subject=image, annotations={"org.example.kind": "bundle"}
    )  # an index without artifactType: the descriptor has none
    unrelated = oci.image_manifest("referrers-unrelated")
    for manifest in (sbom, signature, unrelated):
        push_manifest(registry, manifest)
    push_manifest(registry, index)

    status, body, text, _ = get_referrers(registry, image.digest)
    expect_spec(registry, status == 200, f"want 200, got {text}")
    assert is_index(body), body
    assert body is not None
    by_digest = {d["digest"]: d for d in body["manifests"]}
    assert set(by_digest) == {sbom.digest, signature.digest, index.digest}, body

    fields = ("mediaType", "digest", "size", "artifactType", "annotations")
    assert {k: by_digest[sbom.digest].get(k) for k in fields} == {
        "mediaType": oci.IMAGE_MANIFEST,
        "digest": sbom.digest,
        "size": sbom.size,
        "artifactType": "application/vnd.example.sbom.v1",
        "annotations": {"org.example.format": "json"},
    }
    sig = by_digest[signature.digest]
    assert sig["artifactType"] == "application/vnd.example.signature.config.v1+json"
    assert sig["size"] == signature.size and sig["mediaType"] == oci.IMAGE_MANIFEST
    idx = by_digest[index.digest]
    assert idx["mediaType"] == oci.IMAGE_INDEX and idx["size"] == index.size
    assert "artifactType" not in idx
    assert idx["annotations"] == {"org.example.kind": "bundle"}


def test_referrers_artifact_type_filter(registry: Registry) -> None:
    image = oci.image_manifest("filter-image")
    push_manifest(registry, image, "v1")
    sbom = oci.artifact_manifest("filter-sbom", image, artifact_type="application/vnd.example.sbom")
    sig = oci.artifact_manifest("filter-sig", image, artifact_type="application/vnd.example.sig")
    push_manifest(registry, sbom)
    push_manifest(registry, sig)

    status, body, text, applied = get_referrers(
        registry, image.digest, artifact_type="application/vnd.example.sbom"
    )
    expect_spec(registry, status == 200, f"want 200, got {text}")
    assert applied is not None and "artifactType" in [f.strip() for f in applied.split(",")], (
        f"the filter must be applied and said so in OCI-Filters-Applied: {text}"
    )
    assert body is not None
    assert [d["digest"] for d in body["manifests"]] == [sbom.digest]

    status, body, text, applied = get_referrers(
        registry, image.digest, artifact_type="application/vnd.example.none"
    )
    assert status == 200, text
    assert body is not None and body["manifests"] == [], text
    assert applied is not None and "artifactType" in applied


def test_referrers_of_unknown_subject(registry: Registry) -> None:
    """A registry with the referrers API MUST NOT answer 404: no referrers is an empty index."""
    push_manifest(registry, oci.image_manifest("unknown-subject"), "v1")
    missing = oci.missing_descriptor("referrers-unknown")["digest"]
    status, body, text, _ = get_referrers(registry, missing)
    expect_spec(registry, status == 200, f"want 200 with an empty index, got {text}")
    assert is_index(body) and body is not None and body["manifests"] == [], text


def test_referrers_invalid_digest(registry: Registry) -> None:
    push_manifest(registry, oci.image_manifest("referrers-invalid"), "v1")
    resp = registry.client.get(f"/v2/{registry.repo}/referrers/sha256:not-hex")
    expect_spec(registry, resp.status_code == 400, f"want 400, got {describe(resp)}")


def test_referrers_subject_pushed_after_referrer(registry: Registry) -> None:
    """Referrers may be pushed before their subject; both orders are listed once it exists."""
    image = oci.image_manifest("late-subject")
    sbom = oci.artifact_manifest("late-subject-sbom", image)
    push_manifest(registry, sbom)
    for blob in image.blobs:
        push_blob(registry, blob)
    resp = put_manifest(registry, image, "v1")
    assert resp.status_code == 201, describe(resp)

    status, body, text, _ = get_referrers(registry, image.digest)
    expect_spec(registry, status == 200, f"want 200, got {text}")
    assert body is not None
    assert [d["digest"] for d in body["manifests"]] == [sbom.digest]
