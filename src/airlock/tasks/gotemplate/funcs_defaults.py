"""Sprig's default functions (default, empty, coalesce, ternary) and flow control (fail)."""

from __future__ import annotations

from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, FuncError, _empty
from airlock.tasks.gotemplate.values import unwrap


def _default(d: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return unwrap(d)
    return unwrap(given[0])


def _coalesce(*v: Any) -> Any:
    for x in v:
        if not _empty(x):
            return unwrap(x)
    return None


def _ternary(a: Any, b: Any, cond: bool) -> Any:
    return unwrap(a) if cond else unwrap(b)


def _fail(msg: str) -> str:
    raise FuncError(msg)


FUNCS: dict[str, Func] = {
    "default": F("aa", _default, True),
    "empty": F("a", _empty),
    "coalesce": F("a", _coalesce, True),
    "ternary": F("aab", _ternary),
    "fail": F("s", _fail),
}
