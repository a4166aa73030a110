"""No Sprig family: the calling convention (Func, convert_arg) and the helpers families share."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airlock.tasks.gotemplate.strconv import parse_float
from airlock.tasks.gotemplate.values import (
    IMap,
    Int64,
    StrMap,
    sprint_one,
    truth,
    type_name,
    unwrap,
)


class FuncError(Exception):
    pass


@dataclass(frozen=True)
class Func:
    params: tuple[str, ...]
    impl: Callable[..., Any]
    variadic: bool = False


def F(params: str, impl: Callable[..., Any], variadic: bool = False) -> Func:  # noqa: N802
    return Func(tuple(params), impl, variadic)


_KIND = {
    "s": (str, "string"),
    "i": (int, "int"),
    "f": (float, "float64"),
    "b": (bool, "bool"),
    "l": (list, "[]interface {}"),
}


def convert_arg(kind: str, value: Any) -> Any:
    """Go's ``validateType``: ``value`` as a ``kind`` parameter, or the error Go gives."""
    if kind == "a":
        return unwrap(value)
    if value is None:
        if kind in ("l", "d"):
            return None
        raise FuncError(f"invalid value; expected {_KIND[kind][1]}")
    if kind == "d":
        if isinstance(value, dict) and not isinstance(value, (IMap, StrMap)):
            return value
        raise FuncError(
            f"wrong type for value; expected map[string]interface {{}}; got {type_name(value)}"
        )
    py, name = _KIND[kind]
    ok = isinstance(value, py) and (kind != "i" or not isinstance(value, (bool, Int64)))
    if not ok:
        raise FuncError(f"wrong type for value; expected {name}; got {type_name(value)}")
    return value


def strval(v: Any) -> str:
    if isinstance(v, str):
        return v
    return sprint_one(v)


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\v":
            out.append("\\v")
        elif 0xDC80 <= code <= 0xDCFF:  # an invalid byte, kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _empty(v: Any) -> bool:
    v = unwrap(v)
    if v is None:
        return True
    return not truth(v)


def _to_int(v: Any) -> int:
    """Sprig v2's ``toInt64``: a string is read in base 10 (unparsable: 0), a float truncated."""
    v = unwrap(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        # Go's int64(f) on amd64: NaN, infinities and out-of-range values give the minimum.
        if not math.isfinite(v) or not -(2**63) <= int(v) < 2**63:
            return -(2**63)
        return int(v)
    if isinstance(v, str):
        if not re.fullmatch(r"[+-]?[0-9]+", v):
            return 0
        parsed = int(v)
        return parsed if -(2**63) <= parsed < 2**63 else 0
    return 0


def _to_float(v: Any) -> float:
    v = unwrap(v)
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        special = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
                   "+infinity": math.inf, "-infinity": -math.inf, "nan": math.nan}  # fmt: skip
        if v.lower() in special:
            return special[v.lower()]
        parsed = parse_float(v)
        return parsed if parsed is not None else 0.0
    return 0.0


MAX_STRING = 16 << 20
"""The longest string a function may build; Go's limit is the machine's memory."""


def deep_equal(a: Any, b: Any) -> bool:
    """Go's ``reflect.DeepEqual`` on data: equal types and equal values."""
    a, b = unwrap(a), unwrap(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _kind(v: Any) -> str:
    if v is None:
        return "invalid"
    if isinstance(v, list):
        return "slice"
    kinds = {bool: "bool", int: "int", Int64: "int64", float: "float64", complex: "complex128"}
    return {**kinds, str: "string"}.get(type(v), "map" if isinstance(v, dict) else "invalid")
