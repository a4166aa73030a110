"""Go's template builtins and Sprig v2's functions that do no I/O and draw no random numbers.

Each function has Go's parameter types (``s`` string, ``i`` int, ``f`` float64, ``b`` bool,
``a`` interface{}, ``l`` []interface{}, ``d`` map[string]interface{}; the last is variadic
when :attr:`Func.variadic`), so a value of the wrong type is refused as Go refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airlock.tasks.gotemplate.values import NIL, IMap, sprint_one, truth, type_name, unwrap


class FuncError(Exception):
    pass


@dataclass(frozen=True)
class Func:
    params: tuple[str, ...]
    impl: Callable[..., Any]
    variadic: bool = False


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
        if isinstance(value, dict) and not isinstance(value, IMap):
            return value
        raise FuncError(
            f"wrong type for value; expected map[string]interface {{}}; got {type_name(value)}"
        )
    py, name = _KIND[kind]
    ok = isinstance(value, py) and (kind != "i" or not isinstance(value, bool))
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
    """spf13/cast ``ToInt64`` as Sprig v2 uses it: unparsable -> 0."""
    v = unwrap(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if math.isfinite(v) else 0
    if isinstance(v, str):
        from airlock.tasks.gotemplate.strconv import parse_int

        parsed = parse_int(v, unsigned=False)
        return parsed if parsed is not None else 0
    return 0


def _to_float(v: Any) -> float:
    v = unwrap(v)
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return 0.0
    return 0.0


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
        return len(v.encode("utf-8"))
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
            size = len(item.encode("utf-8")) if isinstance(item, str) else len(item)
            if key < 0 or key >= size:
                raise FuncError(f"index out of range: {key}")
            item = item.encode("utf-8")[key] if isinstance(item, str) else item[key]
        elif isinstance(item, dict):
            if not isinstance(item, IMap) and not isinstance(key, str):
                raise FuncError(f"value has type {type_name(key)}; should be string")
            item = item.get(key, None)
        elif item is None:
            raise FuncError("index of untyped nil")
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
        item = NIL if item is None else item
    return item


def _sprint(*args: Any) -> str:
    out = []
    for i, a in enumerate(args):
        a = unwrap(a)
        if i > 0 and not isinstance(a, str) and not isinstance(unwrap(args[i - 1]), str):
            out.append(" ")
        out.append(sprint_one(a))
    return "".join(out)


def _sprintln(*args: Any) -> str:
    return " ".join(sprint_one(unwrap(a)) for a in args) + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def _sprintf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    pos = 0
    used = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = unwrap(args[used])
        used += 1
        text = _format_one(verb, arg, prec)
        if text is None:
            text = f"%!{verb}({type_name(arg)}={sprint_one(arg)})"
        if width and width != "*":
            w = int(width)
            if "-" in flags:
                text = text.ljust(w)
            elif "0" in flags and verb in "dfegx" and isinstance(arg, (int, float)):
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + text[len(sign) :].rjust(w - len(sign), "0")
            else:
                text = text.rjust(w)
        out.append(text)
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(f"{type_name(unwrap(a))}={sprint_one(unwrap(a))}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(verb: str, arg: Any, prec: str | None) -> str | None:
    if verb == "v":
        return sprint_one(arg)
    if verb == "s":
        if isinstance(arg, (str, list, dict)) or arg is None:
            text = sprint_one(arg) if arg is not None else "%!s(<nil>)"
            return text[: int(prec)] if prec is not None and isinstance(arg, str) else text
        return None
    if verb == "q" and isinstance(arg, str):
        return _go_quote(arg)
    if verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
        return str(arg)
    if verb == "t" and isinstance(arg, bool):
        return "true" if arg else "false"
    if verb in "xX" and isinstance(arg, (int, str)) and not isinstance(arg, bool):
        text = format(arg, "x") if isinstance(arg, int) else arg.encode().hex()
        if isinstance(arg, int) and arg < 0:
            text = "-" + format(-arg, "x")
        return text.upper() if verb == "X" else text
    if verb in "feEg" and isinstance(arg, float):
        if verb == "g" and prec is None:
            return sprint_one(arg)
        p = 6 if prec is None else int(prec)
        text = format(arg, f".{p}{verb}")
        return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
    if verb == "c" and isinstance(arg, int):
        return chr(arg)
    return None


def _b64enc(v: Any) -> str:
    # acr-builder's override: Go's reflect String() of a non-string is "<T Value>".
    v = unwrap(v)
    if v is None:
        return ""
    text = v if isinstance(v, str) else f"<{type_name(v)} Value>"
    return base64.b64encode(text.encode("utf-8")).decode()


def _b64dec(s: str) -> str:
    try:
        return base64.b64decode(s.encode("utf-8"), validate=True).decode("utf-8", "replace")
    except ValueError as err:
        return str(err)


def _dict(*args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    items = list(args)
    if len(items) % 2:
        items.append("")
    for k, v in zip(items[::2], items[1::2], strict=True):
        out[strval(unwrap(k))] = unwrap(v)
    return out


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


def _join(sep: str, v: Any) -> str:
    v = unwrap(v)
    if isinstance(v, list):
        return sep.join(strval(unwrap(x)) for x in v if unwrap(x) is not None)
    if v is None:
        return ""
    return strval(v)


def _to_json(v: Any) -> str:
    return json.dumps(
        _jsonable(unwrap(v)), separators=(",", ":"), ensure_ascii=False, sort_keys=True
    )


def _jsonable(v: Any) -> Any:
    if v is NIL:
        return None
    if isinstance(v, dict):
        return {strval(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def _trunc(c: int, s: str) -> str:
    if c < 0 and len(s) + c > 0:
        return s[len(s) + c :]
    if c >= 0 and len(s) > c:
        return s[:c]
    return s


def _substr(start: int, end: int, s: str) -> str:
    if start < 0:
        return s[:end]
    if end < 0 or end > len(s):
        return s[start:]
    return s[start:end]


def _indent(spaces: int, v: str) -> str:
    pad = " " * spaces
    return pad + v.replace("\n", "\n" + pad)


def _title(s: str) -> str:
    out, prev = [], " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_") else ch)
        prev = ch
    return "".join(out)


def _split(sep: str, s: str) -> dict[str, Any]:
    return {f"_{i}": part for i, part in enumerate(s.split(sep) if sep else list(s))}


def _max(a: Any, *rest: Any) -> int:
    return max([_to_int(a), *(_to_int(x) for x in rest)])


def _min(a: Any, *rest: Any) -> int:
    return min([_to_int(a), *(_to_int(x) for x in rest)])


def _div(a: Any, b: Any) -> int:
    x, y = _to_int(a), _to_int(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(a: Any, b: Any) -> int:
    x, y = _to_int(a), _to_int(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    return x - _div(x, y) * y


def _not_callable(*_: Any) -> Any:
    raise FuncError("call of a function is not supported")


def _has_key(d: dict[str, Any] | None, key: str) -> bool:
    return d is not None and key in d


def _get(d: dict[str, Any] | None, key: str) -> Any:
    if d is None or key not in d:
        return ""
    return d[key]


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


def _keys(*dicts: Any) -> list[Any]:
    out: list[Any] = []
    for d in dicts:
        out.extend(d or {})
    return out


def _sort_alpha(v: Any) -> list[Any]:
    v = unwrap(v)
    if isinstance(v, list):
        return sorted(strval(unwrap(x)) for x in v)
    return [strval(v)]


def _uniq(v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _list_of(v, "uniq"):
        if x not in out:
            out.append(x)
    return out


def _has(needle: Any, haystack: Any) -> bool:
    haystack = unwrap(haystack)
    if haystack is None:
        return False
    return unwrap(needle) in [unwrap(x) for x in _list_of(haystack, "has")]


def _regex(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except re.error as err:
            raise FuncError(str(err)) from None

    return wrapped


def _kind(v: Any) -> str:
    if v is None:
        return "invalid"
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "slice"}.get(
        type(v), "map" if isinstance(v, dict) else "invalid"
    )


def _replace_empty(new: str, s: str) -> str:
    return new + new.join(s) + new if s else new


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

    return quote_plus(s, safe="-_.~")


def F(params: str, impl: Callable[..., Any], variadic: bool = False) -> Func:  # noqa: N802
    return Func(tuple(params), impl, variadic)


FUNCS: dict[str, Func] = {
    # text/template builtins
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
    "html": F("a", lambda *a: _html(_sprint(*a)), True),
    "js": F("a", lambda *a: _js(_sprint(*a)), True),
    "urlquery": F("a", lambda *a: _urlquery(_sprint(*a)), True),
    "call": F("aa", _not_callable, True),
    # Sprig v2: strings
    "upper": F("s", str.upper),
    "lower": F("s", str.lower),
    "title": F("s", _title),
    "trim": F("s", lambda s: s.strip(" \t\n\r\v\f\x85\xa0")),
    "trimAll": F("ss", lambda a, b: b.strip(a)),
    "trimPrefix": F("ss", lambda a, b: b.removeprefix(a)),
    "trimSuffix": F("ss", lambda a, b: b.removesuffix(a)),
    "trunc": F("is", _trunc),
    "substr": F("iis", _substr),
    "contains": F("ss", lambda sub, s: sub in s),
    "hasPrefix": F("ss", lambda p, s: s.startswith(p)),
    "hasSuffix": F("ss", lambda p, s: s.endswith(p)),
    "repeat": F("is", lambda c, s: s * max(c, 0)),
    "replace": F("sss", lambda old, new, s: s.replace(old, new) if old else _replace_empty(new, s)),
    "quote": F("a", lambda *a: " ".join(_go_quote(strval(x)) for x in a if x is not None), True),
    "squote": F("a", lambda *a: " ".join(f"'{strval(x)}'" for x in a if x is not None), True),
    "cat": F("a", lambda *a: " ".join(strval(x) for x in a if x is not None), True),
    "indent": F("is", _indent),
    "nindent": F("is", lambda n, v: "\n" + _indent(n, v)),
    "nospace": F("s", lambda s: "".join(ch for ch in s if not ch.isspace())),
    "split": F("ss", _split),
    "splitList": F("ss", lambda sep, s: list(s.split(sep)) if sep else list(s)),
    "join": F("sa", _join),
    "toString": F("a", lambda v: strval(v) if v is not None else "<nil>"),
    "b64enc": F("a", _b64enc),
    "b64dec": F("s", _b64dec),
    "sha256sum": F("s", lambda s: hashlib.sha256(s.encode()).hexdigest()),
    "sha1sum": F("s", lambda s: hashlib.sha1(s.encode()).hexdigest()),
    "toJson": F("a", _to_json),
    "regexMatch": F("ss", _regex(lambda r, s: re.search(r, s) is not None)),
    "regexReplaceAll": F("sss", _regex(lambda r, s, repl: re.sub(r, repl.replace("$", "\\"), s))),
    # defaults
    "default": F("aa", _default, True),
    "empty": F("a", _empty),
    "coalesce": F("a", _coalesce, True),
    "ternary": F("aab", _ternary),
    # numbers
    "int": F("a", _to_int),
    "int64": F("a", _to_int),
    "float64": F("a", _to_float),
    "atoi": F("s", lambda s: int(s) if re.fullmatch(r"[+-]?\d+", s) else 0),
    "add": F("a", lambda *a: sum(_to_int(x) for x in a), True),
    "add1": F("a", lambda a: _to_int(a) + 1),
    "sub": F("aa", lambda a, b: _to_int(a) - _to_int(b)),
    "mul": F("aa", lambda a, *v: math.prod([_to_int(a), *(_to_int(x) for x in v)]), True),
    "div": F("aa", _div),
    "mod": F("aa", _mod),
    "max": F("aa", _max, True),
    "min": F("aa", _min, True),
    # lists and dicts
    "list": F("a", lambda *a: list(a), True),
    "first": F("a", _first),
    "last": F("a", _last),
    "rest": F("a", lambda v: _list_of(v, "rest")[1:]),
    "initial": F("a", lambda v: _list_of(v, "initial")[:-1]),
    "append": F("aa", lambda v, x: [*_list_of(v, "append"), x]),
    "prepend": F("aa", lambda v, x: [x, *_list_of(v, "prepend")]),
    "uniq": F("a", _uniq),
    "has": F("aa", _has),
    "sortAlpha": F("a", _sort_alpha),
    "dict": F("a", _dict, True),
    "get": F("ds", _get),
    "hasKey": F("ds", _has_key),
    "keys": F("d", _keys, True),
    "typeOf": F("a", lambda v: type_name(v) if v is not None else "<nil>"),
    "kindIs": F("sa", lambda k, v: _kind(v) == k),
    "kindOf": F("a", _kind),
}
