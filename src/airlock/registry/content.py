"""Repository content: blob links, manifests, tags and referrers of one server's registries.

Every write is one short transaction, so that after a crash the store holds the old state or
the new one, never a mix. Nothing here awaits: callers run it on the event-loop thread. The
statements are plain SQL on the DBAPI connection (see ``airlock.db.raw`` for why).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from airlock.common.clock import now_iso
from airlock.db.raw import driver_connection, transaction
from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.manifest import Descriptor, Manifest
from airlock.registry import events as ev
from airlock.registry.errors import RegistryError
from airlock.registry.locks import (
    DELETE,
    WRITE,
    Lock,
    LockStore,
    RepositoryLocks,
    delete_protected,
    write_denial,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """One repository of one registry, as a request names it."""

    registry_id: int
    registry: str
    repository: str


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class TagInfo:
    name: str
    digest: str
    created: str
    updated: str


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    artifact_type: str | None
    size: int
    created: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RepositoryDeletion:
    """What a repository delete removed, and what delete locks kept."""

    manifests_deleted: list[str]
    tags_deleted: list[str]
    manifests_kept: list[str]
    tags_kept: list[str]


@dataclass(frozen=True, slots=True)
class Kept:
    """Why a delete must leave a manifest in place: the lock, and the protected index that
    lists the manifest when it is kept as that index's child (None: its own or a tag's)."""

    lock: Lock
    index: str | None = None

    def refusal(self, repository: str, what: str) -> RegistryError:
        """The DENIED error for deleting ``what`` (a phrase naming the target)."""
        via = f", a child of index {repository}@{self.index}" if self.index else ""
        return RegistryError(
            "DENIED",
            f"{what}{via}, which a delete lock keeps: {self.lock.message()}",
            {
                "repository": repository,
                "reference": self.lock.reference,
                "attribute": self.lock.attribute,
            },
        )


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    created: str
    updated: str
    manifest_count: int
    tag_count: int


_REPO_ID = "SELECT id FROM repositories WHERE registry_id = ? AND name = ?"
_MANIFEST_BY_DIGEST = (
    "SELECT m.digest, m.media_type, m.content FROM manifests m"
    " JOIN repo_manifests rm ON rm.digest = m.digest"
    " WHERE rm.repository_id = ? AND m.digest = ?"
)
_MANIFEST_BY_TAG = (
    "SELECT m.digest, m.media_type, m.content FROM tags t"
    " JOIN manifests m ON m.digest = t.digest"
    " WHERE t.repository_id = ? AND t.name = ?"
)
_LINKED_BLOB_SIZES = (
    "SELECT rb.digest, b.size FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest"
    " WHERE rb.repository_id = ? AND rb.digest IN ({marks})"
)
_LINKED_MANIFEST_SIZES = (
    "SELECT rm.digest, m.size FROM repo_manifests rm JOIN manifests m ON m.digest = rm.digest"
    " WHERE rm.repository_id = ? AND rm.digest IN ({marks})"
)


class ContentStore:
    def __init__(self, engine: Engine, bus: ev.EventBus) -> None:
        self.db = driver_connection(engine)
        self.bus = bus
        self.locks = LockStore(self.db)

    # repositories -------------------------------------------------------------------

    def locks_for(self, scope: Scope) -> RepositoryLocks | None:
        """The repository's lock rows; None (the common case) when it has none."""
        return self.locks.for_repository(scope.registry_id, scope.registry, scope.repository)

    def check_push(self, scope: Scope) -> None:
        """Refuse to start a blob upload into a write-locked repository."""
        locks = self.locks_for(scope)
        lock = None if locks is None else locks.denying(WRITE)
        if lock is not None:
            raise lock.wire_error()

    def repository_id(self, scope: Scope) -> int | None:
        row = self.db.execute(_REPO_ID, (scope.registry_id, scope.repository)).fetchone()
        return None if row is None else int(row[0])

    def ensure_repository(self, conn: sqlite3.Connection, scope: Scope) -> int:
        """The repository's id, creating it; call inside a transaction."""
        found = self.repository_id(scope)
        if found is not None:
            return found
        cursor = conn.execute(
            "INSERT INTO repositories (registry_id, name, created_at) VALUES (?, ?, ?)",
            (scope.registry_id, scope.repository, now_iso()),
        )
        return int(cursor.lastrowid or 0)

    def list_repositories(self, registry_id: int, n: int | None, last: str | None) -> list[str]:
        """Repositories that hold at least one manifest, sorted, after ``last``; a repository
        whose listEnabled is false is left out."""
        hidden = self.locks.unlisted_repositories(registry_id)
        # Filtered in SQL, not after: a page must hold n entries when n remain.
        marks = ",".join("?" * len(hidden))
        rows = self.db.execute(
            "SELECT r.name FROM repositories r WHERE r.registry_id = ? AND r.name > ?"
            " AND EXISTS (SELECT 1 FROM repo_manifests rm WHERE rm.repository_id = r.id)"
            f" AND r.name NOT IN ({marks}) ORDER BY r.name LIMIT ?",
            (registry_id, last or "", *hidden, -1 if n is None else n),
        )
        return [row[0] for row in rows]

    # blobs --------------------------------------------------------------------------

    def blob_size(self, scope: Scope, digest: str) -> int | None:
        """Size of a blob linked to the repository, or None."""
        row = self.db.execute(
            "SELECT b.size FROM repositories r"
            " JOIN repo_blobs rb ON rb.repository_id = r.id"
            " JOIN blobs b ON b.digest = rb.digest"
            " WHERE r.registry_id = ? AND r.name = ? AND rb.digest = ?",
            (scope.registry_id, scope.repository, digest),
        ).fetchone()
        return None if row is None else int(row[0])

    def stored_blob_size(self, digest: str) -> int | None:
        """Size of a blob held anywhere on this server, or None."""
        row = self.db.execute("SELECT size FROM blobs WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else int(row[0])

    def link_blob(self, scope: Scope, digest: str, size: int) -> None:
        now = now_iso()
        with transaction(self.db) as conn:
            repo_id = self.ensure_repository(conn, scope)
            conn.execute(
                "INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)",
                (digest, size, now),
            )
            conn.execute(
                "INSERT OR IGNORE INTO repo_blobs (repository_id, digest, created_at)"
                " VALUES (?, ?, ?)",
                (repo_id, digest, now),
            )

    def unlink_blob(self, scope: Scope, digest: str) -> bool:
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return False
        self._check_delete(scope)
        locks = self.locks_for(scope)
        with transaction(self.db) as conn:
            if locks is not None:
                self._check_blob_unused(conn, locks, repo_id, scope.repository, digest)
            cursor = conn.execute(
                "DELETE FROM repo_blobs WHERE repository_id = ? AND digest = ?", (repo_id, digest)
            )
            return cursor.rowcount > 0

    def _check_blob_unused(
        self,
        conn: sqlite3.Connection,
        locks: RepositoryLocks,
        repo_id: int,
        repository: str,
        digest: str,
    ) -> None:
        """Refuse to unlink a blob that a delete-protected manifest of the repository uses:
        the image would stay listed but could no longer be pulled."""
        kept = self._protected(conn, locks, repo_id)
        if not kept:
            return
        marks = ",".join("?" * len(kept))
        needle = digest.encode()
        for manifest, media_type, content in conn.execute(
            f"SELECT digest, media_type, content FROM manifests WHERE digest IN ({marks})"
            " ORDER BY digest",
            tuple(kept),
        ):
            # The byte search skips the JSON parse for the (usual) manifests that do not
            # mention the blob at all.
            if media_type in mediatypes.INDEXES or needle not in content:
                continue
            if digest in _blob_digests(content):
                raise kept[manifest].refusal(
                    repository, f"blob {digest} is used by manifest {repository}@{manifest}"
                )

    # manifests ----------------------------------------------------------------------

    def get_manifest(self, scope: Scope, reference: str) -> StoredManifest | None:
        """A manifest by tag or digest (the caller has checked the reference's grammar)."""
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return None
        query = _MANIFEST_BY_DIGEST if ":" in reference else _MANIFEST_BY_TAG
        row = self.db.execute(query, (repo_id, reference)).fetchone()
        return None if row is None else StoredManifest(row[0], row[1], row[2])

    def put_manifest(
        self,
        scope: Scope,
        manifest: Manifest,
        tag: str | None,
        *,
        tags: Sequence[str] = (),
    ) -> list[str]:
        """Store, link and tag a manifest whose references are all present; returns the tags
        that now point at it. ``tags`` (a PUT by digest with ``?tag=``) are set with ``tag``
        in the same transaction: all of them, or none when a lock refuses one."""
        digest = str(manifest.digest)
        subject = str(manifest.subject.digest) if manifest.subject else None
        names = list(dict.fromkeys([*([tag] if tag is not None else []), *tags]))
        now = now_iso()
        recorded: list[ev.RegistryEvent] = []
        locks = self.locks_for(scope)
        with transaction(self.db) as conn:
            repo_id = self.ensure_repository(conn, scope)
            if locks is not None:
                self._check_write(conn, locks, repo_id, digest, names)
            self._check_references(conn, repo_id, manifest)
            conn.execute(
                "INSERT OR IGNORE INTO manifests (digest, media_type, artifact_type, subject,"
                " size, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    manifest.media_type,
                    manifest.effective_artifact_type,
                    subject,
                    len(manifest.raw),
                    manifest.raw,
                    now,
                ),
            )
            linked = (
                conn.execute(
                    "INSERT OR IGNORE INTO repo_manifests (repository_id, digest, subject,"
                    " created_at) VALUES (?, ?, ?, ?)",
                    (repo_id, digest, subject, now),
                ).rowcount
                > 0
            )
            moved = [name for name in names if self._set_tag(conn, repo_id, name, digest, now)]
            # One event per change: the push (naming the first tag it set), then a tag
            # event for every other tag that moved.
            changes: list[tuple[str, str | None]] = []
            if linked:
                changes.append((ev.PUSH, moved.pop(0) if moved else None))
            changes.extend((ev.TAG, name) for name in moved)
            recorded.extend(
                self.bus.record(
                    conn,
                    registry=scope.registry,
                    repository=scope.repository,
                    action=action,
                    timestamp=now,
                    digest=digest,
                    tag=name,
                    media_type=manifest.media_type,
                )
                for action, name in changes
            )
        self.bus.publish(recorded)
        return names

    @staticmethod
    def _check_write(
        conn: sqlite3.Connection,
        locks: RepositoryLocks,
        repo_id: int,
        digest: str,
        tags: list[str],
    ) -> None:
        linked = conn.execute(
            "SELECT 1 FROM repo_manifests WHERE repository_id = ? AND digest = ?",
            (repo_id, digest),
        ).fetchone()
        # No tag: the PUT only links the manifest, which the repository's lock alone refuses.
        candidates: list[str | None] = [*tags] if tags else [None]
        for tag in candidates:
            current = None
            if tag is not None:
                row = conn.execute(
                    "SELECT digest FROM tags WHERE repository_id = ? AND name = ?", (repo_id, tag)
                ).fetchone()
                current = None if row is None else row[0]
            lock = write_denial(
                locks, tag=tag, current=current, digest=digest, linked=linked is not None
            )
            if lock is not None:
                raise lock.wire_error()

    @staticmethod
    def _set_tag(conn: sqlite3.Connection, repo_id: int, tag: str, digest: str, now: str) -> bool:
        """Point ``tag`` at ``digest``; False if it already pointed there."""
        row = conn.execute(
            "SELECT digest FROM tags WHERE repository_id = ? AND name = ?", (repo_id, tag)
        ).fetchone()
        if row is not None and row[0] == digest:
            return False
        if row is None:
            conn.execute(
                "INSERT INTO tags (repository_id, name, digest, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (repo_id, tag, digest, now, now),
            )
        else:
            conn.execute(
                "UPDATE tags SET digest = ?, updated_at = ? WHERE repository_id = ? AND name = ?",
                (digest, now, repo_id, tag),
            )
        return True

    @staticmethod
    def _check_references(conn: sqlite3.Connection, repo_id: int, manifest: Manifest) -> None:
        """Every blob and child manifest must be linked to the repository, with the size the
        descriptor declares (a wrong size would make clients fail, or trust, a short read)."""
        missing: list[Descriptor] = []
        wrong: list[tuple[Descriptor, int]] = []
        for sql, needed in (
            (_LINKED_BLOB_SIZES, manifest.blob_references()),
            (_LINKED_MANIFEST_SIZES, list(manifest.children)),
        ):
            if not needed:
                continue
            digests = sorted({str(d.digest) for d in needed})
            # The statement comes from the constant pair above, never from input.
            marks = ",".join("?" * len(digests))
            present = {
                digest: int(size)
                for digest, size in conn.execute(sql.format(marks=marks), (repo_id, *digests))
            }
            for descriptor in needed:
                stored = present.get(str(descriptor.digest))
                if stored is None:
                    missing.append(descriptor)
                elif stored != descriptor.size:
                    wrong.append((descriptor, stored))
        if missing:
            first = missing[0]
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN",
                f"manifest references {len(missing)} unknown blob(s) or manifest(s), "
                f"first {first.digest}; push them before the manifest",
                {"digest": str(first.digest)},
            )
        if wrong:
            descriptor, stored = wrong[0]
            raise RegistryError(
                "MANIFEST_INVALID",
                f"descriptor {descriptor.digest} declares size {descriptor.size} but the "
                f"stored content is {stored} bytes; fix the size in the manifest",
                {"digest": str(descriptor.digest), "size": descriptor.size, "stored": stored},
            )

    def delete_manifest(self, scope: Scope, digest: str) -> bool:
        """Unlink a manifest from the repository and drop every tag that points at it."""
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return False
        now = now_iso()
        with transaction(self.db) as conn:
            row = conn.execute(
                "SELECT m.media_type FROM manifests m JOIN repo_manifests rm"
                " ON rm.digest = m.digest WHERE rm.repository_id = ? AND m.digest = ?",
                (repo_id, digest),
            ).fetchone()
            if row is None:
                return False
            tags = conn.execute(
                "SELECT name FROM tags WHERE repository_id = ? AND digest = ?", (repo_id, digest)
            )
            self._check_delete(scope, digest, *(name for (name,) in tags))
            locks = self.locks_for(scope)
            if locks is not None:
                # Its own and its tags' locks are checked above; what is left is being the
                # child of a delete-protected index.
                kept = self._protected(conn, locks, repo_id).get(digest)
                if kept is not None:
                    raise kept.refusal(scope.repository, f"manifest {scope.repository}@{digest}")
            conn.execute(
                "DELETE FROM tags WHERE repository_id = ? AND digest = ?", (repo_id, digest)
            )
            conn.execute(
                "DELETE FROM repo_manifests WHERE repository_id = ? AND digest = ?",
                (repo_id, digest),
            )
            recorded = [
                self.bus.record(
                    conn,
                    registry=scope.registry,
                    repository=scope.repository,
                    action=ev.DELETE,
                    timestamp=now,
                    digest=digest,
                    media_type=row[0],
                )
            ]
        self.bus.publish(recorded)
        return True

    def _check_delete(self, scope: Scope, *references: str) -> None:
        """Refuse a delete that the repository's or any named reference's lock forbids."""
        locks = self.locks_for(scope)
        lock = None if locks is None else locks.denying(DELETE, *references)
        if lock is not None:
            raise lock.wire_error()

    def delete_tag(self, scope: Scope, tag: str) -> bool:
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return False
        now = now_iso()
        with transaction(self.db) as conn:
            row = conn.execute(
                "SELECT digest FROM tags WHERE repository_id = ? AND name = ?", (repo_id, tag)
            ).fetchone()
            if row is None:
                return False
            self._check_delete(scope, tag, row[0])
            conn.execute("DELETE FROM tags WHERE repository_id = ? AND name = ?", (repo_id, tag))
            recorded = [
                self.bus.record(
                    conn,
                    registry=scope.registry,
                    repository=scope.repository,
                    action=ev.UNTAG,
                    timestamp=now,
                    digest=row[0],
                    tag=tag,
                )
            ]
        self.bus.publish(recorded)
        return True

    def delete_repository(self, scope: Scope) -> RepositoryDeletion | None:
        """Remove a repository with its manifests, tags and blob links; None if unknown.

        Delete locks are kept: a delete-locked manifest, or one a delete-locked tag points
        at, stays with all its tags (and the children of a kept index), and then the
        repository and its blob links stay too. A repository-level delete lock refuses all.
        """
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return None
        self._check_delete(scope)
        locks = self.locks_for(scope)
        now = now_iso()
        with transaction(self.db) as conn:
            tags = list(
                conn.execute(
                    "SELECT name, digest FROM tags WHERE repository_id = ? ORDER BY name",
                    (repo_id,),
                )
            )
            rows = list(
                conn.execute(
                    "SELECT m.digest, m.media_type FROM manifests m JOIN repo_manifests rm"
                    " ON rm.digest = m.digest WHERE rm.repository_id = ?"
                    " ORDER BY rm.created_at",
                    (repo_id,),
                )
            )
            kept: dict[str, Kept] = {} if locks is None else self._kept(conn, locks, rows, tags)
            removed = [(digest, media_type) for digest, media_type in rows if digest not in kept]
            recorded = [
                self.bus.record(
                    conn,
                    registry=scope.registry,
                    repository=scope.repository,
                    action=ev.DELETE,
                    timestamp=now,
                    digest=digest,
                    media_type=media_type,
                )
                for digest, media_type in removed
            ]
            if kept:
                self._unlink_manifests(conn, repo_id, [digest for digest, _ in removed])
            else:
                conn.execute("DELETE FROM repositories WHERE id = ?", (repo_id,))
        self.bus.publish(recorded)
        return RepositoryDeletion(
            manifests_deleted=[digest for digest, _ in removed],
            tags_deleted=[name for name, digest in tags if digest not in kept],
            manifests_kept=[digest for digest, _ in rows if digest in kept],
            tags_kept=[name for name, digest in tags if digest in kept],
        )

    def _protected(
        self, conn: sqlite3.Connection, locks: RepositoryLocks, repo_id: int
    ) -> dict[str, Kept]:
        """The repository's manifests that a delete must keep (see ``_kept``)."""
        tags = list(
            conn.execute("SELECT name, digest FROM tags WHERE repository_id = ?", (repo_id,))
        )
        rows = list(
            conn.execute(
                "SELECT m.digest, m.media_type FROM manifests m JOIN repo_manifests rm"
                " ON rm.digest = m.digest WHERE rm.repository_id = ?",
                (repo_id,),
            )
        )
        return self._kept(conn, locks, rows, tags)

    @staticmethod
    def _kept(
        conn: sqlite3.Connection,
        locks: RepositoryLocks,
        rows: list[tuple[str, str]],
        tags: list[tuple[str, str]],
    ) -> dict[str, Kept]:
        present = {digest for digest, _ in rows}
        kept = {
            digest: Kept(lock)
            for digest, lock in delete_protected(locks, sorted(present), sorted(tags)).items()
        }
        frontier = set(kept)
        # A kept index is useless without its children: keep them too (and theirs).
        while frontier:
            marks = ",".join("?" * len(frontier))
            found: dict[str, Kept] = {}
            for digest, media_type, content in conn.execute(
                f"SELECT digest, media_type, content FROM manifests WHERE digest IN ({marks})"
                " ORDER BY digest",
                tuple(frontier),
            ):
                if media_type not in mediatypes.INDEXES:
                    continue
                for child in _child_digests(content):
                    if child in present and child not in kept and child not in found:
                        found[child] = Kept(kept[digest].lock, digest)
            kept.update(found)
            frontier = set(found)
        return kept

    @staticmethod
    def _unlink_manifests(conn: sqlite3.Connection, repo_id: int, digests: list[str]) -> None:
        pairs = [(repo_id, digest) for digest in digests]
        conn.executemany("DELETE FROM tags WHERE repository_id = ? AND digest = ?", pairs)
        conn.executemany("DELETE FROM repo_manifests WHERE repository_id = ? AND digest = ?", pairs)

    # listing ------------------------------------------------------------------------

    def list_tags(self, scope: Scope, n: int | None, last: str | None) -> list[str] | None:
        """Tag names in lexical order after ``last``; None if the repository is unknown.

        Tags whose listEnabled is false (their own, their manifest's or the repository's)
        are left out, in SQL so that a page still holds ``n`` tags when ``n`` remain.
        """
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return None
        sql = "SELECT name FROM tags WHERE repository_id = ? AND name > ?"
        params: tuple[object, ...] = (repo_id, last or "")
        locks = self.locks_for(scope)
        if locks is not None:
            if not locks.of("").list_enabled:
                return []
            hidden = sorted(locks.unlisted())
            marks = ",".join("?" * len(hidden))
            sql += f" AND name NOT IN ({marks}) AND digest NOT IN ({marks})"
            params = (*params, *hidden, *hidden)
        rows = self.db.execute(sql + " ORDER BY name LIMIT ?", (*params, -1 if n is None else n))
        return [row[0] for row in rows]

    def summary(self, scope: Scope) -> RepositorySummary | None:
        """Creation time, last change and counts of a repository, for ``repository show``."""
        row = self.db.execute(
            "SELECT r.created_at,"
            " (SELECT max(updated_at) FROM tags WHERE repository_id = r.id),"
            " (SELECT max(created_at) FROM repo_manifests WHERE repository_id = r.id),"
            " (SELECT count(*) FROM repo_manifests WHERE repository_id = r.id),"
            " (SELECT count(*) FROM tags WHERE repository_id = r.id)"
            " FROM repositories r WHERE r.registry_id = ? AND r.name = ?",
            (scope.registry_id, scope.repository),
        ).fetchone()
        if row is None:
            return None
        created, tag_time, manifest_time, manifests, tags = row
        updated = max(t for t in (created, tag_time, manifest_time) if t is not None)
        return RepositorySummary(created, updated, manifests, tags)

    def tag_details(self, scope: Scope) -> list[TagInfo] | None:
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return None
        rows = self.db.execute(
            "SELECT name, digest, created_at, updated_at FROM tags WHERE repository_id = ?"
            " ORDER BY name",
            (repo_id,),
        )
        return [TagInfo(*row) for row in rows]

    def manifest_details(self, scope: Scope) -> list[ManifestInfo] | None:
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return None
        tag_map: dict[str, list[str]] = {}
        for name, digest in self.db.execute(
            "SELECT name, digest FROM tags WHERE repository_id = ? ORDER BY name", (repo_id,)
        ):
            tag_map.setdefault(digest, []).append(name)
        rows = self.db.execute(
            "SELECT m.digest, m.media_type, m.artifact_type, m.size, rm.created_at"
            " FROM manifests m JOIN repo_manifests rm ON rm.digest = m.digest"
            " WHERE rm.repository_id = ? ORDER BY rm.created_at",
            (repo_id,),
        )
        return [
            ManifestInfo(d, mt, at, size, created, tuple(tag_map.get(d, ())))
            for d, mt, at, size, created in rows
        ]

    def referrers(
        self, scope: Scope, subject: Digest, artifact_type: str | None
    ) -> list[Descriptor]:
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return []
        sql = (
            "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.content"
            " FROM manifests m JOIN repo_manifests rm ON rm.digest = m.digest"
            " WHERE rm.repository_id = ? AND rm.subject = ?"
        )
        params: tuple[object, ...] = (repo_id, str(subject))
        if artifact_type is not None:
            sql += " AND m.artifact_type = ?"
            params = (*params, artifact_type)
        rows = list(self.db.execute(sql + " ORDER BY rm.created_at", params))
        return [_referrer_descriptor(*row) for row in rows]


def _child_digests(content: bytes) -> list[str]:
    """The manifests a stored index lists (validated when it was pushed)."""
    return [str(m.get("digest")) for m in json.loads(content)["manifests"]]


def _blob_digests(content: bytes) -> set[str]:
    """The config and layer digests of a stored image manifest."""
    doc = json.loads(content)
    found = {str(layer.get("digest")) for layer in doc.get("layers") or ()}
    config = doc.get("config")
    if isinstance(config, dict):
        found.add(str(config.get("digest")))
    return found


def _referrer_descriptor(
    digest: str, media_type: str, size: int, artifact_type: str | None, content: bytes
) -> Descriptor:
    annotations = None
    if media_type in mediatypes.MANIFEST_TYPES:
        found = json.loads(content).get("annotations")
        annotations = found if isinstance(found, dict) and found else None
    return Descriptor(
        media_type=media_type,
        digest=Digest.parse(digest),
        size=size,
        artifact_type=artifact_type,
        annotations=annotations,
    )
