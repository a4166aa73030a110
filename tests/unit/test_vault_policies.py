"""Access-policy, role and name rules that need no database."""

from __future__ import annotations

import pytest

from airlock.auth.roles import BUILTIN_ROLES
from airlock.errors import InvalidArgumentError
from airlock.identity.groups import check_group_name, group_id
from airlock.identity.principals import check_identity_name
from airlock.identity.roles import check_role
from airlock.vault.policies import AccessPolicy, check_permissions


def test_permissions_are_normalised_and_deduplicated() -> None:
    assert check_permissions(["Get", "LIST", "get"]) == ("get", "list")


@pytest.mark.parametrize("bad", [["read"], ["get", "encrypt"], []])
def test_unknown_or_missing_permissions_are_an_error(bad: list[str]) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_permissions(bad)
    assert "backup, delete, get, list" in caught.value.message


def test_policy_allows_only_what_it_grants() -> None:
    policy = AccessPolicy("pid", ("list",))
    assert policy.allows("list")
    assert not policy.allows("get")
    assert AccessPolicy("pid", ("all",)).allows("get")


def test_policy_json_has_azure_shape() -> None:
    shown = AccessPolicy("pid", ("get",)).to_json()
    assert shown["objectId"] == "pid"
    assert shown["permissions"]["secrets"] == ["get"]
    assert shown["permissions"]["keys"] == []


def test_roles_are_case_insensitive_builtins() -> None:
    assert check_role("owner") == "Owner"
    assert check_role("acrpull") == "AcrPull"
    with pytest.raises(InvalidArgumentError) as caught:
        check_role("Writer")
    for role in BUILTIN_ROLES:
        assert role.name in caught.value.message


def test_group_names_and_ids() -> None:
    assert check_group_name("acr-task-credentials-rg") == "acr-task-credentials-rg"
    assert check_group_name("a(b)_c.d") == "a(b)_c.d"
    assert group_id("g1") == "/subscriptions/local/resourceGroups/g1"
    for bad in ("", "ends.", "x" * 91, "sp ace", "sl/ash"):
        with pytest.raises(InvalidArgumentError):
            check_group_name(bad)


def test_identity_names() -> None:
    assert check_identity_name("task-id_1") == "task-id_1"
    for bad in ("ab", "-lead", "x" * 129, "sp ace"):
        with pytest.raises(InvalidArgumentError):
            check_identity_name(bad)
