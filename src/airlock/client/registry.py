"""``RegistryClient``: the OCI Distribution API of one registry, over httpx.

Auth is the ``RegistryAuth`` flow and retries are the ``RetryTransport`` under it, so every
method here is one plain request (or a short sequence) plus the mapping of answers to
``ClientError``s. Blob bytes stream in large reads (see ``benchmarks/client_download.py``
for why the read size and the pool settings are what they are).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Self

import httpx

from airlock.client.auth import RegistryAuth
from airlock.client.credentials import Credentials
from airlock.client.errors import (
    ClientError,
    DigestMismatchError,
    ProtocolError,
    RegistryUnavailableError,
    error_from_response,
)
from airlock.client.retry import RetryPolicy, RetryTransport
from airlock.client.transport import BlobTransport, ConnectGuard
from airlock.oci import mediatypes
from airlock.oci.digest import Digest, is_digest
from airlock.oci.errors import OciValueError
from airlock.oci.manifest import Descriptor, Manifest, parse_manifest
from airlock.oci.reference import api_host, normalise_registry

MANIFEST_ACCEPT = ", ".join(
    [
        mediatypes.OCI_INDEX,
        mediatypes.OCI_MANIFEST,
        mediatypes.DOCKER_MANIFEST_LIST,
        mediatypes.DOCKER_MANIFEST,
    ]
)
MAX_MANIFEST_BYTES = 4 << 20  # the limit registries use; a larger answer is not a manifest
# Blobs must arrive as stored: a content-encoded answer would not match its digest.
_IDENTITY = {"Accept-Encoding": "identity"}


class RegistryClient:
    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        insecure: bool = False,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        connect_guard: ConnectGuard | None = None,
    ) -> None:
        self.registry = normalise_registry(registry)
        self.base_url = f"{'http' if insecure else 'https'}://{api_host(self.registry)}"
        self.credentials = credentials
        self.auth = RegistryAuth(self.registry, credentials)
        self.transport = RetryTransport(transport or new_transport(connect_guard), retry)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=self.auth,
            transport=self.transport,
            timeout=timeout,
            follow_redirects=True,  # Docker Hub and GHCR send blobs from a CDN
            headers={"User-Agent": "airlock"},
        )

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def rate_limit_remaining(self) -> int | None:
        return self.transport.rate_limit_remaining

    # -- requests ------------------------------------------------------------------------

    def _request(self, method: str, url: str | httpx.URL, **kwargs: object) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> RegistryUnavailableError:
        return RegistryUnavailableError(
            f"{self.registry}: cannot reach {self.base_url}: {type(exc).__name__}: {exc}",
            registry=self.registry,
        )

    def _fail(
        self,
        response: httpx.Response,
        action: str,
        repository: str | None = None,
        digest: str | None = None,
    ) -> ClientError:
        return error_from_response(
            response,
            registry=self.registry,
            action=action,
            repository=repository,
            digest=digest,
            user=self.credentials.username if self.credentials else None,
        )

    def ping(self) -> None:
        response = self._request("GET", "/v2/")
        if response.status_code != 200:
            raise self._fail(response, "ping")

    # -- manifests -----------------------------------------------------------------------

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor without pulling it (Docker Hub counts GETs, not HEADs)."""
        action = f"HEAD manifest {repository}:{reference}"
        response = self._request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, action, repository)
        header = response.headers.get("docker-content-digest")
        if header is None and not is_digest(reference):
            # Without the header a HEAD cannot name the digest; the GET can.
            manifest = self.get_manifest(repository, reference)
            return Descriptor(manifest.media_type, manifest.digest, len(manifest.raw))
        digest = self._parse_digest(header or reference, action)
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        size = int(response.headers.get("content-length") or 0)
        return Descriptor(media_type, digest, size)

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        action = f"GET manifest {repository}:{reference}"
        response = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status_code != 200:
            raise self._fail(response, action, repository)
        raw = response.content
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ProtocolError(f"{self.registry}: {action}: manifest larger than 4 MiB")
        expected = (
            reference if is_digest(reference) else response.headers.get("docker-content-digest")
        )
        algorithm = self._parse_digest(expected, action).algorithm if expected else "sha256"
        try:
            manifest = parse_manifest(raw, response.headers.get("content-type"), algorithm)
        except OciValueError as exc:
            raise ProtocolError(
                f"{self.registry}: {action}: {exc}", registry=self.registry, repository=repository
            ) from None
        if expected is not None and str(manifest.digest) != expected:
            raise DigestMismatchError(
                f"{self.registry}: {action}: the manifest's content has digest "
                f"{manifest.digest}, not {expected}",
                registry=self.registry,
                repository=repository,
                digest=expected,
            )
        return manifest

    def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        action = f"PUT manifest {repository}:{reference}"
        response = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            content=raw,
            headers={"Content-Type": media_type},
        )
        if response.status_code not in (200, 201):
            raise self._fail(response, action, repository)
        digest = str(Digest.of(raw))
        answered = response.headers.get("docker-content-digest")
        if answered and answered != digest and answered.startswith("sha256:"):
            raise DigestMismatchError(
                f"{self.registry}: {action}: the registry stored {answered}, not {digest}",
                registry=self.registry,
                repository=repository,
                digest=digest,
            )
        return digest

    def list_tags(self, repository: str) -> list[str]:
        tags: list[str] = []
        url: str | httpx.URL = f"/v2/{repository}/tags/list"
        for _ in range(10_000):  # a bound, so a registry that links in circles cannot hang us
            response = self._request("GET", url)
            if response.status_code != 200:
                raise self._fail(response, f"list tags of {repository}", repository)
            try:
                found = response.json().get("tags") or []
            except (ValueError, AttributeError):
                raise ProtocolError(f"{self.registry}: tags list is not JSON") from None
            tags.extend(str(t) for t in found)
            following = response.links.get("next", {}).get("url")
            if not following:
                return tags
            url = response.url.join(following)
        raise ProtocolError(f"{self.registry}: tags list of {repository} does not end")

    # -- blobs ---------------------------------------------------------------------------

    def blob_size(self, repository: str, digest: str) -> int | None:
        response = self._request("HEAD", f"/v2/{repository}/blobs/{digest}", headers=_IDENTITY)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"HEAD blob {digest}", repository, digest)
        return int(response.headers.get("content-length") or 0)

    def iter_blob(
        self, repository: str, digest: str, *, chunk_size: int = 1 << 20, size: int | None = None
    ) -> Iterator[bytes]:
        """The blob's bytes. The last chunk is held back until the size and digest are
        checked, so a consumer that commits at the end never commits bad bytes."""
        expected = self._parse_digest(digest, f"GET blob {digest}")
        hasher = expected.hasher()
        received = 0
        pending: bytes | None = None
        try:
            with self._http.stream(
                "GET", f"/v2/{repository}/blobs/{digest}", headers=_IDENTITY
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise self._fail(response, f"GET blob {digest}", repository, digest)
                if size is None and response.headers.get("content-length"):
                    size = int(response.headers["content-length"])
                for chunk in _body_chunks(response, chunk_size):
                    hasher.update(chunk)
                    received += len(chunk)
                    if pending is not None:
                        yield pending
                    pending = chunk
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        self._verify(repository, digest, hasher.hexdigest(), expected, received, size)
        if pending is not None:
            yield pending

    def _verify(
        self,
        repository: str,
        digest: str,
        hexdigest: str,
        expected: Digest,
        received: int,
        size: int | None,
    ) -> None:
        problem = None
        if size is not None and received != size:
            problem = f"{received} bytes arrived, {size} expected"
        elif hexdigest != expected.hex:
            problem = f"the content has digest {expected.algorithm}:{hexdigest}"
        if problem:
            raise DigestMismatchError(
                f"{self.registry}: blob {digest} in {repository} refused: {problem}",
                registry=self.registry,
                repository=repository,
                digest=digest,
            )

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Link a blob from another repository of this registry; True if it was mounted."""
        response = self._request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            params={"mount": digest, "from": from_repository},
        )
        if response.status_code == 201:
            return True
        if response.status_code == 202:
            self._cancel_upload(response)  # the registry opened an upload instead
            return False
        raise self._fail(response, f"mount blob {digest} from {from_repository}", repository)

    def upload_blob(
        self,
        repository: str,
        digest: str,
        chunks: Iterable[bytes],
        *,
        size: int | None = None,
        chunk_size: int | None = None,
    ) -> bool:
        """Upload a blob unless the repository has it; True if bytes were sent.
        Monolithic (one streamed PUT) when ``chunk_size`` is None, else PATCHes of that size."""
        if self.blob_size(repository, digest) is not None:
            return False
        action = f"upload blob {digest}"
        start = self._request("POST", f"/v2/{repository}/blobs/uploads/")
        if start.status_code != 202:
            raise self._fail(start, action, repository, digest)
        location = self._location(start, action)
        if chunk_size is None:
            headers = {"Content-Type": "application/octet-stream"}
            if size is not None:
                headers["Content-Length"] = str(size)
            done = self._request(
                "PUT",
                location.copy_merge_params({"digest": digest}),
                content=iter(chunks),
                headers=headers,
            )
        else:
            location = self._patch_chunks(repository, digest, location, chunks, chunk_size)
            done = self._request("PUT", location.copy_merge_params({"digest": digest}))
        if done.status_code != 201:
            raise self._fail(done, action, repository, digest)
        return True

    def _patch_chunks(
        self,
        repository: str,
        digest: str,
        location: httpx.URL,
        chunks: Iterable[bytes],
        chunk_size: int,
    ) -> httpx.URL:
        offset = 0
        for piece in rechunk(chunks, chunk_size):
            response = self._request(
                "PATCH",
                location,
                content=piece,  # bytes, so a failed PATCH can be retried
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                },
            )
            if response.status_code != 202:
                raise self._fail(response, f"upload blob {digest}", repository, digest)
            location = self._location(response, f"upload blob {digest}")
            offset += len(piece)
        return location

    def _location(self, response: httpx.Response, action: str) -> httpx.URL:
        location = response.headers.get("location")
        if not location:
            raise ProtocolError(f"{self.registry}: {action}: the answer has no Location")
        return response.url.join(location)

    def _cancel_upload(self, response: httpx.Response) -> None:
        location = response.headers.get("location")
        if location:
            # Best effort: the registry purges abandoned uploads itself.
            with contextlib.suppress(httpx.TransportError):
                self._http.delete(response.url.join(location))

    def _parse_digest(self, text: str, action: str) -> Digest:
        try:
            return Digest.parse(text)
        except OciValueError as exc:
            raise ProtocolError(f"{self.registry}: {action}: {exc}") from None


def _body_chunks(response: httpx.Response, chunk_size: int) -> Iterator[bytes]:
    """The body in pieces of about ``chunk_size`` bytes (the last may be shorter).

    Pieces are joined from the connection's own reads (``iter_raw()`` without a size), once:
    httpx's re-chunking (``iter_raw(n)``, ``iter_bytes(n)``) copies through a BytesIO and
    measured slower than no re-chunking at all (see benchmarks/client_download.py).
    """
    if response.is_stream_consumed:
        # An answer built in memory (tests, mocks) is already read; only iter_bytes serves it.
        yield from response.iter_bytes(chunk_size)
        return
    parts: list[bytes] = []
    held = 0
    for part in response.iter_raw():
        parts.append(part)
        held += len(part)
        if held >= chunk_size:
            yield parts[0] if len(parts) == 1 else b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` as pieces of exactly ``size`` bytes (the last one shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def new_transport(connect_guard: ConnectGuard | None = None) -> httpx.BaseTransport:
    return BlobTransport(connect_guard=connect_guard)
