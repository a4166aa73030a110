"""The registries a server hosts: names, login-server ports, and their az-shaped view."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, false, insert, or_, select, update
from sqlalchemy.engine import Row

from airlock.common.clock import now_iso
from airlock.db import epochs
from airlock.db.schema import (
    registries,
    repo_blobs,
    repo_manifests,
    repositories,
    repository_attributes,
    tags,
)
from airlock.errors import ConflictError, InvalidArgumentError, LockedError, NotFoundError
from airlock.registry.locks import DELETE, Lock

_NAME_RE = re.compile(r"^[a-zA-Z0-9]{5,50}$")
SKUS = ("Basic", "Standard", "Premium")


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    id: int
    name: str
    port: int
    resource_group: str
    location: str
    sku: str
    created_at: str
    anonymous_pull_enabled: bool = False
    admin_user_enabled: bool = True

    @property
    def login_server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {
            # The id az prints, which role assignments take as --scope.
            "id": f"/subscriptions/local/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerRegistry/registries/{self.name}",
            "name": self.name,
            "loginServer": self.login_server,
            "port": self.port,
            "resourceGroup": self.resource_group,
            "location": self.location,
            "sku": {"name": self.sku, "tier": self.sku},
            "creationDate": self.created_at,
            "provisioningState": "Succeeded",
            "adminUserEnabled": self.admin_user_enabled,
            "anonymousPullEnabled": self.anonymous_pull_enabled,
            "type": "Airlock/registries",
        }


def check_registry_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid registry name {name[:60]!r}: use 5-50 letters and digits only "
            "(as Azure Container Registry)",
            "InvalidName",
        )
    return name


def check_sku(sku: str) -> str:
    for known in SKUS:
        if sku.lower() == known.lower():
            return known
    raise InvalidArgumentError(f"unknown SKU {sku!r}; use one of {', '.join(SKUS)}")


def _record(row: Row[Any]) -> RegistryRecord:
    return RegistryRecord(
        row.id,
        row.name,
        row.port,
        row.resource_group,
        row.location,
        row.sku,
        row.created_at,
        bool(row.anonymous_pull_enabled),
        bool(row.admin_user_enabled),
    )


class RegistryCatalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> RegistryRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(registries).where(registries.c.name_key == name.lower())
            ).first()
        if row is None:
            raise NotFoundError(
                f"registry {name!r} not found; list registries with 'airlock acr list'",
                "RegistryNotFound",
            )
        return _record(row)

    def get_by_id(self, registry_id: int) -> RegistryRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(registries).where(registries.c.id == registry_id)).first()
        if row is None:
            raise NotFoundError(f"registry #{registry_id} is gone", "RegistryNotFound")
        return _record(row)

    def all(self, resource_group: str | None = None) -> list[RegistryRecord]:
        query = select(registries).order_by(registries.c.name_key)
        if resource_group:
            query = query.where(registries.c.resource_group == resource_group)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def ports_in_use(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(registries.c.port)).scalars())

    def check_available(self, name: str, port: int | None) -> None:
        with self.engine.connect() as conn:
            if conn.execute(
                select(registries.c.id).where(registries.c.name_key == name.lower())
            ).first():
                raise ConflictError(f"a registry named {name!r} already exists")
            if (
                port is not None
                and conn.execute(select(registries.c.name).where(registries.c.port == port)).first()
            ):
                raise ConflictError(
                    f"port {port} is already the login server of another registry", "PortInUse"
                )

    def add(
        self, *, name: str, port: int, resource_group: str, location: str, sku: str
    ) -> RegistryRecord:
        self.check_available(name, port)
        with self.engine.begin() as conn:
            conn.execute(
                insert(registries).values(
                    name=name,
                    name_key=name.lower(),
                    port=port,
                    resource_group=resource_group,
                    location=location,
                    sku=sku,
                    created_at=now_iso(),
                    uid=str(uuid.uuid4()),
                    admin_stamp=str(uuid.uuid4()),
                )
            )
        return self.get(name)

    def update(
        self,
        name: str,
        *,
        anonymous_pull_enabled: bool | None = None,
        admin_user_enabled: bool | None = None,
    ) -> RegistryRecord:
        record = self.get(name)
        values = {
            key: value
            for key, value in (
                ("anonymous_pull_enabled", anonymous_pull_enabled),
                ("admin_user_enabled", admin_user_enabled),
            )
            if value is not None
        }
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(registries).where(registries.c.id == record.id).values(values))
                # The admin user and anonymous pull decide who may do what: cached grants go.
                epochs.bump(conn)
        return self.get(name)

    def check_removable(self, name: str) -> None:
        """Refuse (LockedError) when a delete lock holds content in the registry: a locked
        repository with content, or a locked tag or manifest that exists. Deleting the
        registry would delete what the lock protects."""
        record = self.get(name)
        with self.engine.connect() as conn:
            _check_removable(conn, record)

    def remove(self, name: str) -> RegistryRecord:
        """Forget a registry and (by cascade) its repositories, links and tags; refused
        while a delete lock holds content in it (``check_removable``)."""
        record = self.get(name)
        with self.engine.begin() as conn:
            # Checked in the delete's own transaction: no lock or push can slip in between.
            _check_removable(conn, record)
            conn.execute(delete(registries).where(registries.c.id == record.id))
            epochs.bump(conn)
        return record


def _check_removable(conn: Connection, record: RegistryRecord) -> None:
    attrs, repo = repository_attributes, repositories
    # A lock outlives what it names (locks.py), so only a lock on something that exists
    # holds the registry: the repository with any content, or the tag or manifest itself.
    holds = or_(
        and_(
            attrs.c.reference == "",
            or_(
                exists().where(repo_manifests.c.repository_id == repo.c.id),
                exists().where(repo_blobs.c.repository_id == repo.c.id),
            ),
        ),
        exists().where(tags.c.repository_id == repo.c.id, tags.c.name == attrs.c.reference),
        exists().where(
            repo_manifests.c.repository_id == repo.c.id,
            repo_manifests.c.digest == attrs.c.reference,
        ),
    )
    rows = conn.execute(
        select(attrs.c.repository, attrs.c.reference)
        .select_from(
            attrs.join(
                repo,
                and_(repo.c.registry_id == attrs.c.registry_id, repo.c.name == attrs.c.repository),
            )
        )
        .where(attrs.c.registry_id == record.id, attrs.c.delete_enabled == false(), holds)
        .order_by(attrs.c.repository, attrs.c.reference)
    ).all()
    if not rows:
        return
    first = Lock(record.name, rows[0].repository, rows[0].reference, DELETE)
    more = f" ({len(rows) - 1} more delete lock(s) hold content in it)" if len(rows) > 1 else ""
    raise LockedError(
        f"registry {record.name!r} cannot be deleted while delete locks hold content in it: "
        f"{first.message()}{more}"
    )
