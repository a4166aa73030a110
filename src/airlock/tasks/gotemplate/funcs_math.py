"""Sprig's integer math functions, with ceil, floor, round and until, untilStep."""

from __future__ import annotations

import math
from typing import Any

from airlock.tasks.gotemplate.funcs_common import MAX_STRING, F, Func, FuncError, _to_float, _to_int
from airlock.tasks.gotemplate.values import Int64, IntList, int64


def _max(a: Any, *rest: Any) -> Int64:
    return int64(max([_to_int(a), *(_to_int(x) for x in rest)]))


def _min(a: Any, *rest: Any) -> Int64:
    return int64(min([_to_int(a), *(_to_int(x) for x in rest)]))


def _div(a: Any, b: Any) -> Int64:
    x, y = _to_int(a), _to_int(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return int64(q if (x >= 0) == (y >= 0) else -q)


def _mod(a: Any, b: Any) -> Int64:
    x, y = _to_int(a), _to_int(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    return int64(x - _div(x, y) * y)


def _go_floor(x: float) -> float:
    """Go's ``math.Floor``: keeps infinities, NaN and the sign of zero."""
    if not math.isfinite(x):
        return x
    return math.copysign(float(math.floor(x)), x) if math.floor(x) == 0 else float(math.floor(x))


def _go_ceil(x: float) -> float:
    """Go's ``math.Ceil``: ``ceil(-0.5)`` is ``-0``."""
    if not math.isfinite(x):
        return x
    return math.copysign(float(math.ceil(x)), x) if math.ceil(x) == 0 else float(math.ceil(x))


def _go_pow10(y: int) -> float:
    """Go's ``math.Pow(10, y)`` for an integer ``y``: repeated squaring, which can differ from
    C's ``pow`` in the last bit."""
    if y == 0:
        return 1.0
    if y == 1:
        return 10.0
    a1, ae = 1.0, 0
    x1, xe = math.frexp(10.0)
    i = abs(y)
    while i != 0:
        if xe < -(1 << 12) or xe > (1 << 12):
            ae += xe
            break
        if i & 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    if y < 0:
        a1, ae = 1 / a1, -ae
    try:
        return math.ldexp(a1, ae)
    except OverflowError:
        return math.inf


def _round(a: Any, p: int, *r_opt: Any) -> float:
    round_on = _to_float(r_opt[0]) if r_opt else 0.5
    val = _to_float(a)
    pow_ = _go_pow10(p)
    digit = pow_ * val
    if not math.isfinite(digit):
        return digit / pow_ if math.isfinite(pow_) or math.isnan(digit) else math.nan
    frac = math.modf(digit)[0]
    return (_go_ceil(digit) if frac >= round_on else _go_floor(digit)) / pow_


def _until_step(start: int, stop: int, step: int) -> list[Any]:
    if (stop < start and step >= 0) or (stop >= start and step <= 0):
        return []
    count = len(range(start, stop, step))
    if count > MAX_STRING:
        raise FuncError(f"untilStep: more than {MAX_STRING} elements")
    return list(range(start, stop, step))


FUNCS: dict[str, Func] = {
    "add": F("a", lambda *a: int64(sum(_to_int(x) for x in a)), True),
    "add1": F("a", lambda a: int64(_to_int(a) + 1)),
    "sub": F("aa", lambda a, b: int64(_to_int(a) - _to_int(b))),
    "mul": F("aa", lambda a, *v: int64(math.prod([_to_int(a), *(_to_int(x) for x in v)])), True),
    "div": F("aa", _div),
    "mod": F("aa", _mod),
    "max": F("aa", _max, True),
    "min": F("aa", _min, True),
    "biggest": F("aa", _max, True),
    "ceil": F("a", lambda a: _go_ceil(_to_float(a))),
    "floor": F("a", lambda a: _go_floor(_to_float(a))),
    "round": F("aif", _round, True),
    "until": F("i", lambda c: IntList(_until_step(0, c, 1 if c >= 0 else -1))),
    "untilStep": F("iii", lambda *a: IntList(_until_step(*a))),
}
