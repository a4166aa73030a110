"""Request parsing shared by the REST routes; bad input becomes InvalidArgumentError (400)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from airlock.errors import InvalidArgumentError


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def integer(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, not {value!r}") from None


def required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise InvalidArgumentError(f"missing query parameter {name!r}")
    return value


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidArgumentError("request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidArgumentError("request body must be a JSON object")
    return body
