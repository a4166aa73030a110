"""Shared helpers for the conformance tests: the per-test registry handle, spec expectations with
the table of observed departures of the reference server, OCI error bodies and push shortcuts."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest

from tests.conformance.oci_builders import MANIFEST_ACCEPT, Blob, Manifest, sha256_digest
from tests.support.registry_auth import RegistryTokenAuth

AIRLOCK = "airlock"
DISTRIBUTION = "distribution"
SERVERS = (AIRLOCK, DISTRIBUTION)

# The error codes of the OCI Distribution Spec v1.1 ("Error Codes", code-1 .. code-14).
SPEC_ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)

# Where CNCF Distribution 2.8.2 (the reference) was seen to depart from the spec. Keyed by
# (server, test id) or (server, "test id:check"); the value is what was observed. Only the
# reference server may appear here: Airlock is never excused.
KNOWN_DEPARTURES: dict[tuple[str, str], str] = {}


def departures(entries: dict[str, str]) -> None:
    """Register Distribution departures (called by the test modules at import time)."""
    for test_id, reason in entries.items():
        KNOWN_DEPARTURES[(DISTRIBUTION, test_id)] = reason


@dataclass
class Registry:
    """One test's view of one server: its kind, a client on its base URL and a fresh repository.

    ``auth`` is the client's token flow (Airlock), None where the server is open (Distribution).
    """

    kind: str
    base_url: str
    client: httpx.Client
    repo: str
    test_id: str
    auth: RegistryTokenAuth | None = None

    def allow_mount(self, source: str, repo: str | None = None) -> None:
        """Before a cross-repository mount into ``repo``: a push token that may also pull from
        ``source``, as Docker clients ask for one (no challenge names the source)."""
        if self.auth is not None:
            self.auth.prefetch(
                self.base_url, repo or self.repo, "push", also=[f"repository:{source}:pull"]
            )

    def new_repo(self, label: str = "other") -> str:
        """Another repository name unique to this test (for cross-repository tests)."""
        return f"{self.repo}-{label}-{uuid.uuid4().hex[:6]}"

    def url(self, location: str) -> str:
        """Resolve a ``Location`` or ``Link`` target, relative or absolute, to an absolute URL."""
        return urljoin(self.base_url + "/", location)


def repo_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:60] or "test"
    return f"conformance/{slug}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# Spec expectations


def expect_spec(registry: Registry, ok: bool, what: str, *, check: str | None = None) -> None:
    """Assert a spec requirement; xfail only where the reference's departure was observed.

    ``what`` says what the spec wants and what came back. A departure listed for a check that now
    conforms fails too, so the table stays true.
    """
    test_id = registry.test_id if check is None else f"{registry.test_id}:{check}"
    reason = KNOWN_DEPARTURES.get((registry.kind, test_id))
    if ok:
        if reason is not None:
            pytest.fail(
                f"{registry.kind} now conforms for {test_id!r}; remove it from KNOWN_DEPARTURES "
                f"(was: {reason})"
            )
        return
    if reason is not None and registry.kind == DISTRIBUTION:
        observed = what if len(what) <= 240 else what[:237] + "..."
        pytest.xfail(f"{registry.kind} departs from the spec: {reason} | observed: {observed}")
    pytest.fail(f"[{registry.kind}] {what}")


def describe(resp: httpx.Response) -> str:
    """One line about a response, for failure messages."""
    try:
        body = resp.content[:300]
    except httpx.ResponseNotRead:
        body = b"<not read>"
    interesting = {
        k: v
        for k, v in resp.headers.items()
        if k.lower()
        in {
            "content-type",
            "content-length",
            "content-range",
            "location",
            "range",
            "docker-content-digest",
            "oci-subject",
            "oci-filters-applied",
            "link",
        }
    }
    request = f"{resp.request.method} {resp.request.url.path}"
    return f"{request} -> {resp.status_code} {interesting} {body!r}"


def error_codes(resp: httpx.Response) -> list[str] | None:
    """The codes of an OCI error body, or None when the body is not one.

    The shape is ``{"errors": [{"code": "UPPER_CASE", "message"?: str, "detail"?: any}]}``.
    """
    try:
        body = json.loads(resp.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return None
    codes: list[str] = []
    for err in body["errors"]:
        if not isinstance(err, dict) or not isinstance(err.get("code"), str):
            return None
        if not re.fullmatch(r"[A-Z_]+", err["code"]):
            return None
        if "message" in err and not isinstance(err["message"], str):
            return None
        codes.append(err["code"])
    return codes or None


def is_error(resp: httpx.Response, statuses: int | set[int], codes: set[str] | None) -> bool:
    wanted = {statuses} if isinstance(statuses, int) else statuses
    if resp.status_code not in wanted:
        return False
    if codes is None:
        return True
    found = error_codes(resp)
    return found is not None and bool(codes.intersection(found))


def expect_error(
    registry: Registry,
    resp: httpx.Response,
    status: int | set[int],
    codes: str | set[str] | None,
    *,
    check: str | None = None,
) -> None:
    """Expect an error status with an OCI error body carrying one of ``codes``."""
    wanted = {codes} if isinstance(codes, str) else codes
    expect_spec(
        registry,
        is_error(resp, status, wanted),
        f"want {status} with error code {sorted(wanted) if wanted else 'any'}, "
        f"got {describe(resp)}",
        check=check,
    )


# ---------------------------------------------------------------------------------------------
# Request shortcuts


def with_query(url: str, **params: str) -> str:
    """Append query parameters, keeping any the server put in an upload URL (httpx's ``params=``
    would replace them)."""
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


OCTET = {"Content-Type": "application/octet-stream"}


def start_upload(registry: Registry, repo: str | None = None) -> str:
    resp = registry.client.post(
        f"/v2/{repo or registry.repo}/blobs/uploads/", headers={"Content-Length": "0"}
    )
    assert resp.status_code == 202, describe(resp)
    assert "location" in resp.headers, describe(resp)
    return registry.url(resp.headers["location"])


def push_blob(registry: Registry, blob: Blob | bytes, repo: str | None = None) -> httpx.Response:
    data = blob.data if isinstance(blob, Blob) else blob
    location = start_upload(registry, repo)
    resp = registry.client.put(
        with_query(location, digest=sha256_digest(data)), content=data, headers=OCTET
    )
    assert resp.status_code == 201, describe(resp)
    return resp


def put_manifest(
    registry: Registry, manifest: Manifest, reference: str | None = None, repo: str | None = None
) -> httpx.Response:
    return registry.client.put(
        f"/v2/{repo or registry.repo}/manifests/{reference or manifest.digest}",
        content=manifest.data,
        headers={"Content-Type": manifest.media_type},
    )


def push_manifest(
    registry: Registry, manifest: Manifest, reference: str | None = None, repo: str | None = None
) -> httpx.Response:
    """Push ``manifest``'s blobs, then the manifest; assert 201."""
    for blob in manifest.blobs:
        push_blob(registry, blob, repo)
    resp = put_manifest(registry, manifest, reference, repo)
    assert resp.status_code == 201, describe(resp)
    return resp


