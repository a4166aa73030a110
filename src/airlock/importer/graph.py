"""An image to import: its manifest, every manifest an index lists, and every blob."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from airlock.importer.errors import ImportFailedError
from airlock.oci.manifest import Manifest

# Fetches a child manifest by digest (from this server's store or from a remote registry).
FetchManifest = Callable[[str], Manifest]

# An index of indexes is legal but nests only a level or two in practice; a loop or an
# absurd depth is a hostile source.
MAX_DEPTH = 4


@dataclass
class ImageGraph:
    """``manifests`` in the order they must be stored: children before their index, the
    top manifest last. ``blobs`` maps each referenced blob's digest to its declared size."""

    manifests: list[Manifest] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)

    @property
    def top(self) -> Manifest:
        return self.manifests[-1]

    @property
    def total_bytes(self) -> int:
        return sum(self.blobs.values())


def build_graph(top: Manifest, fetch: FetchManifest) -> ImageGraph:
    graph = ImageGraph()
    _add(graph, top, fetch, depth=0, seen=set())
    return graph


def _add(
    graph: ImageGraph, manifest: Manifest, fetch: FetchManifest, depth: int, seen: set[str]
) -> None:
    digest = str(manifest.digest)
    if digest in seen:
        return
    if depth > MAX_DEPTH:
        raise ImportFailedError(
            f"index nesting deeper than {MAX_DEPTH} levels at {digest}; refused",
            "ImportManifestInvalid",
            502,
        )
    seen.add(digest)
    for child in manifest.children:
        fetched = fetch(str(child.digest))
        check_digest(fetched, str(child.digest))
        _add(graph, fetched, fetch, depth + 1, seen)
    for blob in manifest.blob_references():
        graph.blobs[str(blob.digest)] = blob.size
    graph.manifests.append(manifest)


def check_digest(manifest: Manifest, expected: str) -> None:
    """A manifest asked for by digest must hash to that digest: never trust the source."""
    if str(manifest.digest) != expected:
        raise ImportFailedError(
            f"refused: the source sent manifest {manifest.digest} for {expected}; "
            "nothing was imported",
            "ImportDigestMismatch",
            502,
        )
