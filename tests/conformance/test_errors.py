"""Error bodies: ``{"errors": [{"code", "message", "detail"}]}`` with the spec's codes.

Each reachable code is provoked and checked with its status. UNAUTHORIZED, DENIED and
TOOMANYREQUESTS need authentication or rate limits, which neither server under test has in this
setup; NAME_INVALID, MANIFEST_INVALID and SIZE_INVALID are also exercised in test_bad_input.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.conformance import oci_builders as oci
from tests.conformance.helpers import (
    OCTET,
    SPEC_ERROR_CODES,
    Registry,
    departures,
    describe,
    expect_error,
    get_manifest,
    push_blob,
    push_manifest,
    put_manifest,
    start_upload,
    with_query,
)

departures(
    {
        "test_error_code:NAME_INVALID": (
            "an upper-case repository name is 404 text/plain '404 page not found' (no route)"
        ),
        "test_error_code:BLOB_UPLOAD_UNKNOWN": (
            "an upload URL whose session does not exist is 404 BLOB_UPLOAD_INVALID"
        ),
        "test_error_code:SIZE_INVALID": (
            "a PATCH whose body (3 bytes) is shorter than its Content-Range (0-9) is accepted: "
            "202 with Range: 0-2"
        ),
    }
)


def _blob_unknown(registry: Registry) -> httpx.Response:
    push_blob(registry, oci.layer("errors-sibling", 64))
    missing = oci.missing_descriptor("errors-blob")["digest"]
    return registry.client.get(f"/v2/{registry.repo}/blobs/{missing}")


def _blob_upload_invalid(registry: Registry) -> httpx.Response:
    """Closing an upload without the required ``digest`` parameter."""
    location = start_upload(registry)
    return registry.client.put(location, content=b"abc", headers=OCTET)


def _blob_upload_unknown(registry: Registry) -> httpx.Response:
    start_upload(registry)
    return registry.client.get(
        f"/v2/{registry.repo}/blobs/uploads/00000000-0000-4000-8000-000000000000"
    )


def _digest_invalid(registry: Registry) -> httpx.Response:
    location = start_upload(registry)
    wrong = oci.missing_descriptor("errors-digest")["digest"]
    return registry.client.put(with_query(location, digest=wrong), content=b"abc", headers=OCTET)


def _manifest_blob_unknown(registry: Registry) -> httpx.Response:
    image = oci.image_manifest("errors-mbu")
    push_blob(registry, image.blobs[0])  # the config, not the layer
    return put_manifest(registry, image, "v1")


def _manifest_invalid(registry: Registry) -> httpx.Response:
    bad = oci.Manifest(b"{not json", oci.IMAGE_MANIFEST)
    return put_manifest(registry, bad, "v1")


def _manifest_unknown(registry: Registry) -> httpx.Response:
    push_manifest(registry, oci.image_manifest("errors-mu"), "present")
    return get_manifest(registry, "absent")


def _name_invalid(registry: Registry) -> httpx.Response:
    return registry.client.post(f"/v2/{registry.repo.upper()}/blobs/uploads/")


def _name_unknown(registry: Registry) -> httpx.Response:
    return registry.client.get(f"/v2/{registry.new_repo('never-pushed')}/tags/list")


def _size_invalid(registry: Registry) -> httpx.Response:
    location = start_upload(registry)
    return registry.client.patch(
        location, content=b"abc", headers={**OCTET, "Content-Range": "0-9"}
    )


TRIGGERS: dict[str, tuple[set[int], set[str], Callable[[Registry], httpx.Response]]] = {
    "BLOB_UNKNOWN": ({404}, {"BLOB_UNKNOWN"}, _blob_unknown),
    "BLOB_UPLOAD_INVALID": ({400}, {"BLOB_UPLOAD_INVALID", "DIGEST_INVALID"}, _blob_upload_invalid),
    "BLOB_UPLOAD_UNKNOWN": ({404}, {"BLOB_UPLOAD_UNKNOWN"}, _blob_upload_unknown),
    "DIGEST_INVALID": ({400}, {"DIGEST_INVALID"}, _digest_invalid),
    "MANIFEST_BLOB_UNKNOWN": ({400}, {"MANIFEST_BLOB_UNKNOWN"}, _manifest_blob_unknown),
    "MANIFEST_INVALID": ({400}, {"MANIFEST_INVALID"}, _manifest_invalid),
    "MANIFEST_UNKNOWN": ({404}, {"MANIFEST_UNKNOWN"}, _manifest_unknown),
    "NAME_INVALID": ({400}, {"NAME_INVALID"}, _name_invalid),
    "NAME_UNKNOWN": ({404}, {"NAME_UNKNOWN"}, _name_unknown),
    # The spec gives no status for a chunk shorter than its range: 400 SIZE_INVALID, or 416.
    "SIZE_INVALID": ({400, 416}, {"SIZE_INVALID", "BLOB_UPLOAD_INVALID"}, _size_invalid),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_error_code(registry: Registry, code: str) -> None:
    statuses, codes, trigger = TRIGGERS[code]
    resp = trigger(registry)
    expect_error(registry, resp, statuses, codes, check=code)


def test_error_body_shape(registry: Registry) -> None:
    """Every error is JSON with a list of objects: ``code`` (a spec code), ``message``
    (string), optional ``detail`` (any JSON)."""
    missing = oci.missing_descriptor("error-shape")["digest"]
    push_manifest(registry, oci.image_manifest("error-shape"), "v1")
    responses = [
        registry.client.get(f"/v2/{registry.repo}/blobs/{missing}"),
        get_manifest(registry, missing),
        registry.client.get(f"/v2/{registry.new_repo('never-pushed')}/tags/list"),
    ]
    for resp in responses:
        assert resp.status_code == 404, describe(resp)
        assert resp.headers["content-type"].split(";")[0] == "application/json", describe(resp)
        body = json.loads(resp.content)
        assert isinstance(body, dict) and set(body) == {"errors"}, body
        assert isinstance(body["errors"], list) and body["errors"], body
        for err in body["errors"]:
            assert set(err) <= {"code", "message", "detail"}, err
            assert err["code"] in SPEC_ERROR_CODES, err
            assert isinstance(err.get("message", ""), str), err
