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


# --- fields of a JSON body: each names the field and what it must be ------------------------


def only(body: dict[str, Any], *allowed: str) -> None:
    """Refuse fields the route does not know (a typo must not be silently ignored)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidArgumentError(
            f"unknown field {unknown[0][:40]!r}; expected {', '.join(allowed)}"
        )


def text(body: dict[str, Any], key: str, limit: int | None = None) -> str | None:
    """An optional string field (None when absent)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{key!r} must be a string")
    if limit is not None and len(value) > limit:
        raise InvalidArgumentError(f"{key!r} is longer than {limit} characters")
    return value


def required_text(
    body: dict[str, Any], key: str, limit: int | None = None, allow_empty: bool = False
) -> str:
    """A string field that must be there (and, unless ``allow_empty``, not be empty)."""
    value = text(body, key, limit)
    if value is None or (not value and not allow_empty):
        raise InvalidArgumentError(f"{key!r} is required and must be a non-empty string")
    return value


def boolean(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidArgumentError(f"{key!r} must be true or false")
    return value


def whole_number(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(f"{key!r} must be a whole number")
    return value


def strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgumentError(f"{key!r} must be a list of strings")
    return tuple(value)
