"""REST request parsing: hostile JSON bodies and out-of-range integers are 400s, not 500s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from airlock.errors import InvalidArgumentError
from airlock.server.routes.common import INTEGER_MAX, integer, json_body


def request_with(body: bytes) -> Request:
    """A Starlette request built in-process whose body arrives in two messages."""
    messages = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.request", "body": body[len(body) // 2 :], "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/registries",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    return Request(scope, receive)


def parse(body: bytes) -> dict[str, Any]:
    return asyncio.run(json_body(request_with(body)))


def refusal(body: bytes) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as caught:
        parse(body)
    assert caught.value.status == 400
    return caught.value


def test_json_object_is_parsed() -> None:
    assert parse(b'{"name": "myregistry", "tags": ["a", {"b": 1}]}') == {
        "name": "myregistry",
        "tags": ["a", {"b": 1}],
    }


def test_deeply_nested_json_is_400() -> None:
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    error = refusal(deep)
    assert "nested deeper than 32 levels" in error.message


def test_nesting_at_the_limit_is_accepted() -> None:
    body = parse(b'{"a": ' + b"[" * 31 + b"]" * 31 + b"}")
    depth, value = 1, body["a"]
    while value:
        value = value[0]
        depth += 1
    assert depth == 31


def test_lone_surrogate_is_400() -> None:
    error = refusal(b'{"name": "\\ud800"}')
    assert "lone UTF-16 surrogate" in error.message
    assert parse(b'{"name": "\\ud83d\\ude00"}') == {"name": "\U0001f600"}  # a proper pair


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"a": 1'], ids=repr
)
def test_malformed_or_non_object_bodies_are_400(body: bytes) -> None:
    assert refusal(body).message == "request body must be a JSON object"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 7), ("0", 0), ("42", 42), (" 5 ", 5), (str(INTEGER_MAX), INTEGER_MAX)],
)
def test_integer_accepts_whole_numbers_in_range(value: str | None, expected: int) -> None:
    assert integer(value, "since", 7) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("1e30", "whole number from 0 to"),
        ("99999999999999999999999", "whole number from 0 to"),
        (str(INTEGER_MAX + 1), "at most"),
        ("-1", "0 or more"),
        ("1_000", "whole number"),
        ("+5", "whole number"),
        ("٣", "whole number"),  # an Arabic-Indic digit: int() would take it
        ("", "whole number"),
        ("9" * 5000, "whole number"),
    ],
)
def test_integer_refuses_what_the_database_cannot_hold(value: str, says: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        integer(value, "since", 0)
    assert caught.value.status == 400
    assert caught.value.message.startswith("since must be")
    assert says in caught.value.message
    assert len(caught.value.message) < 120  # a huge value is not echoed whole
