"""The instances' records: names unique per resource group, one loopback address each.

An address is claimed by the insert itself (the column is unique): two creates racing for
the same one cannot both win; the loser tries the next free address.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from airlock.common.clock import now_iso
from airlock.crypto import MasterKey
from airlock.db.schema import container_instances as t
from airlock.errors import ConflictError, NotFoundError
from airlock.instances.model import (
    FIRST_ADDRESS,
    LAST_ADDRESS,
    Instance,
    Port,
    address_of,
    check_instance_name,
)


class InstanceStore:
    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self.engine = engine
        self.key = master_key

    def find(self, group: str, name: str) -> Instance | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t).where(t.c.resource_group == group, t.c.name_key == name.lower())
            ).first()
        return None if row is None else self._instance(row)

    def get(self, group: str, name: str) -> Instance:
        found = self.find(group, name)
        if found is None:
            raise NotFoundError(
                f"container group {name!r} not found in resource group {group!r}",
                "ResourceNotFound",
            )
        return found

    def all(self, group: str | None = None) -> list[Instance]:
        query = select(t).order_by(t.c.resource_group, t.c.name_key)
        if group is not None:
            query = query.where(t.c.resource_group == group)
        with self.engine.connect() as conn:
            return [self._instance(row) for row in conn.execute(query)]

    def add(self, draft: Instance) -> Instance:
        """Record a new instance on the lowest free loopback address."""
        check_instance_name(draft.name)
        for _ in range(LAST_ADDRESS - FIRST_ADDRESS + 1):
            address = self._free_address()
            record = replace(
                draft,
                id=str(uuid.uuid4()),
                ip_address=address,
                created_at=now_iso(),
                updated_at=now_iso(),
            )
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(t).values(**self._row(record)))
                return record
            except IntegrityError:
                if self.find(draft.resource_group, draft.name) is not None:
                    raise ConflictError(
                        f"container group {draft.name!r} already exists",
                        "ResourceExists",
                    ) from None
        raise ConflictError("no free loopback address is left for another instance")

    def save(self, record: Instance) -> Instance:
        record = replace(record, updated_at=now_iso())
        values = self._row(record)
        for key in ("id", "resource_group", "name_key", "ip_address", "created_at"):
            values.pop(key)
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == record.id).values(**values))
        return record

    def set_state(self, record_id: str, **fields: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t).where(t.c.id == record_id).values(updated_at=now_iso(), **fields)
            )

    def reload(self, record: Instance) -> Instance:
        return self.get(record.resource_group, record.name)

    def remove(self, record_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.id == record_id))

    def _free_address(self) -> str:
        with self.engine.connect() as conn:
            used = set(conn.execute(select(t.c.ip_address)).scalars())
        for index in range(FIRST_ADDRESS, LAST_ADDRESS + 1):
            if address_of(index) not in used:
                return address_of(index)
        raise ConflictError("no free loopback address is left for another instance")

    def _row(self, record: Instance) -> dict[str, Any]:
        context = f"instance:{record.id}"
        secure = json.dumps(record.secure_environment).encode()
        return {
            "id": record.id,
            "resource_group": record.resource_group,
            "name_key": record.name.lower(),
            "name": record.name,
            "image": record.image,
            "digest": record.digest,
            "base_image": record.base_image,
            "base_digest": record.base_digest,
            "login_server": record.login_server,
            "username": record.username,
            "sealed_password": (
                self.key.seal(record.password.encode(), context + ":password")
                if record.password
                else None
            ),
            "ports": json.dumps([[p.port, p.host_port] for p in record.ports]),
            "environment": json.dumps(record.environment),
            "sealed_secure_environment": self.key.seal(secure, context + ":environment"),
            "restart_policy": record.restart_policy,
            "ip_address": record.ip_address,
            "state": record.state,
            "provisioning_state": record.provisioning_state,
            "container": record.container,
            "message": record.message,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }

    def _instance(self, row: Row[Any]) -> Instance:
        context = f"instance:{row.id}"
        password = (
            self.key.open(row.sealed_password, context + ":password").decode()
            if row.sealed_password
            else None
        )
        secure: dict[str, str] = (
            json.loads(self.key.open(row.sealed_secure_environment, context + ":environment"))
            if row.sealed_secure_environment
            else {}
        )
        return Instance(
            id=row.id,
            resource_group=row.resource_group,
            name=row.name,
            image=row.image,
            ip_address=row.ip_address,
            ports=tuple(Port(p, h) for p, h in json.loads(row.ports)),
            environment=json.loads(row.environment),
            secure_environment=secure,
            restart_policy=row.restart_policy,
            state=row.state,
            provisioning_state=row.provisioning_state,
            login_server=row.login_server,
            username=row.username,
            password=password,
            digest=row.digest,
            base_image=row.base_image,
            base_digest=row.base_digest,
            container=row.container,
            message=row.message,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
