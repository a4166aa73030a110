"""Content discovery: tags list, catalog and the referrers API, with pagination."""

from __future__ import annotations

from urllib.parse import quote

from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.registry.api.asgi import Request, respond_json
from airlock.registry.api.call import Call, RegistryContext
from airlock.registry.errors import RegistryError

# The most entries one page returns; a larger ``n`` is served in pages (the spec allows
# returning fewer than asked, with a Link header to the rest).
MAX_PAGE = 10_000


def page_size(request: Request) -> int | None:
    value = request.query("n")
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise RegistryError(
            "PAGINATION_NUMBER_INVALID", f"n must be an integer, not {value[:40]!r}"
        ) from None
    if n < 0:
        raise RegistryError("PAGINATION_NUMBER_INVALID", f"n must not be negative (got {n})")
    return min(n, MAX_PAGE)


def _next_link(path: str, n: int, last: str) -> str:
    return f'<{path}?n={n}&last={quote(last, safe="")}>; rel="next"'


async def tags(call: Call) -> None:
    request = call.request
    n = page_size(request)
    last = request.query("last")
    limit = MAX_PAGE if n is None else n
    found = call.ctx.content.list_tags(call.repo, limit + 1, last)
    if found is None:
        raise RegistryError(
            "NAME_UNKNOWN", f"repository {call.repo.repository!r} not known to registry"
        )
    headers: dict[str, str] = {}
    if len(found) > limit:
        found = found[:limit]
        if found:
            headers["link"] = _next_link(request.path, limit, found[-1])
    await respond_json(request.send, 200, {"name": call.repo.repository, "tags": found}, headers)


async def catalog(ctx: RegistryContext, request: Request, registry_id: int) -> None:
    n = page_size(request)
    last = request.query("last")
    limit = MAX_PAGE if n is None else n
    found = ctx.content.list_repositories(registry_id, limit + 1, last)
    headers: dict[str, str] = {}
    if len(found) > limit:
        found = found[:limit]
        if found:
            headers["link"] = _next_link(request.path, limit, found[-1])
    await respond_json(request.send, 200, {"repositories": found}, headers)


async def referrers(call: Call) -> None:
    subject = Digest.parse(call.arg)
    artifact_type = call.request.query("artifactType")
    found = call.ctx.content.referrers(call.repo, subject, artifact_type or None)
    headers = {"content-type": mediatypes.OCI_INDEX}
    if artifact_type:
        headers["oci-filters-applied"] = "artifactType"
    index = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [d.to_json() for d in found],
    }
    await respond_json(call.request.send, 200, index, headers)
