"""Scope maps: named sets of ``repositories/<repository>/<action>`` that tokens point at.

Every registry has ACR's five system maps (seeded when the registry starts serving); user
maps are created, updated and deleted through the REST API. Every change is validated whole
before anything is written, so bad input changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.engine import Row

from airlock.auth.names import check_description, check_name, iso, now
from airlock.auth.scopes import ScopeError, parse_map_action
from airlock.db import epochs
from airlock.db.schema import scope_maps, tokens
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError

MAX_ACTIONS = 500
_CONTENT = ["content/read"]
SYSTEM_MAPS: dict[str, tuple[str, list[str]]] = {
    "_repositories_admin": (
        "Can perform all read, write and delete operations on the registry",
        ["content/read", "content/write", "content/delete", "metadata/read", "metadata/write"],
    ),
    "_repositories_pull": ("Can pull any repository of the registry", ["content/read"]),
    "_repositories_push": (
        "Can push to any repository of the registry",
        ["content/read", "content/write"],
    ),
    "_repositories_pull_metadata_read": (
        "Can perform all read operations on the registry",
        ["content/read", "metadata/read"],
    ),
    "_repositories_push_metadata_write": (
        "Can perform all read and write operations on the registry",
        ["content/read", "content/write", "metadata/read", "metadata/write"],
    ),
}


@dataclass(frozen=True, slots=True)
class ScopeMap:
    id: int
    name: str
    description: str
    actions: tuple[str, ...]
    system: bool
    created_at: str

    def to_json(self, registry_id_path: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": f"{registry_id_path}/scopeMaps/{self.name}",
            "description": self.description,
            "actions": list(self.actions),
            "scopeMapType": "SystemDefined" if self.system else "UserDefined",
            "creationDate": self.created_at,
            "provisioningState": "Succeeded",
            "type": "Airlock/registries/scopeMaps",
        }


def _record(row: Row[Any]) -> ScopeMap:
    return ScopeMap(
        row.id,
        row.name,
        row.description,
        tuple(json.loads(row.actions)),
        bool(row.system),
        row.created_at,
    )


def check_actions(actions: Any) -> list[str]:
    """Validated, de-duplicated scope-map actions, in the order given."""
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise InvalidArgumentError("'actions' must be a list of strings")
    if not actions:
        raise InvalidArgumentError(
            "a scope map needs at least one action, e.g. 'repositories/node/content/read'"
        )
    if len(actions) > MAX_ACTIONS:
        raise InvalidArgumentError(f"too many actions: a scope map holds at most {MAX_ACTIONS}")
    for action in actions:
        try:
            parse_map_action(action)
        except ScopeError as exc:
            raise InvalidArgumentError(str(exc)) from None
    return list(dict.fromkeys(actions))


class ScopeMaps:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_system(self, registry_id: int) -> None:
        with self.engine.begin() as conn:
            have = set(
                conn.execute(
                    select(scope_maps.c.name).where(scope_maps.c.registry_id == registry_id)
                ).scalars()
            )
            for name, (description, verbs) in SYSTEM_MAPS.items():
                if name not in have:
                    conn.execute(
                        insert(scope_maps).values(
                            registry_id=registry_id,
                            name=name,
                            description=description,
                            actions=json.dumps([f"repositories/*/{v}" for v in verbs]),
                            system=True,
                            created_at=iso(now()),
                        )
                    )

    def get(self, registry_id: int, name: str) -> ScopeMap:
        with self.engine.connect() as conn:
            return self._get(conn, registry_id, name)

    def all(self, registry_id: int) -> list[ScopeMap]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(scope_maps)
                .where(scope_maps.c.registry_id == registry_id)
                .order_by(scope_maps.c.system.desc(), scope_maps.c.name)
            )
            return [_record(row) for row in rows]

    def create(self, registry_id: int, name: str, actions: Any, description: str = "") -> ScopeMap:
        with self.engine.begin() as conn:
            return self.create_in(conn, registry_id, name, actions, description)

    def create_in(
        self, conn: Connection, registry_id: int, name: str, actions: Any, description: str
    ) -> ScopeMap:
        """Create inside the caller's transaction (``token create --repository`` does)."""
        check_name("scope map", name)
        checked = check_actions(actions)
        check_description(description)
        if self._find(conn, registry_id, name) is not None:
            raise ConflictError(f"a scope map named {name!r} already exists in this registry")
        conn.execute(
            insert(scope_maps).values(
                registry_id=registry_id,
                name=name,
                description=description,
                actions=json.dumps(checked),
                system=False,
                created_at=iso(now()),
            )
        )
        return self._get(conn, registry_id, name)

    def update(
        self,
        registry_id: int,
        name: str,
        *,
        add: Any = None,
        remove: Any = None,
        description: str | None = None,
    ) -> ScopeMap:
        with self.engine.begin() as conn:
            current = self._get(conn, registry_id, name)
            if current.system:
                raise InvalidArgumentError(
                    f"{name!r} is a system scope map and cannot be changed", "SystemScopeMap"
                )
            actions = list(current.actions)
            for action in check_actions(add) if add else []:
                if action not in actions:
                    actions.append(action)
            for action in check_actions(remove) if remove else []:
                if action not in actions:
                    raise InvalidArgumentError(f"scope map {name!r} has no action {action!r}")
                actions.remove(action)
            values: dict[str, Any] = {"actions": json.dumps(check_actions(actions))}
            if description is not None:
                values["description"] = check_description(description)
            conn.execute(update(scope_maps).where(scope_maps.c.id == current.id).values(values))
            # Tokens pointing at the map may now do less (or more): every cached grant goes.
            epochs.bump(conn)
            return self._get(conn, registry_id, name)

    def delete(self, registry_id: int, name: str) -> ScopeMap:
        with self.engine.begin() as conn:
            current = self._get(conn, registry_id, name)
            if current.system:
                raise InvalidArgumentError(
                    f"{name!r} is a system scope map and cannot be deleted", "SystemScopeMap"
                )
            users = list(
                conn.execute(
                    select(tokens.c.name).where(tokens.c.scope_map_id == current.id)
                ).scalars()
            )
            if users:
                raise ConflictError(
                    f"scope map {name!r} is used by token(s) {', '.join(sorted(users))}; "
                    "delete them or point them at another scope map first",
                    "ScopeMapInUse",
                )
            conn.execute(delete(scope_maps).where(scope_maps.c.id == current.id))
            epochs.bump(conn)
            return current

    def _find(self, conn: Connection, registry_id: int, name: str) -> ScopeMap | None:
        row = conn.execute(
            select(scope_maps)
            .where(scope_maps.c.registry_id == registry_id)
            .where(scope_maps.c.name == name)
        ).first()
        return None if row is None else _record(row)

    def _get(self, conn: Connection, registry_id: int, name: str) -> ScopeMap:
        found = self._find(conn, registry_id, name)
        if found is None:
            raise NotFoundError(
                f"scope map {name[:60]!r} not found; list them with "
                "'airlock acr scope-map list --registry <registry>'",
                "ScopeMapNotFound",
            )
        return found
