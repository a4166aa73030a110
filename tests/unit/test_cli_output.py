"""Output formats of the CLI, checked against az's rules (knack's formatters)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

from airlock.cli.acr import registry_table
from airlock.cli.output import render
from airlock.cli.repository import tags_table

REGISTRY: dict[str, Any] = {
    "id": "/subscriptions/local/resourceGroups/demo/providers/Microsoft.ContainerRegistry"
    "/registries/myregistry",
    "name": "myregistry",
    "loginServer": "127.0.0.1:5001",
    "port": 5001,
    "resourceGroup": "demo",
    "location": "local",
    "sku": {"name": "Premium", "tier": "Premium"},
    "creationDate": "2026-11-22T07:00:00.123456+00:00",
    "provisioningState": "Succeeded",
    "adminUserEnabled": False,
    "type": "Airlock/registries",
}
TAG_DETAIL = {
    "name": "20",
    "digest": "sha256:" + "a" * 64,
    "createdTime": "2026-11-22T07:00:00Z",
    "lastUpdateTime": "2026-11-22T08:00:00Z",
    "signed": False,
}


def test_json_is_sorted_with_two_space_indent() -> None:
    text = render({"b": 1, "a": [True, None]}, "json")
    assert text == '{\n  "a": [\n    true,\n    null\n  ],\n  "b": 1\n}\n'


def test_json_keeps_non_ascii_characters() -> None:
    assert render({"name": "café"}, "json") == '{\n  "name": "café"\n}\n'


def test_jsonc_without_a_terminal_is_plain_json() -> None:
    assert render(REGISTRY, "jsonc", color=False) == render(REGISTRY, "json")


def test_jsonc_on_a_terminal_colors_keys() -> None:
    text = render({"name": "x"}, "jsonc", color=True)
    assert "\x1b[" in text
    assert "name" in text


def test_seed_query_login_server_tsv_prints_the_bare_value() -> None:
    assert render(REGISTRY, "tsv", query="loginServer") == "127.0.0.1:5001\n"


def test_seed_query_value_tsv_prints_the_secret_value() -> None:
    secret = {"id": "https://kv/secrets/github-token/1", "value": "ghp_abc", "attributes": {}}
    assert render(secret, "tsv", query="value") == "ghp_abc\n"


def test_tsv_list_of_strings_is_one_per_line() -> None:
    assert render(["18", "20"], "tsv") == "18\n20\n"


def test_tsv_object_values_in_sorted_key_order_with_nested_kept_as_placeholders() -> None:
    # A nested object shows as an empty field and a list as its length, as az does, so
    # every row has the same columns.
    item = {"name": "n1", "digest": "d1", "sku": {"name": "x"}, "tags": ["a", "b"]}
    assert render([item], "tsv") == "d1\tn1\t\t2\n"


def test_tsv_multiselect_hash_keeps_the_query_order() -> None:
    text = render([REGISTRY], "tsv", query="[].{z: name, a: loginServer}")
    assert text == "myregistry\t127.0.0.1:5001\n"


def test_tsv_top_level_boolean_is_lowercase() -> None:
    assert render(REGISTRY, "tsv", query="adminUserEnabled") == "false\n"


def test_null_query_result_prints_nothing() -> None:
    assert render(REGISTRY, "json", query="missing") == ""
    assert render(REGISTRY, "tsv", query="missing") == ""


def test_none_format_prints_nothing() -> None:
    assert render(REGISTRY, "none") == ""


def test_yaml_output() -> None:
    text = render({"name": "r", "sku": {"name": "Premium"}}, "yaml")
    assert text == "name: r\nsku:\n  name: Premium\n"


def test_yaml_accepts_query_results() -> None:
    assert render(REGISTRY, "yaml", query="{n: name}") == "n: myregistry\n"


def test_registry_table_has_az_columns() -> None:
    text = render([REGISTRY], "table", table=registry_table)
    lines = text.splitlines()
    assert lines[0].split("  ")[0] == "NAME"
    for header in ("RESOURCE GROUP", "LOCATION", "SKU", "LOGIN SERVER", "CREATION DATE"):
        assert header in lines[0]
    assert lines[0].endswith("ADMIN ENABLED")
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == [
        "myregistry",
        "demo",
        "local",
        "Premium",
        "127.0.0.1:5001",
        "2026-11-22T07:00:00Z",
        "False",
    ]


def test_table_columns_are_header_plus_two_wide_and_aligned() -> None:
    text = render([REGISTRY], "table", table=registry_table)
    header, dashes, row = text.splitlines()
    # tabulate's "simple" format that az uses: a column is at least its header plus two.
    assert dashes.split("  ")[1] == "-" * len("RESOURCE GROUP  ")
    assert row.index("demo") == header.index("RESOURCE GROUP")
    assert row.index("Premium") == header.index("SKU")


def test_list_of_strings_table_has_result_column() -> None:
    assert render(["hello", "node"], "table") == "Result\n--------\nhello\nnode\n"


def test_show_tags_detail_table_columns() -> None:
    text = render([TAG_DETAIL], "table", table=tags_table)
    header, _, row = text.splitlines()
    assert header.split() == ["Name", "Digest", "CreatedTime", "LastUpdateTime"]
    assert row.split() == [
        "20",
        TAG_DETAIL["digest"],
        "2026-11-22T07:00:00Z",
        "2026-11-22T08:00:00Z",
    ]


def test_show_tags_plain_table_keeps_result_column() -> None:
    assert render(["18"], "table", table=tags_table).splitlines()[0] == "Result"


def test_automatic_table_sorts_keys_and_skips_id_type_and_nested() -> None:
    text = render(
        {"name": "n", "id": "x", "type": "t", "digest": "d", "tags": ["a"], "nothing": None},
        "table",
    )
    assert text.splitlines()[0].split() == ["Digest", "Name"]


def test_query_replaces_the_command_table_columns() -> None:
    text = render(
        [REGISTRY], "table", query="[].{Login: loginServer, Reg: name}", table=registry_table
    )
    assert text.splitlines()[0].split() == ["Login", "Reg"]
    assert text.splitlines()[2].split() == ["127.0.0.1:5001", "myregistry"]


def test_table_of_rows_with_different_keys_leaves_blanks() -> None:
    text = render([OrderedDict(a="1"), OrderedDict(b="2")], "table", query="@")
    assert text.splitlines() == ["A    B", "---  ---", "1", "     2"]


def test_table_without_scalar_fields_is_refused() -> None:
    with pytest.raises(ValueError):
        render([{"nested": {"a": 1}}], "table")


@pytest.mark.parametrize("fmt", ["json", "yaml", "tsv", "table"])
def test_query_applies_before_every_format(fmt: str) -> None:
    assert "myregistry" in render([REGISTRY], fmt, query="[0].name")
    assert "demo" not in render([REGISTRY], fmt, query="[0].name")
