"""Go values as Python data, and Go's ``fmt`` printing of them.

``None`` is Go's invalid value (prints ``<no value>``); :data:`NIL` is a nil ``interface{}`` held
in a map or slice slot. ``dict`` is ``map[string]interface{}``; :class:`IMap` is the
``map[interface{}]interface{}`` that YAML gives for nested mappings; ``list`` is
``[]interface{}``.
"""

from __future__ import annotations

import math
from typing import Any


class _Nil:
    def __repr__(self) -> str:
        return "NIL"


NIL: Any = _Nil()


class IMap(dict[Any, Any]):
    """``map[interface{}]interface{}``."""


class StrMap(dict[str, str]):
    """``map[string]string`` (Sprig's ``split``): a missing key reads as ``""``."""


class StrList(list[str]):
    """``[]string`` (Sprig's ``splitList``, ``sortAlpha``, ``keys``)."""


class NilStrList(StrList):
    """A nil ``[]string``: prints ``[]`` but is JSON ``null``."""


class NilList(list[Any]):
    """A nil ``[]interface{}``: prints ``[]`` but is JSON ``null``."""


class IntList(list[int]):
    """``[]int`` (Sprig's ``until``, ``untilStep``)."""


class Int64(int):
    """Go's ``int64`` (Sprig's arithmetic returns it), distinct from ``int`` as a parameter."""


def int64(value: int) -> Int64:
    """``value`` wrapped to 64 bits, as Go's arithmetic wraps."""
    value &= (1 << 64) - 1
    return Int64(value - (1 << 64) if value >= 1 << 63 else value)


def go_string(data: bytes) -> str:
    """Go bytes as a Python string: bytes that are not valid UTF-8 are kept as lone surrogates
    (``surrogateescape``), so they can be quoted and measured as Go does."""
    return data.decode("utf-8", "surrogateescape")


def valid_text(text: str) -> str:
    """Text to write out: each invalid byte kept by :func:`go_string` becomes U+FFFD."""
    return "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text)


def unwrap(value: Any) -> Any:
    return None if value is NIL else value


def go_float(f: float) -> str:
    """``fmt.Sprint(float64)``: ``%g`` with the shortest representation."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, exp = _shortest(abs(f))
    sign = "-" if f < 0 else ""
    x = exp - 1  # exponent of the first digit
    if x < -4 or x >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if exp <= 0:
        return sign + "0." + "0" * (-exp) + digits
    if exp >= len(digits):
        return sign + digits + "0" * (exp - len(digits))
    return sign + digits[:exp] + "." + digits[exp:]


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits and the decimal point position (0.d1d2... x 10^exp)."""
    text = repr(f)
    mant, _, e = text.partition("e")
    exp = int(e) if e else 0
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + exp
    lead = len(whole + frac) - len((whole + frac).lstrip("0"))
    point -= lead
    digits = digits.rstrip("0") or "0"
    return digits, point


def sprint_one(value: Any, top: bool = True) -> str:
    """``fmt.Sprint(value)`` (``%v``)."""
    if value is None or value is NIL:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, complex):
        imag = go_float(value.imag)
        return f"({go_float(value.real)}{'' if imag[0] in '+-' else '+'}{imag}i)"
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in value) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(sprint_one(v, False) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: sort_key(kv[0]))
        return (
            "map["
            + " ".join(f"{sprint_one(k, False)}:{sprint_one(v, False)}" for k, v in items)
            + "]"
        )
    return str(value)


def sort_key(key: Any) -> tuple[int, Any]:
    """Go's ``fmtsort`` order for the key types data can hold."""
    if isinstance(key, bool):
        return (0, key)
    if isinstance(key, (int, float)):
        return (1, key)
    if isinstance(key, str):
        return (2, key)
    return (3, str(key))


def print_value(value: Any) -> str:
    """What an action prints: ``<no value>`` for an invalid value, else ``%v``."""
    if value is None:
        return "<no value>"
    return sprint_one(value)


def type_name(value: Any) -> str:
    if value is None:
        return "<nil>"
    if value is NIL:
        return "interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, complex):
        return "complex128"
    if isinstance(value, str):
        return "string"
    if isinstance(value, IMap):
        return "map[interface {}]interface {}"
    if isinstance(value, StrMap):
        return "map[string]string"
    if isinstance(value, StrList):
        return "[]string"
    if isinstance(value, IntList):
        return "[]int"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def truth(value: Any) -> bool:
    """Go's ``template.IsTrue``."""
    value = unwrap(value)
    if value is None:
        return False
    if isinstance(value, (bool, int, float, complex, str, list, dict, tuple)):
        return bool(value)
    return True
