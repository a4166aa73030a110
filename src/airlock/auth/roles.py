"""Built-in roles, the actions they allow, and the scopes they are assigned at (Azure's model).

A role assignment gives a principal a role at a scope; the role applies at that scope and
everything below it. Scopes are resource ids as ``az`` prints them::

    /subscriptions/local                                   the whole server
    /subscriptions/local/resourceGroups/G                  a resource group
    .../resourceGroups/G/providers/Microsoft.ContainerRegistry/registries/R
    .../resourceGroups/G/providers/Microsoft.KeyVault/vaults/V

Actions are Azure's operation names. As in Azure, registry push and pull are *actions*
(``Owner`` and ``Contributor`` include them), while reading and writing key vault secrets are
*data actions*, which only the Key Vault data roles (or a vault access policy) give.
``*`` in a pattern matches any run of characters, ``/`` included; matching ignores case.

This module is pure data and matching; the stores that read assignments live above it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from airlock.auth.scopes import ACR_ACTIONS, ALL, Permissions, Rule

SERVER_SCOPE = "/subscriptions/local"

REGISTRY_PROVIDER = "Microsoft.ContainerRegistry/registries"
VAULT_PROVIDER = "Microsoft.KeyVault/vaults"

# The registry data plane, as actions (what ``podman login`` with a principal may do).
PULL = "Microsoft.ContainerRegistry/registries/pull/read"
PUSH = "Microsoft.ContainerRegistry/registries/push/write"
DELETE_ARTIFACTS = "Microsoft.ContainerRegistry/registries/artifacts/delete"
METADATA_WRITE = "Microsoft.ContainerRegistry/registries/metadata/write"


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    name: str
    id: str
    description: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def allows(self, action: str, *, data: bool = False) -> bool:
        allow, deny = (
            (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        )
        return _any_match(allow, action) and not _any_match(deny, action)

    def to_json(self) -> dict[str, object]:
        """The shape of ``az role definition list``."""
        return {
            "id": f"{SERVER_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{self.id}",
            "name": self.id,
            "roleName": self.name,
            "roleType": "BuiltInRole",
            "description": self.description,
            "permissions": [
                {
                    "actions": list(self.actions),
                    "notActions": list(self.not_actions),
                    "dataActions": list(self.data_actions),
                    "notDataActions": list(self.not_data_actions),
                }
            ],
            "assignableScopes": ["/"],
            "type": "Microsoft.Authorization/roleDefinitions",
        }


_DIRECTORY_WRITES = ("Airlock.Directory/*/write", "Airlock.Directory/*/delete")

BUILTIN_ROLES: tuple[RoleDefinition, ...] = (
    RoleDefinition(
        "Owner",
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Full access to manage everything, including assigning roles.",
        actions=("*",),
    ),
    RoleDefinition(
        "Contributor",
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Manage everything except role assignments and the directory (users, service principals).",
        actions=("*",),
        not_actions=(
            "Microsoft.Authorization/*/write",
            "Microsoft.Authorization/*/delete",
            *_DIRECTORY_WRITES,
        ),
    ),
    RoleDefinition(
        "Reader",
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "View everything (never a secret value or a password); pull images.",
        actions=("*/read",),
    ),
    RoleDefinition(
        "User Access Administrator",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "Manage role assignments, users and service principals.",
        actions=("*/read", "Microsoft.Authorization/*", "Airlock.Directory/*"),
    ),
    RoleDefinition(
        "AcrPull",
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "Pull images from a registry.",
        actions=(PULL,),
    ),
    RoleDefinition(
        "AcrPush",
        "8311e382-0749-4cb8-b61a-304f252e45ec",
        "Push images to and pull them from a registry.",
        actions=(PULL, PUSH),
    ),
    RoleDefinition(
        "AcrDelete",
        "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
        "Delete images, tags and repositories from a registry.",
        actions=(DELETE_ARTIFACTS,),
    ),
    RoleDefinition(
        "AcrImageSigner",
        "6cef56e8-d556-48e5-a04f-b8b64b1a3c2b",
        "Sign images (Airlock keeps the role for the seed's scripts; it allows nothing more).",
        actions=("Microsoft.ContainerRegistry/registries/sign/write",),
    ),
    RoleDefinition(
        "Key Vault Administrator",
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        "Manage vaults and every secret in them, values included.",
        actions=("Microsoft.KeyVault/*", "Microsoft.Resources/subscriptions/resourceGroups/read"),
        data_actions=("Microsoft.KeyVault/vaults/*",),
    ),
    RoleDefinition(
        "Key Vault Contributor",
        "f25e0fa2-a7c8-4377-a976-54943a77a395",
        "Manage vaults and their access policies, never secret values.",
        actions=("Microsoft.KeyVault/*", "Microsoft.Resources/subscriptions/resourceGroups/read"),
    ),
    RoleDefinition(
        "Key Vault Secrets Officer",
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Read, set and delete secrets, values included.",
        actions=("Microsoft.KeyVault/vaults/read",),
        data_actions=("Microsoft.KeyVault/vaults/secrets/*",),
    ),
    RoleDefinition(
        "Key Vault Secrets User",
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Read secret values.",
        data_actions=(
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ),
    ),
    RoleDefinition(
        "Key Vault Reader",
        "21090545-7ca7-4776-b22c-e363652d74d2",
        "Read vaults and the names of their secrets, never values.",
        actions=("Microsoft.KeyVault/*/read",),
        data_actions=("Microsoft.KeyVault/vaults/secrets/readMetadata/action",),
    ),
)

_BY_KEY = {role.name.lower(): role for role in BUILTIN_ROLES}
_BY_ID = {role.id: role for role in BUILTIN_ROLES}


class UnknownRoleError(ValueError):
    """A role name that is not a built-in role; the message lists the known ones."""


def role(name: str) -> RoleDefinition:
    """The built-in role named ``name`` (case-insensitive, or by its definition id)."""
    key = name.strip()
    found = _BY_KEY.get(key.lower()) or _BY_ID.get(key.rsplit("/", 1)[-1].lower())
    if found is None:
        raise UnknownRoleError(
            f"unknown role {name[:60]!r}; Airlock knows the built-in roles "
            + ", ".join(r.name for r in BUILTIN_ROLES)
        )
    return found


def allows(roles: Iterable[str], action: str, *, data: bool = False) -> bool:
    """Whether any of the named roles allows ``action`` (a data action when ``data``)."""
    for name in roles:
        found = _BY_KEY.get(name.lower())
        if found is not None and found.allows(action, data=data):
            return True
    return False


def least_role(action: str, *, data: bool = False) -> RoleDefinition | None:
    """The built-in role with the fewest permissions that allows ``action``: what an error
    suggests granting."""
    candidates = [r for r in BUILTIN_ROLES if r.allows(action, data=data)]
    if not candidates:
        return None
    return min(candidates, key=_breadth)


def _breadth(definition: RoleDefinition) -> tuple[int, int, int]:
    """Smaller is narrower: fewer and narrower wildcards, fewer patterns, more exclusions."""
    patterns = definition.data_actions + definition.actions
    wildcards = sum(p.count("*") * (10 if p == "*" else 1) for p in patterns)
    exclusions = len(definition.not_actions) + len(definition.not_data_actions)
    return wildcards, len(patterns), -exclusions


# --- scopes ---------------------------------------------------------------------------------


def group_scope(group: str) -> str:
    return f"{SERVER_SCOPE}/resourceGroups/{group}"


def registry_scope(group: str, name: str) -> str:
    return f"{group_scope(group)}/providers/{REGISTRY_PROVIDER}/{name}"


def vault_scope(group: str, name: str) -> str:
    return f"{group_scope(group)}/providers/{VAULT_PROVIDER}/{name}"


def normalise_scope(scope: str) -> str:
    return scope.strip().rstrip("/")


def held_at(assignments: Iterable[tuple[str, str]], scope: str) -> list[str]:
    """The roles that (role, scope) assignments give at ``scope``: assigned there or above."""
    return sorted({role for role, assigned in assignments if covers(assigned, scope)})


def covers(assigned_scope: str, target_scope: str) -> bool:
    """Whether an assignment at ``assigned_scope`` applies at ``target_scope``."""
    assigned = normalise_scope(assigned_scope).lower()
    target = normalise_scope(target_scope).lower()
    return target == assigned or target.startswith(assigned + "/") or assigned == ""


# --- the registry data plane ------------------------------------------------------------------

# Each registry action, with the scope-map action it becomes on the data plane.
_DATA_PLANE = (
    (PULL, ("content/read", "metadata/read")),
    (PUSH, ("content/write",)),
    (DELETE_ARTIFACTS, ("content/delete",)),
    (METADATA_WRITE, ("metadata/write",)),
)


def registry_permissions(roles: Iterable[str]) -> Permissions | None:
    """What roles held at a registry's scope allow on its data plane (every repository);
    None when they allow nothing there."""
    held = [r for r in (_BY_KEY.get(name.lower()) for name in roles) if r is not None]
    actions: set[str] = set()
    for action, map_actions in _DATA_PLANE:
        if any(r.allows(action) for r in held):
            actions.update(ACR_ACTIONS[a] for a in map_actions)
    if not actions:
        return None
    # metadata/read on every repository is also what lists the catalog (see Permissions).
    return Permissions((Rule(ALL, frozenset(actions)),))


# --- matching ---------------------------------------------------------------------------------


def _any_match(patterns: Iterable[str], action: str) -> bool:
    return any(_pattern(p).fullmatch(action) for p in patterns)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE)
