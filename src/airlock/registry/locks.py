"""Locks: ACR's changeable attributes (write, delete, read, list) and the rules that apply them.

Attributes live at three levels, all in ``repository_attributes``: the repository (reference
``""``), a manifest (reference = its digest) and a tag (reference = its name). An operation on
an image is denied when any level it touches has the attribute false. Rows are keyed by names,
not ids, so a lock outlives the repository or tag it names (a tag locked, deleted and pushed
again is still locked).

The registry's hot paths ask ``for_repository`` once per request: one lookup on the primary
key's prefix, which finds no row for the common, unlocked repository. No cache: the rows also
disappear by cascade when a registry is deleted, and a cache would have to hear of that.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from airlock.common.clock import now_iso
from airlock.db.raw import transaction
from airlock.registry.errors import RegistryError

WRITE = "writeEnabled"
DELETE = "deleteEnabled"
READ = "readEnabled"
LIST = "listEnabled"
# JSON name -> column, in az's order.
COLUMNS = {
    DELETE: "delete_enabled",
    WRITE: "write_enabled",
    READ: "read_enabled",
    LIST: "list_enabled",
}


@dataclass(frozen=True, slots=True)
class Attributes:
    """The changeable attributes of one repository, manifest or tag (all true by default)."""

    delete_enabled: bool = True
    write_enabled: bool = True
    read_enabled: bool = True
    list_enabled: bool = True

    def allows(self, attribute: str) -> bool:
        return bool(getattr(self, COLUMNS[attribute]))

    def changed(self, changes: dict[str, bool]) -> Attributes:
        return replace(self, **{COLUMNS[k]: v for k, v in changes.items()})

    def to_json(self) -> dict[str, bool]:
        return {name: self.allows(name) for name in COLUMNS}


UNLOCKED = Attributes()


@dataclass(frozen=True, slots=True)
class Lock:
    """The attribute that denies an operation, described so the error can name it."""

    registry: str
    repository: str
    reference: str
    attribute: str

    @property
    def image(self) -> str:
        separator = "@" if ":" in self.reference else ":"
        return f"{self.repository}{separator}{self.reference}"

    def message(self) -> str:
        if not self.reference:
            target, option = f"repository {self.repository}", f"--repository {self.repository}"
        else:
            kind = "manifest" if ":" in self.reference else "tag"
            target, option = f"{kind} {self.image}", f"--image {self.image}"
        flag = "--" + COLUMNS[self.attribute].replace("_", "-")
        return (
            f"{target} is locked ({self.attribute}: false); unlock it with: airlock acr "
            f"repository update --name {self.registry} {option} {flag} true"
        )

    def wire_error(self) -> RegistryError:
        detail = {"repository": self.repository, "reference": self.reference}
        return RegistryError("DENIED", self.message(), {**detail, "attribute": self.attribute})


@dataclass(frozen=True, slots=True)
class RepositoryLocks:
    """Every attribute row of one repository, by reference (``""`` for the repository)."""

    registry: str
    repository: str
    rows: dict[str, Attributes]

    def of(self, reference: str) -> Attributes:
        return self.rows.get(reference, UNLOCKED)

    def denying(self, attribute: str, *references: str | None) -> Lock | None:
        """The first of the repository and ``references`` with ``attribute`` false."""
        for reference in ("", *references):
            if reference is not None and not self.of(reference).allows(attribute):
                return Lock(self.registry, self.repository, reference, attribute)
        return None

    def unlisted(self) -> set[str]:
        """References (tags and digests) whose own listEnabled is false."""
        return {ref for ref, attrs in self.rows.items() if ref and not attrs.list_enabled}


_SELECT = (
    "SELECT reference, delete_enabled, write_enabled, read_enabled, list_enabled"
    " FROM repository_attributes WHERE registry_id = ? AND repository = ?"
)


class LockStore:
    """Reads and writes ``repository_attributes`` on the registry's sqlite3 connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def for_repository(
        self, registry_id: int, registry: str, repository: str
    ) -> RepositoryLocks | None:
        """The repository's rows; None when it has none (the fast, common answer)."""
        rows = self.db.execute(_SELECT, (registry_id, repository)).fetchall()
        if not rows:
            return None
        found = {ref: Attributes(*(bool(v) for v in values)) for ref, *values in rows}
        return RepositoryLocks(registry, repository, found)

    def attributes(self, registry_id: int, repository: str, reference: str) -> Attributes:
        row = self.db.execute(
            _SELECT + " AND reference = ?", (registry_id, repository, reference)
        ).fetchone()
        return UNLOCKED if row is None else Attributes(*(bool(v) for v in row[1:]))

    def unlisted_repositories(self, registry_id: int) -> list[str]:
        rows = self.db.execute(
            "SELECT repository FROM repository_attributes"
            " WHERE registry_id = ? AND reference = '' AND list_enabled = 0",
            (registry_id,),
        )
        return [row[0] for row in rows]

    def update(
        self, registry_id: int, repository: str, reference: str, changes: dict[str, bool]
    ) -> Attributes:
        """Change only the attributes in ``changes`` (JSON names); returns the new row."""
        with transaction(self.db) as conn:
            new = self.attributes(registry_id, repository, reference).changed(changes)
            conn.execute(
                "INSERT OR REPLACE INTO repository_attributes (registry_id, repository,"
                " reference, delete_enabled, write_enabled, read_enabled, list_enabled,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    registry_id,
                    repository,
                    reference,
                    new.delete_enabled,
                    new.write_enabled,
                    new.read_enabled,
                    new.list_enabled,
                    now_iso(),
                ),
            )
        return new


# --- rules ---------------------------------------------------------------------------------


def write_denial(
    locks: RepositoryLocks, *, tag: str | None, current: str | None, digest: str, linked: bool
) -> Lock | None:
    """The lock that refuses a manifest PUT, if any.

    A PUT that changes nothing (the manifest is already here and the tag, if any, already
    points at it) is let through, so pushing identical content again succeeds. Otherwise the
    repository's lock, the tag's, and the lock of the manifest the tag would move away from
    apply: a write-locked manifest keeps its tags, but new tags may point at it.
    """
    if linked and (tag is None or current == digest):
        return None
    moved_from = current if current is not None and current != digest else None
    return locks.denying(WRITE, tag, moved_from)


def delete_protected(
    locks: RepositoryLocks, digests: list[str], tags: list[tuple[str, str]]
) -> dict[str, Lock]:
    """Manifests a delete must keep, each with the lock that keeps it: delete-locked ones
    (their own lock first) and those a delete-locked tag points at."""
    kept = {
        d: Lock(locks.registry, locks.repository, d, DELETE)
        for d in digests
        if not locks.of(d).delete_enabled
    }
    for name, digest in tags:
        if digest not in kept and not locks.of(name).delete_enabled:
            kept[digest] = Lock(locks.registry, locks.repository, name, DELETE)
    return kept
