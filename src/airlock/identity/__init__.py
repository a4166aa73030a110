"""Principals (managed identities, the owner, users, service principals), their sessions,
resource groups, role assignments and the activity log (Azure's shapes, kept locally).

``Identities`` bundles the parts a server needs; each lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from airlock.identity.accounts import AccountStore
from airlock.identity.activity import ActivityLog
from airlock.identity.groups import GroupStore
from airlock.identity.principals import PrincipalStore
from airlock.identity.roles import RoleStore
from airlock.identity.sessions import SessionStore


@dataclass(frozen=True)
class Identities:
    principals: PrincipalStore
    groups: GroupStore
    roles: RoleStore
    accounts: AccountStore
    sessions: SessionStore
    activity: ActivityLog

    @classmethod
    def open(cls, engine: Engine) -> Identities:
        principals = PrincipalStore(engine)
        groups = GroupStore(engine)
        return cls(
            principals,
            groups,
            RoleStore(engine, principals, groups),
            AccountStore(engine, principals),
            SessionStore(engine),
            ActivityLog(engine),
        )


__all__ = ["Identities"]
