"""Scope grammar, scope-map actions and the intersection of asked and allowed."""

from __future__ import annotations

import pytest

from airlock.auth.scopes import (
    ANONYMOUS_PULL,
    EVERYTHING,
    MAX_SCOPES,
    REPOSITORY_ACTIONS,
    AccessEntry,
    Permissions,
    ScopeError,
    parse_map_action,
    parse_scope,
    parse_scopes,
)


def entry(name: str, *actions: str) -> AccessEntry:
    return AccessEntry("repository", name, frozenset(actions))


def test_parse_repository_scope() -> None:
    assert parse_scope("repository:samples/node:pull,push") == entry("samples/node", "pull", "push")


def test_resource_class_is_ignored_and_star_means_every_action() -> None:
    assert parse_scope("repository(plugin):node:*").actions == REPOSITORY_ACTIONS


def test_catalog_scope() -> None:
    assert parse_scope("registry:catalog:*") == AccessEntry("registry", "catalog", frozenset("*"))


@pytest.mark.parametrize(
    "text",
    [
        "repository:node",
        "node:pull",
        "repository::pull",
        "repository:Node:pull",
        "repository:node:fly",
        "registry:other:*",
        "image:node:pull",
        "repository:" + "a" * 600 + ":pull",
    ],
)
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_scopes_merge_per_resource_and_split_on_spaces() -> None:
    parsed = parse_scopes(["repository:a:pull", "repository:a:push repository:b:pull"])
    assert parsed == [entry("a", "pull", "push"), entry("b", "pull")]


def test_oversized_scope_lists_are_refused() -> None:
    with pytest.raises(ScopeError, match="too many scopes"):
        parse_scopes([f"repository:r{i}:pull" for i in range(MAX_SCOPES + 1)])


def test_map_actions_parse_with_wildcards() -> None:
    assert parse_map_action("repositories/samples/*/content/read") == ("samples/*", "content/read")
    assert parse_map_action("repositories/*/metadata/write") == ("*", "metadata/write")


@pytest.mark.parametrize(
    "text",
    [
        "repositories/node/content/fly",
        "repository/node/content/read",
        "repositories/Bad Name/content/read",
        "repositories/content/read",
        "repositories/a*/content/read",
    ],
)
def test_bad_map_actions_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_map_action(text)


def test_intersection_keeps_only_what_is_allowed() -> None:
    permissions = Permissions.from_map_actions(
        ["repositories/node/content/read", "repositories/samples/*/content/write"]
    )
    granted = permissions.grant(
        [
            entry("node", "pull", "push"),
            entry("samples/a/b", "push", "pull"),
            entry("hello", "pull"),
        ]
    )
    assert granted == [entry("node", "pull"), entry("samples/a/b", "push")]


def test_namespace_wildcard_does_not_match_the_bare_prefix_or_lookalikes() -> None:
    permissions = Permissions.from_map_actions(["repositories/samples/*/content/read"])
    assert not permissions.allows("repository", "samples", "pull")
    assert not permissions.allows("repository", "samplesx/a", "pull")


def test_catalog_needs_metadata_read_on_everything() -> None:
    catalog = [AccessEntry("registry", "catalog", frozenset("*"))]
    assert EVERYTHING.grant(catalog) == catalog
    assert ANONYMOUS_PULL.grant(catalog) == []
    node_reader = Permissions.from_map_actions(["repositories/node/metadata/read"])
    assert node_reader.grant(catalog) == []