def get_manifest(
    registry: Registry, reference: str, repo: str | None = None, method: str = "GET"
) -> httpx.Response:
    return registry.client.request(
        method,
        f"/v2/{repo or registry.repo}/manifests/{reference}",
        headers={"Accept": MANIFEST_ACCEPT},
    )


def blob_exists(registry: Registry, digest: str, repo: str | None = None) -> bool:
    resp = registry.client.head(f"/v2/{repo or registry.repo}/blobs/{digest}")
    assert resp.status_code in (200, 404), describe(resp)
    return resp.status_code == 200


def manifest_exists(registry: Registry, reference: str, repo: str | None = None) -> bool:
    resp = get_manifest(registry, reference, repo, method="HEAD")
    assert resp.status_code in (200, 404), describe(resp)
    return resp.status_code == 200


def tag_list(registry: Registry, repo: str | None = None) -> list[str] | None:
    """The repository's tags, or None when the registry does not know the repository."""
    resp = registry.client.get(f"/v2/{repo or registry.repo}/tags/list")
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, describe(resp)
    tags: list[str] = resp.json().get("tags") or []
    return sorted(tags)


def next_link(registry: Registry, resp: httpx.Response) -> str | None:
    """The absolute URL of an RFC 5988 ``Link: <...>; rel="next"`` header, if any."""
    link = resp.headers.get("link")
    if not link:
        return None
    match = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', link)
    assert match, f"malformed Link header: {link!r}"
    return registry.url(match.group(1))


def catalog(registry: Registry, page_size: int = 100, max_pages: int = 50) -> list[str]:
    """Every repository in the catalog, following ``Link`` headers (bounded)."""
    url: str | None = f"/v2/_catalog?n={page_size}"
    names: list[str] = []
    pages = 0
    while url is not None:
        pages += 1
        assert pages <= max_pages, "catalog did not end within the page bound"
        resp = registry.client.get(url)
        assert resp.status_code == 200, describe(resp)
        names += resp.json()["repositories"]
        url = next_link(registry, resp)
    return names


def json_body(resp: httpx.Response) -> Any:
    return json.loads(resp.content)
