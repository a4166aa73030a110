"""Blob upload sessions: resumable, verified, published atomically.

An upload's bytes are appended to ``uploads/<id>`` in the storage driver; its offset is the
size of that object, so a restart (or a crash) leaves an upload that resumes where its data
ends. The running hash is kept in memory while the server runs and recomputed from the data
when it is missing (after a restart). Only a verified digest is renamed into the blob store.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from airlock.common.clock import now_iso
from airlock.db.raw import transaction
from airlock.errors import InvalidArgumentError
from airlock.oci.digest import Digest
from airlock.registry.blobstore import BlobStore
from airlock.registry.content import ContentStore, Scope
from airlock.registry.errors import RegistryError
from airlock.storage.base import StorageDriver, StorageFullError

if TYPE_CHECKING:
    from hashlib import _Hash

_REHASH_CHUNK = 4 * 1024 * 1024

REPOSITORY_CAP_ENV = "AIRLOCK_MAX_UPLOADS_PER_REPOSITORY"
IDENTITY_CAP_ENV = "AIRLOCK_MAX_UPLOADS_PER_IDENTITY"
IDLE_HOURS_ENV = "AIRLOCK_UPLOAD_IDLE_HOURS"


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Caps on unfinished uploads opened through /v2/: each holds a row and a data file
    until it is finished, cancelled or purged idle, so a client must not open them without
    bound. ``idle_hours`` is only quoted in the refusal (the server's purger applies it)."""

    per_repository: int = 64
    per_identity: int = 256
    idle_hours: float = 24.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UploadLimits:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            per_repository=_positive(env, REPOSITORY_CAP_ENV, default.per_repository),
            per_identity=_positive(env, IDENTITY_CAP_ENV, default.per_identity),
            idle_hours=_hours(env.get(IDLE_HOURS_ENV), default.idle_hours),
        )


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidArgumentError(
            f"${name} is {value[:40]!r}; set it to a whole number of at least 1 "
            f"(default {default}), or unset it"
        )
    return number


def _hours(value: str | None, default: float) -> float:
    # Only quoted in a message; the purger reads and checks the variable itself.
    try:
        return float(value) if value else default
    except ValueError:
        return default


# Uploads opened through /v2/ (owner set): in one repository, and by one identity in one
# registry (subjects such as ``admin`` and ``token:<name>`` are a registry's own).
_REPOSITORY_COUNT = "SELECT count(*) FROM uploads WHERE repository_id = ? AND owner IS NOT NULL"
_IDENTITY_COUNT = (
    "SELECT count(*) FROM uploads u JOIN repositories r ON r.id = u.repository_id"
    " WHERE u.owner = ? AND r.registry_id = ?"
)


def describe_owner(owner: str) -> str:
    """A grant subject as the refusal names it (never a secret: subjects are names)."""
    if owner == "admin":
        return "the admin user"
    kind, _, name = owner.partition(":")
    return f"{'token' if kind == 'token' else 'identity'} {name!r}" if name else repr(owner)


def upload_key(upload_id: str) -> str:
    return f"uploads/{upload_id}"


@dataclass
class _HashState:
    hasher: _Hash
    offset: int


class UploadWriter:
    """Appends one request's bytes to an upload. Runs in a worker thread."""

    def __init__(self, driver: StorageDriver, key: str, state: _HashState) -> None:
        self._driver = driver
        self._key = key
        self._state = state
        self._file: BinaryIO = driver.open_append(key)

    @property
    def offset(self) -> int:
        return self._state.offset

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            # Drop a partly written chunk so that the offset and the hash stay in step.
            self._file.close()
            self._driver.truncate(self._key, self._state.offset)
            self._file = self._driver.open_append(self._key)
            if isinstance(exc, StorageFullError) or exc.errno == 28:
                raise StorageFullError("no space left on the storage volume", self._key) from exc
            raise
        self._state.hasher.update(data)
        self._state.offset += len(data)

    def close(self) -> None:
        try:
            self._file.flush()
        finally:
            self._file.close()


