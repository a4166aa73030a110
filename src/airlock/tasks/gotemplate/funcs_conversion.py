"""Sprig's type conversion functions (int, int64, float64, atoi, toString, toStrings...)."""

from __future__ import annotations

import re
from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, _to_float, _to_int, strval
from airlock.tasks.gotemplate.values import Int64, StrList, int64, sprint_one, unwrap


def _to_decimal(v: Any) -> Int64:
    text = sprint_one(unwrap(v))
    if not re.fullmatch(r"[+-]?[0-7]+", text):
        return Int64(0)
    value = int(text, 8)
    return Int64(value) if -(2**63) <= value < 2**63 else Int64(0)


def _to_strings(v: Any) -> StrList:
    v = unwrap(v)
    if isinstance(v, list):
        return StrList(strval(unwrap(x)) for x in v if unwrap(x) is not None)
    return StrList() if v is None else StrList([strval(v)])


FUNCS: dict[str, Func] = {
    "int": F("a", _to_int),
    "int64": F("a", lambda v: int64(_to_int(v))),
    "float64": F("a", _to_float),
    "atoi": F("s", lambda s: int(s) if re.fullmatch(r"[+-]?\d+", s) else 0),
    "toString": F("a", lambda v: strval(v) if v is not None else "<nil>"),
    "toStrings": F("a", _to_strings),
    "toDecimal": F("a", _to_decimal),
}
