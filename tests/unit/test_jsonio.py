"""Bounded JSON parsing: what json.loads accepts but Airlock must refuse."""

from __future__ import annotations

import pytest

from airlock.common.jsonio import MAX_DEPTH, JSONLimitError, loads_bounded


def test_ordinary_documents_parse_as_json_loads_does() -> None:
    assert loads_bounded(b'{"a": [1, {"b": "]]]\\"[[["}]}') == {"a": [1, {"b": ']]]"[[['}]}
    assert loads_bounded("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    # A surrogate pair is a real character, not a lone surrogate.
    assert loads_bounded('"\\ud83d\\ude00"') == "\U0001f600"
    # Many brackets inside strings do not count as nesting.
    assert loads_bounded('{"x": "' + "[" * 100 + '"}') == {"x": "[" * 100}


@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
        "[" * 100_000,  # so deep that json.loads itself gives up
    ],
    ids=["list", "object", "far too deep"],
)
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(JSONLimitError, match="nested deeper than"):
        loads_bounded(text)


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\uDC00": 1}', '["ok", {"k": "\\udbff"}]'])
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(JSONLimitError, match="lone UTF-16 surrogate"):
        loads_bounded(text)


def test_malformed_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads_bounded(b"{not json")
    with pytest.raises(ValueError):
        loads_bounded(b"\xff\xfe")