class Uploads:
    def __init__(
        self, content: ContentStore, blobs: BlobStore, limits: UploadLimits | None = None
    ) -> None:
        self.content = content
        self.blobs = blobs
        self.driver = blobs.driver
        self.limits = UploadLimits.from_env() if limits is None else limits
        self._hashes: dict[str, _HashState] = {}
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def start(self, scope: Scope, owner: str | None = None) -> str:
        """Open an upload. ``owner`` (the grant subject of a /v2/ request) puts it under the
        caps of ``limits``: over either, 429 TOOMANYREQUESTS and nothing is opened. The
        server's own uploads (imports, ``owner`` None) are not capped."""
        upload_id = str(uuid.uuid4())
        with transaction(self.content.db) as conn:
            repo_id = self.content.ensure_repository(conn, scope)
            if owner is None:
                conn.execute(
                    "INSERT INTO uploads (id, repository_id, started_at) VALUES (?, ?, ?)",
                    (upload_id, repo_id, now_iso()),
                )
            else:
                self._insert_capped(conn, scope, repo_id, upload_id, owner)
        self.driver.open_append(upload_key(upload_id)).close()
        self._hashes[upload_id] = _HashState(hashlib.sha256(), 0)
        return upload_id

    def _insert_capped(
        self, conn: sqlite3.Connection, scope: Scope, repo_id: int, upload_id: str, owner: str
    ) -> None:
        """Insert the upload row only while both counts are under their caps: one statement,
        so the counts and the insert cannot be split by another start."""
        inserted = conn.execute(
            "INSERT INTO uploads (id, repository_id, started_at, owner)"
            f" SELECT ?, ?, ?, ? WHERE ({_REPOSITORY_COUNT}) < ? AND ({_IDENTITY_COUNT}) < ?",
            (
                upload_id,
                repo_id,
                now_iso(),
                owner,
                repo_id,
                self.limits.per_repository,
                owner,
                scope.registry_id,
                self.limits.per_identity,
            ),
        ).rowcount
        if inserted:
            return
        (in_repository,) = conn.execute(_REPOSITORY_COUNT, (repo_id,)).fetchone()
        if in_repository >= self.limits.per_repository:
            where = f"repository {scope.repository!r} has {in_repository} unfinished uploads"
            cap = f"{self.limits.per_repository} per repository (${REPOSITORY_CAP_ENV})"
        else:
            (mine,) = conn.execute(_IDENTITY_COUNT, (owner, scope.registry_id)).fetchone()
            where = f"{describe_owner(owner)} has {mine} unfinished uploads in this registry"
            cap = f"{self.limits.per_identity} per identity (${IDENTITY_CAP_ENV})"
        raise RegistryError(
            "TOOMANYREQUESTS",
            f"{where}, the limit is {cap}; finish or cancel one (PUT or DELETE its upload "
            f"URL) before starting another; an upload idle for {self.limits.idle_hours:g} "
            f"hours (${IDLE_HOURS_ENV}) is purged",
            {"repository": scope.repository},
        )

    def offset(self, scope: Scope, upload_id: str) -> int:
        """The upload's current size; BLOB_UPLOAD_UNKNOWN unless it belongs to ``scope``."""
        self._require(scope, upload_id)
        return self.driver.size(upload_key(upload_id)) or 0

    def _require(self, scope: Scope, upload_id: str) -> None:
        try:
            uuid.UUID(upload_id)
        except ValueError:
            raise RegistryError(
                "BLOB_UPLOAD_UNKNOWN", f"unknown upload {upload_id[:64]!r}"
            ) from None
        row = self.content.db.execute(
            "SELECT repository_id FROM uploads WHERE id = ?", (upload_id,)
        ).fetchone()
        if row is None or row[0] != self.content.repository_id(scope):
            raise RegistryError(
                "BLOB_UPLOAD_UNKNOWN",
                f"upload {upload_id} is not known in repository {scope.repository!r}",
            )

    def acquire(self, upload_id: str) -> None:
        """Mark the upload busy: two requests must not append to one upload at once."""
        with self._lock:
            if upload_id in self._active:
                raise RegistryError(
                    "BLOB_UPLOAD_INVALID", "another request is writing to this upload"
                )
            self._active.add(upload_id)

    def release(self, upload_id: str) -> None:
        with self._lock:
            self._active.discard(upload_id)

    def writer(self, upload_id: str) -> UploadWriter:
        """An appender whose hash covers the data so far (recomputed if not in memory)."""
        key = upload_key(upload_id)
        size = self.driver.size(key) or 0
        state = self._hashes.get(upload_id)
        if state is None or state.offset != size:
            state = _HashState(self._hash_file(key, "sha256"), size)
            self._hashes[upload_id] = state
        return UploadWriter(self.driver, key, state)

    def _hash_file(self, key: str, algorithm: str) -> _Hash:
        hasher = hashlib.new(algorithm)
        with self.driver.open_read(key) as src:
            while chunk := src.read(_REHASH_CHUNK):
                hasher.update(chunk)
        return hasher

    def seal(self, upload_id: str, expected: Digest) -> int:
        """Verify the data against ``expected`` and publish it as a blob; returns its size.

        Runs in a worker thread (hashing and fsync). On a mismatch the upload is discarded and
        nothing is stored.
        """
        key = upload_key(upload_id)
        size = self.driver.size(key) or 0
        state = self._hashes.get(upload_id)
        if expected.algorithm == "sha256" and state is not None and state.offset == size:
            actual = state.hasher.hexdigest()
        else:
            actual = self._hash_file(key, expected.algorithm).hexdigest()
        if actual != expected.hex:
            self.discard_data(upload_id)
            raise RegistryError(
                "DIGEST_INVALID",
                f"uploaded content has digest {expected.algorithm}:{actual}, not {expected}",
                {"expected": str(expected), "actual": f"{expected.algorithm}:{actual}"},
            )
        blob_key = self.blobs.key(str(expected))
        if self.driver.size(blob_key) is None:
            self.driver.sync(key)
            self.driver.move(key, blob_key)
        else:
            self.driver.delete(key)
        self._hashes.pop(upload_id, None)
        return size

    def discard_data(self, upload_id: str) -> None:
        self.driver.delete(upload_key(upload_id))
        self._hashes.pop(upload_id, None)

    def forget(self, upload_id: str) -> None:
        """Drop the session row (after a seal, a failed seal or a cancel)."""
        with transaction(self.content.db) as conn:
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    def purge_stale(self, max_idle_seconds: float) -> list[str]:
        """Forget uploads whose data has not grown for ``max_idle_seconds``; returns their ids.

        A client that gives up mid-upload never says so; without this, abandoned uploads would
        hold disk space for ever (a full disk stays full).
        """
        cutoff = time.time() - max_idle_seconds
        rows = self.content.db.execute("SELECT id FROM uploads").fetchall()
        purged = []
        for (upload_id,) in rows:
            if upload_id in self._active:
                continue
            path = self.driver.local_path(upload_key(upload_id))
            try:
                idle = path is None or path.stat().st_mtime < cutoff
            except FileNotFoundError:
                idle = True
            if idle:
                self.discard_data(upload_id)
                self.forget(upload_id)
                purged.append(upload_id)
        return purged

    def cancel(self, scope: Scope, upload_id: str) -> None:
        self._require(scope, upload_id)
        self.discard_data(upload_id)
        self.forget(upload_id)
