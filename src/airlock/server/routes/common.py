"""Request parsing shared by the REST routes; bad input becomes InvalidArgumentError (400)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from airlock.common.jsonio import JSONLimitError, loads_bounded
from airlock.errors import InvalidArgumentError

# Query integers are ids, counts and limits: SQLite stores 64-bit integers, so a bigger one
# would fail in the database (a 500) instead of here.
INTEGER_MAX = 2**62


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def integer(value: str | None, name: str, default: int) -> int:
    """A whole number from 0 to 2**62 (``default`` when the parameter is absent)."""
    if value is None:
        return default
    text = value.strip()
    # Digits only: int() would also take "1_000", "+5" and non-ASCII digits; the length cap
    # keeps int() away from huge strings.
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            raise InvalidArgumentError(f"{name} must be 0 or more, not {value!r}")
        raise InvalidArgumentError(
            f"{name} must be a whole number from 0 to {INTEGER_MAX}, not {value[:40]!r}"
        )
    number = int(text)
    if number > INTEGER_MAX:
        raise InvalidArgumentError(f"{name} must be at most {INTEGER_MAX}, not {text}")
    return number


def required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise InvalidArgumentError(f"missing query parameter {name!r}")
    return value


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; bounded parsing (nesting, lone surrogates) so that
    hostile input is a 400 that says what is wrong, never a 500 further in."""
    raw = await request.body()
    try:
        body = loads_bounded(raw)
    except JSONLimitError as exc:
        raise InvalidArgumentError(f"request body refused: {exc}") from None
    except ValueError:  # malformed JSON or not UTF-8 (UnicodeDecodeError is a ValueError)
        raise InvalidArgumentError("request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidArgumentError("request body must be a JSON object")
    return body
