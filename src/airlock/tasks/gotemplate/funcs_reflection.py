"""Sprig's reflection functions (typeOf, typeIs, typeIsLike, kindOf, kindIs, deepEqual)."""

from __future__ import annotations

from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, _kind, deep_equal
from airlock.tasks.gotemplate.values import type_name


def _type_is_like(target: str, v: Any) -> bool:
    name = type_name(v) if v is not None else "<nil>"
    return target in (name, "*" + name)


FUNCS: dict[str, Func] = {
    "typeOf": F("a", lambda v: type_name(v) if v is not None else "<nil>"),
    "typeIs": F("sa", lambda t, v: (type_name(v) if v is not None else "<nil>") == t),
    "typeIsLike": F("sa", _type_is_like),
    "kindOf": F("a", _kind),
    "kindIs": F("sa", lambda k, v: _kind(v) == k),
    "deepEqual": F("aa", deep_equal),
}
