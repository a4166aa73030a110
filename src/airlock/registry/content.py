"""Repository content: blob links, manifests, tags and referrers of one server's registries.

Every write is one short transaction, so that after a crash the store holds the old state or
the new one, never a mix. Nothing here awaits: callers run it on the event-loop thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from airlock.db.schema import blobs, manifests, repo_blobs, repo_manifests, repositories, tags
from airlock.oci import mediatypes
from airlock.oci.digest import Digest
from airlock.oci.manifest import Descriptor, Manifest
from airlock.registry import events as ev
from airlock.registry.clock import now_iso
from airlock.registry.errors import RegistryError


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


class ContentStore:
    def __init__(self, engine: Engine, bus: ev.EventBus) -> None:
        self.engine = engine
        self.bus = bus

    # repositories -------------------------------------------------------------------

    def repository_id(self, conn: Connection, scope: Scope) -> int | None:
        return conn.execute(
            select(repositories.c.id).where(
                repositories.c.registry_id == scope.registry_id,
                repositories.c.name == scope.repository,
            )
        ).scalar_one_or_none()

    def ensure_repository(self, conn: Connection, scope: Scope) -> int:
        found = self.repository_id(conn, scope)
        if found is not None:
            return found
        result = conn.execute(
            insert(repositories).values(
                registry_id=scope.registry_id, name=scope.repository, created_at=now_iso()
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def require_repository(self, conn: Connection, scope: Scope) -> int:
        found = self.repository_id(conn, scope)
        if found is None:
            raise RegistryError(
                "NAME_UNKNOWN", f"repository {scope.repository!r} not known to registry"
            )
        return found

    def list_repositories(self, registry_id: int, n: int | None, last: str | None) -> list[str]:
        """Repositories that hold at least one manifest, sorted, after ``last``."""
        query = (
            select(repositories.c.name)
            .where(
                repositories.c.registry_id == registry_id,
                select(repo_manifests.c.digest)
                .where(repo_manifests.c.repository_id == repositories.c.id)
                .exists(),
            )
            .order_by(repositories.c.name)
        )
        if last:
            query = query.where(repositories.c.name > last)
        if n is not None:
            query = query.limit(n)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # blobs --------------------------------------------------------------------------

    def blob_size(self, scope: Scope, digest: str) -> int | None:
        """Size of a blob linked to the repository, or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(blobs.c.size)
                .join(repo_blobs, repo_blobs.c.digest == blobs.c.digest)
                .join(repositories, repositories.c.id == repo_blobs.c.repository_id)
                .where(
                    repositories.c.registry_id == scope.registry_id,
                    repositories.c.name == scope.repository,
                    blobs.c.digest == digest,
                )
            ).scalar_one_or_none()

    def stored_blob_size(self, digest: str) -> int | None:
        """Size of a blob held anywhere on this server, or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(blobs.c.size).where(blobs.c.digest == digest)
            ).scalar_one_or_none()

    def link_blob(self, scope: Scope, digest: str, size: int) -> None:
        now = now_iso()
        with self.engine.begin() as conn:
            repo_id = self.ensure_repository(conn, scope)
            conn.execute(
                sqlite_insert(blobs)
                .values(digest=digest, size=size, created_at=now)
                .on_conflict_do_nothing()
            )
            conn.execute(
                sqlite_insert(repo_blobs)
                .values(repository_id=repo_id, digest=digest, created_at=now)
                .on_conflict_do_nothing()
            )

    def unlink_blob(self, scope: Scope, digest: str) -> bool:
        with self.engine.begin() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return False
            result = conn.execute(
                delete(repo_blobs).where(
                    repo_blobs.c.repository_id == repo_id, repo_blobs.c.digest == digest
                )
            )
            return result.rowcount > 0

    # manifests ----------------------------------------------------------------------

    def get_manifest(self, scope: Scope, reference: str) -> StoredManifest | None:
        """A manifest by tag or digest (the caller has checked the reference's grammar)."""
        with self.engine.connect() as conn:
            base = (
                select(manifests.c.digest, manifests.c.media_type, manifests.c.content)
                .join(repo_manifests, repo_manifests.c.digest == manifests.c.digest)
                .join(repositories, repositories.c.id == repo_manifests.c.repository_id)
                .where(
                    repositories.c.registry_id == scope.registry_id,
                    repositories.c.name == scope.repository,
                )
            )
            if ":" in reference:
                query = base.where(manifests.c.digest == reference)
            else:
                query = base.join(
                    tags,
                    and_(
                        tags.c.repository_id == repositories.c.id,
                        tags.c.digest == manifests.c.digest,
                    ),
                ).where(tags.c.name == reference)
            row = conn.execute(query).first()
        return None if row is None else StoredManifest(row[0], row[1], row[2])

    def put_manifest(self, scope: Scope, manifest: Manifest, tag: str | None) -> None:
        """Store, link and (optionally) tag a manifest whose references are all present."""
        digest = str(manifest.digest)
        subject = str(manifest.subject.digest) if manifest.subject else None
        now = now_iso()
        recorded: list[ev.RegistryEvent] = []
        with self.engine.begin() as conn:
            repo_id = self.ensure_repository(conn, scope)
            self._check_references(conn, repo_id, manifest)
            conn.execute(
                sqlite_insert(manifests)
                .values(
                    digest=digest,
                    media_type=manifest.media_type,
                    artifact_type=manifest.effective_artifact_type,
                    subject=subject,
                    size=len(manifest.raw),
                    content=manifest.raw,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            linked = (
                conn.execute(
                    sqlite_insert(repo_manifests)
                    .values(repository_id=repo_id, digest=digest, subject=subject, created_at=now)
                    .on_conflict_do_nothing()
                ).rowcount
                > 0
            )
            tag_moved = tag is not None and self._set_tag(conn, repo_id, tag, digest, now)
            if linked or tag_moved:
                action = ev.PUSH if linked else ev.TAG
                recorded.append(self._event(conn, scope, action, now, manifest, tag))
        self.bus.publish(recorded)

    def _event(
        self,
        conn: Connection,
        scope: Scope,
        action: str,
        now: str,
        manifest: Manifest,
        tag: str | None,
    ) -> ev.RegistryEvent:
        return self.bus.record(
            conn,
            registry=scope.registry,
            repository=scope.repository,
            action=action,
            timestamp=now,
            digest=str(manifest.digest),
            tag=tag,
            media_type=manifest.media_type,
        )

    def _set_tag(self, conn: Connection, repo_id: int, tag: str, digest: str, now: str) -> bool:
        """Point ``tag`` at ``digest``; False if it already pointed there."""
        current = conn.execute(
            select(tags.c.digest).where(tags.c.repository_id == repo_id, tags.c.name == tag)
        ).scalar_one_or_none()
        if current == digest:
            return False
        if current is None:
            conn.execute(
                insert(tags).values(
                    repository_id=repo_id, name=tag, digest=digest, created_at=now, updated_at=now
                )
            )
        else:
            conn.execute(
                update(tags)
                .where(tags.c.repository_id == repo_id, tags.c.name == tag)
                .values(digest=digest, updated_at=now)
            )
        return True

    def _check_references(self, conn: Connection, repo_id: int, manifest: Manifest) -> None:
        missing: list[Descriptor] = []
        needed_blobs = manifest.blob_references()
        if needed_blobs:
            present = set(
                conn.execute(
                    select(repo_blobs.c.digest).where(
                        repo_blobs.c.repository_id == repo_id,
                        repo_blobs.c.digest.in_([str(d.digest) for d in needed_blobs]),
                    )
                ).scalars()
            )
            missing.extend(d for d in needed_blobs if str(d.digest) not in present)
        if manifest.children:
            present = set(
                conn.execute(
                    select(repo_manifests.c.digest).where(
                        repo_manifests.c.repository_id == repo_id,
                        repo_manifests.c.digest.in_([str(d.digest) for d in manifest.children]),
                    )
                ).scalars()
            )
            missing.extend(d for d in manifest.children if str(d.digest) not in present)
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
        now = now_iso()
        with self.engine.begin() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return False
            media_type = conn.execute(
                select(manifests.c.media_type)
                .join(repo_manifests, repo_manifests.c.digest == manifests.c.digest)
                .where(repo_manifests.c.repository_id == repo_id, manifests.c.digest == digest)
            ).scalar_one_or_none()
            if media_type is None:
                return False
            conn.execute(
                delete(tags).where(tags.c.repository_id == repo_id, tags.c.digest == digest)
            )
            conn.execute(
                delete(repo_manifests).where(
                    repo_manifests.c.repository_id == repo_id, repo_manifests.c.digest == digest
                )
            )
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
            ]
        self.bus.publish(recorded)
        return True

    def delete_tag(self, scope: Scope, tag: str) -> bool:
        now = now_iso()
        with self.engine.begin() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return False
            digest = conn.execute(
                select(tags.c.digest).where(tags.c.repository_id == repo_id, tags.c.name == tag)
            ).scalar_one_or_none()
            if digest is None:
                return False
            conn.execute(delete(tags).where(tags.c.repository_id == repo_id, tags.c.name == tag))
            recorded = [
                self.bus.record(
                    conn,
                    registry=scope.registry,
                    repository=scope.repository,
                    action=ev.UNTAG,
                    timestamp=now,
                    digest=digest,
                    tag=tag,
                )
            ]
        self.bus.publish(recorded)
        return True

    def delete_repository(self, scope: Scope) -> tuple[list[str], list[str]] | None:
        """Remove a repository with its manifests, tags and blob links.

        Returns the deleted manifest digests and tags; None if the repository is unknown.
        """
        now = now_iso()
        with self.engine.begin() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return None
            tag_names = list(
                conn.execute(
                    select(tags.c.name).where(tags.c.repository_id == repo_id).order_by(tags.c.name)
                ).scalars()
            )
            rows = list(
                conn.execute(
                    select(manifests.c.digest, manifests.c.media_type)
                    .join(repo_manifests, repo_manifests.c.digest == manifests.c.digest)
                    .where(repo_manifests.c.repository_id == repo_id)
                    .order_by(repo_manifests.c.created_at)
                )
            )
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
                for digest, media_type in rows
            ]
            conn.execute(delete(repositories).where(repositories.c.id == repo_id))
        self.bus.publish(recorded)
        return [digest for digest, _ in rows], tag_names

    # listing ------------------------------------------------------------------------

    def list_tags(self, scope: Scope, n: int | None, last: str | None) -> list[str] | None:
        """Tag names in lexical order after ``last``; None if the repository is unknown."""
        with self.engine.connect() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return None
            query = select(tags.c.name).where(tags.c.repository_id == repo_id).order_by(tags.c.name)
            if last:
                query = query.where(tags.c.name > last)
            if n is not None:
                query = query.limit(n)
            return list(conn.execute(query).scalars())

    def tag_details(self, scope: Scope) -> list[TagInfo] | None:
        with self.engine.connect() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return None
            rows = conn.execute(
                select(tags.c.name, tags.c.digest, tags.c.created_at, tags.c.updated_at)
                .where(tags.c.repository_id == repo_id)
                .order_by(tags.c.name)
            )
            return [TagInfo(r[0], r[1], r[2], r[3]) for r in rows]

    def manifest_details(self, scope: Scope) -> list[ManifestInfo] | None:
        with self.engine.connect() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return None
            tag_map: dict[str, list[str]] = {}
            for name, digest in conn.execute(
                select(tags.c.name, tags.c.digest)
                .where(tags.c.repository_id == repo_id)
                .order_by(tags.c.name)
            ):
                tag_map.setdefault(digest, []).append(name)
            rows = conn.execute(
                select(
                    manifests.c.digest,
                    manifests.c.media_type,
                    manifests.c.artifact_type,
                    manifests.c.size,
                    repo_manifests.c.created_at,
                )
                .join(repo_manifests, repo_manifests.c.digest == manifests.c.digest)
                .where(repo_manifests.c.repository_id == repo_id)
                .order_by(repo_manifests.c.created_at)
            )
            return [
                ManifestInfo(r[0], r[1], r[2], r[3], r[4], tuple(tag_map.get(r[0], ())))
                for r in rows
            ]

    def referrers(
        self, scope: Scope, subject: Digest, artifact_type: str | None
    ) -> list[Descriptor]:
        with self.engine.connect() as conn:
            repo_id = self.repository_id(conn, scope)
            if repo_id is None:
                return []
            query = (
                select(
                    manifests.c.digest,
                    manifests.c.media_type,
                    manifests.c.size,
                    manifests.c.artifact_type,
                    manifests.c.content,
                )
                .join(repo_manifests, repo_manifests.c.digest == manifests.c.digest)
                .where(
                    repo_manifests.c.repository_id == repo_id,
                    repo_manifests.c.subject == str(subject),
                )
                .order_by(repo_manifests.c.created_at)
            )
            if artifact_type is not None:
                query = query.where(manifests.c.artifact_type == artifact_type)
            rows = list(conn.execute(query))
        return [_referrer_descriptor(*row) for row in rows]


def _referrer_descriptor(
    digest: str, media_type: str, size: int, artifact_type: str | None, content: bytes
) -> Descriptor:
    annotations = None
    if media_type in mediatypes.MANIFEST_TYPES:
        doc = json.loads(content)
        found = doc.get("annotations")
        annotations = found if isinstance(found, dict) and found else None
    return Descriptor(
        media_type=media_type,
        digest=Digest.parse(digest),
        size=size,
        artifact_type=artifact_type,
        annotations=annotations,
    )
