"""Scopes and actions: Docker's ``repository:<name>:<actions>`` grammar, ACR's scope-map
actions, and what an identity may do (``Permissions``).

ACR's actions map onto the Docker token actions the registry checks::

    content/read    -> pull            content/write  -> push
    content/delete  -> delete          metadata/read  -> metadata_read
    metadata/write  -> metadata_write

A scope-map rule names one repository, a namespace wildcard (``samples/*``, every repository
under ``samples/``) or ``*`` (every repository).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airlock.oci.errors import InvalidNameError
from airlock.oci.names import check_name

PULL = "pull"
PUSH = "push"
DELETE = "delete"
METADATA_READ = "metadata_read"
METADATA_WRITE = "metadata_write"
REPOSITORY_ACTIONS = frozenset({PULL, PUSH, DELETE, METADATA_READ, METADATA_WRITE})

ACR_ACTIONS: dict[str, str] = {
    "content/read": PULL,
    "content/write": PUSH,
    "content/delete": DELETE,
    "metadata/read": METADATA_READ,
    "metadata/write": METADATA_WRITE,
}

REPOSITORY = "repository"
REGISTRY = "registry"
CATALOG = "catalog"
ALL = "*"

# Bounds on what a token request may ask, so that a request cannot make the server build
# (and sign) an arbitrarily large token.
MAX_SCOPES = 64
MAX_SCOPE_LENGTH = 512


class ScopeError(ValueError):
    """A scope or scope-map action that does not parse; the message says why."""


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One entry of a token's ``access`` claim (or of a request for one)."""

    type: str
    name: str
    actions: frozenset[str]

    def to_claim(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


def parse_scope(text: str) -> AccessEntry:
    """``repository:<name>:<a,b>`` or ``registry:catalog:*``; raises ScopeError."""
    if len(text) > MAX_SCOPE_LENGTH:
        raise ScopeError(f"scope longer than {MAX_SCOPE_LENGTH} characters")
    kind, sep, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not sep or not sep2 or not name:
        raise ScopeError(f"malformed scope {text[:80]!r}: expected 'type:name:actions'")
    # Docker allows a resource class, as in "repository(plugin):name:pull"; it does not
    # change what is checked.
    kind = kind.split("(", 1)[0]
    actions = frozenset(a for a in actions_text.split(",") if a)
    if kind == REPOSITORY:
        return AccessEntry(REPOSITORY, _repository_name(name), _repository_actions(actions))
    if kind == REGISTRY:
        if name != CATALOG or not actions <= {ALL}:
            raise ScopeError(f"unknown registry scope {text[:80]!r}: only 'registry:catalog:*'")
        return AccessEntry(REGISTRY, CATALOG, actions)
    raise ScopeError(
        f"unknown resource type {kind[:40]!r} in scope: use 'repository' or 'registry'"
    )


def parse_scopes(texts: Iterable[str]) -> list[AccessEntry]:
    """Every scope of a token request, merged per resource."""
    merged: dict[tuple[str, str], frozenset[str]] = {}
    for count, text in enumerate(texts, 1):
        if count > MAX_SCOPES:
            raise ScopeError(f"too many scopes: at most {MAX_SCOPES} per token request")
        # A client may also join several scopes with spaces in one parameter (RFC 6749).
        for part in text.split():
            entry = parse_scope(part)
            key = (entry.type, entry.name)
            merged[key] = merged.get(key, frozenset()) | entry.actions
    if len(merged) > MAX_SCOPES:
        raise ScopeError(f"too many scopes: at most {MAX_SCOPES} per token request")
    return [AccessEntry(kind, name, actions) for (kind, name), actions in merged.items()]


def _repository_name(name: str) -> str:
    try:
        return check_name(name)
    except InvalidNameError as exc:
        raise ScopeError(str(exc)) from None


def _repository_actions(actions: frozenset[str]) -> frozenset[str]:
    if ALL in actions:
        return REPOSITORY_ACTIONS
    unknown = actions - REPOSITORY_ACTIONS
    if unknown:
        raise ScopeError(
            f"unknown action {sorted(unknown)[0][:40]!r}; "
            f"use {', '.join(sorted(REPOSITORY_ACTIONS))} or *"
        )
    return actions


# --- scope-map rules ---------------------------------------------------------------------


def check_pattern(pattern: str) -> str:
    """A scope-map repository: a name, ``<namespace>/*`` or ``*``; raises ScopeError."""
    if pattern == ALL:
        return pattern
    base = pattern[:-2] if pattern.endswith("/*") else pattern
    try:
        check_name(base)
    except InvalidNameError:
        raise ScopeError(
            f"invalid repository {pattern[:80]!r}: use a repository name, "
            "a namespace wildcard such as 'samples/*', or '*'"
        ) from None
    return pattern


def check_acr_action(action: str) -> str:
    if action not in ACR_ACTIONS:
        raise ScopeError(f"unknown action {action[:40]!r}; use one of {', '.join(ACR_ACTIONS)}")
    return action


def format_map_action(pattern: str, action: str) -> str:
    return f"repositories/{check_pattern(pattern)}/{check_acr_action(action)}"


def parse_map_action(text: str) -> tuple[str, str]:
    """``repositories/<repository>/<content|metadata>/<verb>`` -> (repository, action)."""
    parts = text.split("/")
    if len(parts) < 4 or parts[0] != "repositories":
        raise ScopeError(
            f"malformed scope-map action {text[:80]!r}: expected "
            "'repositories/<repository>/<action>', e.g. 'repositories/node/content/read'"
        )
    action = "/".join(parts[-2:])
    pattern = "/".join(parts[1:-2])
    return check_pattern(pattern), check_acr_action(action)


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    actions: frozenset[str]

    def matches(self, name: str) -> bool:
        if self.pattern == ALL:
            return True
        if self.pattern.endswith("/*"):
            return name.startswith(self.pattern[:-1])
        return name == self.pattern


@dataclass(frozen=True, slots=True)
class Permissions:
    """What an identity may do on one registry."""

    rules: tuple[Rule, ...]

    @classmethod
    def from_map_actions(cls, actions: Iterable[str]) -> Permissions:
        merged: dict[str, set[str]] = {}
        for text in actions:
            pattern, action = parse_map_action(text)
            merged.setdefault(pattern, set()).add(ACR_ACTIONS[action])
        return cls(tuple(Rule(p, frozenset(a)) for p, a in merged.items()))

    def allows(self, kind: str, name: str, action: str) -> bool:
        if kind == REGISTRY:
            # Listing the catalog reveals every repository name: it takes metadata/read on
            # every repository (the admin user, _repositories_admin, the *_metadata_* maps).
            return name == CATALOG and any(
                r.pattern == ALL and METADATA_READ in r.actions for r in self.rules
            )
        return any(action in r.actions and r.matches(name) for r in self.rules)

    def grant(self, requested: Iterable[AccessEntry]) -> list[AccessEntry]:
        """The intersection of what was asked and what is allowed; empty entries dropped."""
        granted = []
        for entry in requested:
            actions = frozenset(a for a in entry.actions if self.allows(entry.type, entry.name, a))
            if actions:
                granted.append(AccessEntry(entry.type, entry.name, actions))
        return granted


EVERYTHING = Permissions((Rule(ALL, REPOSITORY_ACTIONS),))
ANONYMOUS_PULL = Permissions((Rule(ALL, frozenset({PULL})),))
NOTHING = Permissions(())
