"""Manifests by tag or digest: GET/HEAD, PUT (image manifests and indexes), DELETE."""

from __future__ import annotations

from airlock.oci.digest import Digest
from airlock.oci.errors import InvalidManifestError
from airlock.oci.manifest import parse_manifest
from airlock.oci.names import check_tag
from airlock.registry.api.asgi import respond
from airlock.registry.api.call import Call
from airlock.registry.errors import RegistryError
from airlock.registry.locks import READ

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# Tags one PUT by digest may set with ``?tag=`` (the spec asks for at least 10).
MAX_TAGS_PER_PUT = 100


def _reference(arg: str) -> tuple[str, Digest | None]:
    """A tag (checked) or a digest (parsed) from the URL."""
    if ":" in arg:
        digest = Digest.parse(arg)
        return str(digest), digest
    return check_tag(arg), None


async def get(call: Call) -> None:
    reference, by_digest = _reference(call.arg)
    found = call.ctx.content.get_manifest(call.repo, reference)
    if found is None:
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"manifest {reference} not found in repository {call.repo.repository!r}",
            {"reference": reference},
        )
    locks = call.ctx.content.locks_for(call.repo)
    if locks is not None:
        lock = locks.denying(READ, found.digest, None if by_digest else reference)
        if lock is not None:
            raise lock.wire_error()
    head = call.request.method == "HEAD"
    headers = {
        "content-type": found.media_type,
        "docker-content-digest": found.digest,
        "etag": f'"{found.digest}"',
    }
    await respond(
        call.request.send,
        200,
        b"" if head else found.content,
        headers,
        content_length=len(found.content),
    )


def _tag_parameters(call: Call, by_digest: Digest | None) -> list[str]:
    """The ``?tag=`` values of a PUT by digest, checked before anything is read or stored."""
    values = call.request.query_all("tag")
    if not values:
        return []
    if by_digest is None:
        raise RegistryError(
            "TAG_INVALID",
            "?tag= is for a PUT by digest; this PUT names tag "
            f"{call.arg[:128]!r} in the URL: put the manifest by digest with ?tag=, or by tag",
        )
    if len(values) > MAX_TAGS_PER_PUT:
        raise RegistryError(
            "TAG_INVALID",
            f"{len(values)} ?tag= parameters; at most {MAX_TAGS_PER_PUT} per request: "
            "push the rest with another PUT",
            status=414,
        )
    return [check_tag(value) for value in values]


async def put(call: Call) -> None:
    reference, by_digest = _reference(call.arg)
    extra_tags = _tag_parameters(call, by_digest)
    raw = await call.request.read_body(MAX_MANIFEST_BYTES)
    algorithm = by_digest.algorithm if by_digest else "sha256"
    try:
        manifest = parse_manifest(raw, call.request.headers.get("content-type"), algorithm)
    except InvalidManifestError as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    if by_digest is not None and manifest.digest != by_digest:
        raise RegistryError(
            "DIGEST_INVALID",
            f"manifest digest is {manifest.digest}, not {by_digest} as the URL says",
        )
    tagged = call.ctx.content.put_manifest(
        call.repo, manifest, None if by_digest else reference, tags=extra_tags
    )
    digest = str(manifest.digest)
    headers = {
        "location": call.location(f"manifests/{digest}"),
        "docker-content-digest": digest,
    }
    if manifest.subject is not None:
        headers["oci-subject"] = str(manifest.subject.digest)
    # One OCI-Tag header per tag of ?tag= that now points at the manifest (RFC 9110 lets a
    # client read them as one list).
    repeated = [("oci-tag", tag) for tag in tagged] if extra_tags else []
    await respond(call.request.send, 201, headers=headers, repeated=repeated)


async def delete(call: Call) -> None:
    reference, by_digest = _reference(call.arg)
    content = call.ctx.content
    deleted = (
        content.delete_manifest(call.repo, reference)
        if by_digest
        else content.delete_tag(call.repo, reference)
    )
    if not deleted:
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"manifest {reference} not found in repository {call.repo.repository!r}",
            {"reference": reference},
        )
    await respond(call.request.send, 202)
