"""Sprig's dictionary functions (dict, hasKey, keys, values, set, unset, pluck, pick, omit)."""

from __future__ import annotations

from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, FuncError, strval
from airlock.tasks.gotemplate.values import StrList, unwrap


def _dict(*args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    items = list(args)
    if len(items) % 2:
        items.append("")
    for k, v in zip(items[::2], items[1::2], strict=True):
        out[strval(unwrap(k))] = unwrap(v)
    return out


def _has_key(d: dict[str, Any] | None, key: str) -> bool:
    return d is not None and key in d


def _keys(*dicts: Any) -> StrList:
    out = StrList()
    for d in dicts:
        out.extend(d or {})
    return out


def _pluck(key: str, *dicts: Any) -> list[Any]:
    return [d[key] for d in dicts if d is not None and key in d]


def _pick(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if d is not None and k in d}


def _omit(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k not in keys}


def _set(d: dict[str, Any] | None, key: str, value: Any) -> dict[str, Any]:
    if d is None:
        raise FuncError("assignment to entry in nil map")
    d[key] = value
    return d


def _unset(d: dict[str, Any] | None, key: str) -> dict[str, Any]:
    if d is None:
        return {}  # Go: a nil map, which prints map[]
    d.pop(key, None)
    return d


FUNCS: dict[str, Func] = {
    "dict": F("a", _dict, True),
    "hasKey": F("ds", _has_key),
    "keys": F("d", _keys, True),
    "values": F("d", lambda d: list((d or {}).values())),
    "set": F("dsa", _set),
    "unset": F("ds", _unset),
    "pluck": F("sd", _pluck, True),
    "pick": F("ds", _pick, True),
    "omit": F("ds", _omit, True),
}
