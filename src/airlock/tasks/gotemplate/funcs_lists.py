"""Sprig's list functions (list, first, rest, append, uniq, has, compact, slice, concat...)."""

from __future__ import annotations

from typing import Any

from airlock.tasks.gotemplate.funcs_common import (
    F,
    Func,
    FuncError,
    _empty,
    _kind,
    _to_int,
    deep_equal,
)
from airlock.tasks.gotemplate.values import NilList, type_name, unwrap


def _list_of(v: Any, fn: str) -> list[Any]:
    v = unwrap(v)
    if isinstance(v, list):
        return v
    raise FuncError(f"Cannot find {fn} on type {type_name(v)}")


def _first(v: Any) -> Any:
    items = _list_of(v, "first")
    return items[0] if items else None


def _last(v: Any) -> Any:
    items = _list_of(v, "last")
    return items[-1] if items else None


def _uniq(v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _list_of(v, "uniq"):
        if not any(deep_equal(x, y) for y in out):
            out.append(x)
    return out


def _has(needle: Any, haystack: Any) -> bool:
    haystack = unwrap(haystack)
    if haystack is None:
        return False
    return any(deep_equal(needle, x) for x in _list_of(haystack, "has"))


def _list_like(v: Any, fn: str, verb: str = "find") -> list[Any]:
    v = unwrap(v)
    if isinstance(v, list):
        return list(v)
    kind = _kind(v) if v is not None else "invalid"
    raise FuncError(f"Cannot {verb} {fn} on type {kind}")


def _compact(v: Any) -> list[Any]:
    return [x for x in _list_like(v, "compact", "compact") if not _empty(x)]


def _reverse(v: Any) -> list[Any]:
    return _list_like(v, "reverse")[::-1]


def _without(v: Any, *omit: Any) -> list[Any]:
    return [x for x in _list_like(v, "without") if not any(deep_equal(x, o) for o in omit)]


def _sprig_slice(v: Any, *indices: Any) -> Any:
    """Sprig v2's ``slice`` (it replaces text/template's builtin of the same name)."""
    v = unwrap(v)
    if not isinstance(v, list):
        raise FuncError(f"list should be type of slice or array but {_kind(v)}")
    if not v:
        return None
    start = _to_int(indices[0]) if indices else 0
    end = _to_int(indices[1]) if len(indices) > 1 else len(v)
    if not 0 <= start <= end <= len(v):
        raise FuncError("reflect.Value.Slice: slice index out of bounds")
    return type(v)(v[start:end])


def _concat(*lists: Any) -> Any:
    out: list[Any] = NilList()
    for v in lists:
        v = unwrap(v)
        if not isinstance(v, list):
            raise FuncError(f"Cannot concat type {_kind(v)} as list")
        out.extend(v)
    return out


FUNCS: dict[str, Func] = {
    "list": F("a", lambda *a: list(a), True),
    "tuple": F("a", lambda *a: list(a), True),
    "first": F("a", _first),
    "last": F("a", _last),
    "rest": F("a", lambda v: _list_of(v, "rest")[1:] or NilList()),
    "initial": F("a", lambda v: _list_of(v, "initial")[:-1] or NilList()),
    "append": F("aa", lambda v, x: [*_list_of(v, "append"), x]),
    "push": F("aa", lambda v, x: [*_list_of(v, "push"), x]),
    "prepend": F("aa", lambda v, x: [x, *_list_of(v, "prepend")]),
    "uniq": F("a", _uniq),
    "has": F("aa", _has),
    "compact": F("a", _compact),
    "reverse": F("a", _reverse),
    "without": F("aa", _without, True),
    "concat": F("a", _concat, True),
    "slice": F("aa", _sprig_slice, True),
}
