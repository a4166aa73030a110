"""Sprig's string slice functions (join, split, splitList, splitn, sortAlpha)."""

from __future__ import annotations

from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, strval
from airlock.tasks.gotemplate.values import StrList, StrMap, unwrap


def _join(sep: str, v: Any) -> str:
    v = unwrap(v)
    if isinstance(v, list):
        return sep.join(strval(unwrap(x)) for x in v if unwrap(x) is not None)
    if v is None:
        return ""
    return strval(v)


def _split(sep: str, s: str) -> StrMap:
    return StrMap({f"_{i}": part for i, part in enumerate(_go_split(s, sep))})


def _go_split(s: str, sep: str) -> StrList:
    """Go's ``strings.Split``: an empty separator splits after each UTF-8 sequence."""
    return StrList(s.split(sep) if sep else list(s))


def _splitn(sep: str, n: int, s: str) -> StrMap:
    if n == 0:
        return StrMap()
    if sep:
        parts = s.split(sep, n - 1) if n > 0 else s.split(sep)
    else:
        parts = list(s)
        if 0 < n < len(parts):
            parts = [*parts[: n - 1], "".join(parts[n - 1 :])]
    return StrMap({f"_{i}": part for i, part in enumerate(parts)})


def _sort_alpha(v: Any) -> list[Any]:
    v = unwrap(v)
    if isinstance(v, list):
        return StrList(sorted(strval(unwrap(x)) for x in v if unwrap(x) is not None))
    return StrList([strval(v)])


FUNCS: dict[str, Func] = {
    "join": F("sa", _join),
    "split": F("ss", _split),
    "splitList": F("ss", lambda sep, s: _go_split(s, sep)),
    "splitn": F("sis", _splitn),
    "sortAlpha": F("a", _sort_alpha),
}
