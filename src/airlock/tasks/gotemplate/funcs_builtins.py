"""Go's text/template builtins (and, or, not, len, index, print..., eq..., html, js, call...)."""

from __future__ import annotations

from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, FuncError
from airlock.tasks.gotemplate.funcs_fmt import _sprint, _sprintf, _sprintln
from airlock.tasks.gotemplate.values import NIL, IMap, StrMap, sprint_one, truth, type_name, unwrap


def _eq_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return "invalid"


def _eq(a: Any, *rest: Any) -> bool:
    a = unwrap(a)
    if not rest:
        raise FuncError("missing argument for comparison")
    ka = _eq_kind(a)
    for b in rest:
        b = unwrap(b)
        kb = _eq_kind(b)
        if ka != kb:
            if a is not None and b is not None:
                raise FuncError("incompatible types for comparison")
            truth_ = False
        elif ka == "invalid":
            if a is None or b is None:
                truth_ = a is None and b is None
            else:
                raise FuncError(f"non-comparable type {sprint_one(b)}: {type_name(b)}")
        else:
            truth_ = a == b
        if truth_:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    a, b = unwrap(a), unwrap(b)
    ka, kb = _eq_kind(a), _eq_kind(b)
    if ka == "invalid" or kb == "invalid":
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    if ka in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _length(v: Any) -> int:
    v = unwrap(v)
    if v is None:
        raise FuncError("len of nil pointer")
    if isinstance(v, (str,)):
        return len(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, (list, dict)):
        return len(v)
    raise FuncError(f"len of type {type_name(v)}")


def _index(item: Any, *keys: Any) -> Any:
    item = unwrap(item)
    if item is None:
        raise FuncError("index of untyped nil")
    for key in keys:
        key = unwrap(key)
        if isinstance(item, (list, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise FuncError(f"cannot index slice/array with type {type_name(key)}")
            size = (
                len(item.encode("utf-8", "surrogateescape")) if isinstance(item, str) else len(item)
            )
            if key < 0 or key >= size:
                raise FuncError(f"index out of range: {key}")
            item = (
                item.encode("utf-8", "surrogateescape")[key] if isinstance(item, str) else item[key]
            )
        elif isinstance(item, dict):
            if not isinstance(item, IMap) and not isinstance(key, str):
                raise FuncError(f"value has type {type_name(key)}; should be string")
            item = item.get(key, "" if isinstance(item, StrMap) else None)
        elif item is None:
            raise FuncError("index of untyped nil")
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
        item = NIL if item is None else item
    return item


def _eval_args(*args: Any) -> str:
    """text/template's ``evalArgs`` for html, js and urlquery: nil prints ``<no value>``."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(*(("<no value>" if unwrap(a) is None else a) for a in args))


def _not_callable(*_: Any) -> Any:
    raise FuncError("call of a function is not supported")


def _html(s: str) -> str:
    return (
        s.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("\x00", "\ufffd")
    )


def _js(s: str) -> str:
    out = []
    for ch in s:
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(s: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(s.encode("utf-8", "surrogateescape"), safe="-_.~")


FUNCS: dict[str, Func] = {
    "and": F("aa", lambda *a: a[-1], True),
    "or": F("aa", lambda *a: a[-1], True),
    "not": F("a", lambda a: not truth(a)),
    "len": F("a", _length),
    "index": F("aa", _index, True),
    "print": F("a", _sprint, True),
    "println": F("a", _sprintln, True),
    "printf": F("sa", _sprintf, True),
    "eq": F("aa", _eq, True),
    "ne": F("aa", lambda a, b: not _eq(a, b)),
    "lt": F("aa", _lt),
    "le": F("aa", _le),
    "gt": F("aa", lambda a, b: not _le(a, b)),
    "ge": F("aa", lambda a, b: not _lt(a, b)),
    "html": F("a", lambda *a: _html(_eval_args(*a)), True),
    "js": F("a", lambda *a: _js(_eval_args(*a)), True),
    "urlquery": F("a", lambda *a: _urlquery(_eval_args(*a)), True),
    "call": F("aa", _not_callable, True),
}
