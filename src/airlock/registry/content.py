"""Repository content: blob links, manifests, tags and referrers of one server's registries.

Every write is one short transaction, so that after a crash the store holds the old state or
the new one, never a mix. Nothing here awaits: callers run it on the event-loop thread. The
statements are plain SQL on the DBAPI connection (see ``airlock.db.raw`` for why).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from sqlalchemy import Engine

from airlock.db.raw import driver_connection, transaction
from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.manifest import Descriptor, Manifest
from airlock.registry import events as ev
from airlock.registry.clock import now_iso
from airlock.registry.errors import RegistryError
from airlock.registry.locks import (
    DELETE,
    WRITE,
    LockStore,
    RepositoryLocks,
    delete_kept,
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
        with transaction(self.db) as conn:
            cursor = conn.execute(
                "DELETE FROM repo_blobs WHERE repository_id = ? AND digest = ?", (repo_id, digest)
            )
            return cursor.rowcount > 0

    # manifests ----------------------------------------------------------------------

    def get_manifest(self, scope: Scope, reference: str) -> StoredManifest | None:
        """A manifest by tag or digest (the caller has checked the reference's grammar)."""
        repo_id = self.repository_id(scope)
        if repo_id is None:
            return None
        query = _MANIFEST_BY_DIGEST if ":" in reference else _MANIFEST_BY_TAG
        row = self.db.execute(query, (repo_id, reference)).fetchone()
        return None if row is None else StoredManifest(row[0], row[1], row[2])

    def put_manifest(self, scope: Scope, manifest: Manifest, tag: str | None) -> None:
        """Store, link and (optionally) tag a manifest whose references are all present."""
        digest = str(manifest.digest)
        subject = str(manifest.subject.digest) if manifest.subject else None
        now = now_iso()
        recorded: list[ev.RegistryEvent] = []
        locks = self.locks_for(scope)
        with transaction(self.db) as conn:
            repo_id = self.ensure_repository(conn, scope)
            if locks is not None:
                self._check_write(conn, locks, repo_id, digest, tag)
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
            tag_moved = tag is not None and self._set_tag(conn, repo_id, tag, digest, now)
            if linked or tag_moved:
                recorded.append(
                    self.bus.record(
                        conn,
                        registry=scope.registry,
                        repository=scope.repository,
                        action=ev.PUSH if linked else ev.TAG,
                        timestamp=now,
                        digest=digest,
                        tag=tag,
                        media_type=manifest.media_type,
                    )
                )
        self.bus.publish(recorded)

    @staticmethod
    def _check_write(
        conn: sqlite3.Connection, locks: RepositoryLocks, repo_id: int, digest: str, tag: str | None
    ) -> None:
        current = None
        if tag is not None:
            row = conn.execute(
                "SELECT digest FROM tags WHERE repository_id = ? AND name = ?", (repo_id, tag)
            ).fetchone()
            current = None if row is None else row[0]
        linked = conn.execute(
            "SELECT 1 FROM repo_manifests WHERE repository_id = ? AND digest = ?",
            (repo_id, digest),
        ).fetchone()
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
        missing: list[Descriptor] = []
        for table, needed in (
            ("repo_blobs", manifest.blob_references()),
            ("repo_manifests", list(manifest.children)),
        ):
            if not needed:
                continue
            digests = sorted({str(d.digest) for d in needed})
            # The table name comes from the constant pair above, never from input.
            marks = ",".join("?" * len(digests))
            present = {
                row[0]
                for row in conn.execute(
                    f"SELECT digest FROM {table} WHERE repository_id = ? AND digest IN ({marks})",
                    (repo_id, *digests),
                )
            }
            missing.extend(d for d in needed if str(d.digest) not in present)
        if missing:
            first = missing[0]
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN",
                f"manifest references {len(missing)} unknown blob(s) or manifest(s), "
                f"first {first.digest}; push them before the manifest",
                {"digest": str(first.digest)},
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
            kept = set() if locks is None else self._kept(conn, locks, rows, tags)
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

    @staticmethod
    def _kept(
        conn: sqlite3.Connection,
        locks: RepositoryLocks,
        rows: list[tuple[str, str]],
        tags: list[tuple[str, str]],
    ) -> set[str]:
        present = {digest for digest, _ in rows}
        kept = delete_kept(locks, list(present), tags)
        frontier = kept
        # A kept index is useless without its children: keep them too (and theirs).
        while frontier:
            marks = ",".join("?" * len(frontier))
            children: set[str] = set()
            for media_type, content in conn.execute(
                f"SELECT media_type, content FROM manifests WHERE digest IN ({marks})",
                tuple(frontier),
            ):
                if media_type in mediatypes.INDEXES:
                    children.update(str(m.get("digest")) for m in json.loads(content)["manifests"])
            frontier = (children & present) - kept
            kept |= frontier
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
