"""Identities, resource groups and role assignments (Azure's shapes, recorded locally).

``Identities`` bundles the parts a server needs; each lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from airlock.identity.groups import GroupStore
from airlock.identity.principals import PrincipalStore
from airlock.identity.roles import RoleStore


@dataclass(frozen=True)
class Identities:
    principals: PrincipalStore
    groups: GroupStore
    roles: RoleStore

    @classmethod
    def open(cls, engine: Engine) -> Identities:
        principals = PrincipalStore(engine)
        groups = GroupStore(engine)
        return cls(principals, groups, RoleStore(engine, principals, groups))


__all__ = ["Identities"]
