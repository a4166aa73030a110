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
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airlock.tasks.gotemplate.strconv import parse_float
from airlock.tasks.gotemplate.values import (
    NIL,
    IMap,
    Int64,
    IntList,
    NilList,
    NilStrList,
    StrList,
    StrMap,
    _shortest,
    go_string,
    int64,
    sort_key,
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


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?(.|$)", re.DOTALL)


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
        if verb == "":
            out.append("%!(NOVERB)")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = unwrap(args[used])
        used += 1
        out.append(_fmt_value(verb, flags, width, prec, arg, top=True))
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(
            "<nil>" if unwrap(a) is None else f"{type_name(unwrap(a))}={sprint_one(unwrap(a))}"
            for a in args[used:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _fmt_complex(verb: str, flags: str, width: str | None, prec: str | None, arg: complex) -> str:
    """fmt's ``fmtComplex``: each part formatted (and padded) as a float, the imaginary one
    always signed; another verb is a bad verb, shown with ``%v``."""
    good = verb in "vbgGxXfFeE"
    use = verb if good else "v"

    def part(x: float, signed: bool) -> str:
        text = sprint_one(x) if use == "v" else (_format_one(use, x, prec) or sprint_one(x))
        if signed and not text.startswith("-"):
            text = "+" + text
        return _pad(text, flags, width, x)

    text = f"({part(arg.real, False)}{part(arg.imag, True)}i)"
    return text if good else f"%!{verb}(complex128={text})"


def _pad(text: str, flags: str, width: str | None, arg: Any) -> str:
    if not width or width == "*":
        return text
    w = int(width)
    if w > MAX_STRING:
        raise FuncError(f"width {w} is larger than {MAX_STRING}")
    if "-" in flags:
        return text.ljust(w)
    if "0" in flags:
        sign = text[0] if text[:1] in "+-" and isinstance(arg, (int, float)) else ""
        return sign + text[len(sign) :].rjust(w - len(sign), "0")
    return text.rjust(w)


def _hex_float(f: float, *, upper: bool) -> str:
    """``%x`` of a float64: Go's shortest hexadecimal mantissa, a two-digit exponent."""
    if not math.isfinite(f):
        return sprint_one(f)
    text = f.hex()  # e.g. -0x1.8000000000000p+1
    sign = "-" if text.startswith("-") else ""
    mant, _, exp = text.lstrip("-")[2:].partition("p")
    whole, _, frac = mant.partition(".")
    frac = frac.rstrip("0")
    e = int(exp)
    if f == 0:
        e = 0
    body = f"0x{whole}{'.' + frac if frac else ''}p{'-' if e < 0 else '+'}{abs(e):02d}"
    return sign + (body.upper().replace("0X", "0X") if upper else body)


def _fmt_value(
    verb: str, flags: str, width: str | None, prec: str | None, arg: Any, *, top: bool
) -> str:
    """One ``fmt`` operand: slices and maps are formatted element by element, as Go does."""
    arg = unwrap(arg)
    if verb == "T":
        text = "<nil>" if arg is None else type_name(arg)
        return _pad(text, flags, width, arg)
    if arg is None and not top:
        return "<nil>"
    if isinstance(arg, complex):
        return _fmt_complex(verb, flags, width, prec, arg)
    if isinstance(arg, (list, dict)):
        if isinstance(arg, dict):
            items = sorted(arg.items(), key=lambda kv: sort_key(kv[0]))
            inner = " ".join(
                _fmt_value(verb, flags, width, prec, k, top=False)
                + ":"
                + _fmt_value(verb, flags, width, prec, v, top=False)
                for k, v in items
            )
            return f"map[{inner}]"
        inner = " ".join(_fmt_value(verb, flags, width, prec, v, top=False) for v in arg)
        return f"[{inner}]"
    formatted = _format_one(verb, arg, prec)
    bad = formatted is None
    text = _pad(sprint_one(arg) if formatted is None else formatted, flags, width, arg)
    if bad:
        text = f"%!{verb}(<nil>)" if arg is None else f"%!{verb}({type_name(arg)}={text})"
    return text


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
    if verb == "q" and isinstance(arg, int) and not isinstance(arg, bool):
        if not 0 <= arg <= 0x10FFFF or 0xD800 <= arg <= 0xDFFF:
            arg = 0xFFFD
        inner = _go_quote(chr(arg))[1:-1].replace('\\"', '"')
        return "'" + ("\\'" if inner == "'" else inner) + "'"
    if verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
        return str(arg)
    if verb == "t" and isinstance(arg, bool):
        return "true" if arg else "false"
    if verb in "xX" and isinstance(arg, (int, str)) and not isinstance(arg, bool):
        text = (
            format(arg, "x")
            if isinstance(arg, int)
            else arg.encode("utf-8", "surrogateescape").hex()
        )
        if isinstance(arg, int) and arg < 0:
            text = "-" + format(-arg, "x")
        return text.upper() if verb == "X" else text
    if verb in "xX" and isinstance(arg, float):
        return _hex_float(arg, upper=verb == "X")
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
    text = v if isinstance(v, str) else f"<{type_name(v)} Value>"  # Go's reflect String()
    return base64.b64encode(text.encode("utf-8", "surrogateescape")).decode()


_B64 = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def _b64dec(s: str) -> str:
    """Sprig's ``b64dec``: Go's ``base64.StdEncoding.DecodeString``, its error text on error."""
    data, error_at = _go_b64decode(s.encode("utf-8", "surrogateescape"))
    if error_at is not None:
        return f"illegal base64 data at input byte {error_at}"
    return go_string(data)


def _go_b64decode(src: bytes) -> tuple[bytes, int | None]:
    """``encoding/base64`` ``decodeQuantum``, quantum by quantum: (bytes, error offset)."""
    out = bytearray()
    si = 0
    while True:
        buf = [0, 0, 0, 0]
        dlen = 4
        j = 0
        err: int | None = None
        while j < 4:
            if si == len(src):
                if j == 0:
                    return bytes(out), None
                return bytes(out), si - j
            ch = src[si]
            si += 1
            if ch in _B64:
                buf[j] = _B64[ch]
                j += 1
                continue
            if ch in (10, 13):
                continue
            if ch != ord("="):
                return bytes(out), si - 1
            if j in (0, 1):
                return bytes(out), si - 1
            if j == 2:
                while si < len(src) and src[si] in (10, 13):
                    si += 1
                if si == len(src):
                    return bytes(out), len(src)
                if src[si] != ord("="):
                    return bytes(out), si - 1
                si += 1
            while si < len(src) and src[si] in (10, 13):
                si += 1
            if si < len(src):
                err = si
            dlen = j
            break
        val = buf[0] << 18 | buf[1] << 12 | buf[2] << 6 | buf[3]
        out += bytes([(val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF])[: dlen - 1]
        if err is not None:
            return bytes(out), err
        if dlen < 4:
            return bytes(out), None


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


def _slice(b: bytes, low: int | None, high: int | None) -> str:
    """Go's ``s[low:high]`` on a string's bytes; out of range is Go's run-time panic."""
    lo = 0 if low is None else low
    hi = len(b) if high is None else high
    if hi < 0 or hi > len(b):
        raise FuncError(f"runtime error: slice bounds out of range [:{hi}] with length {len(b)}")
    if lo < 0 or lo > hi:
        raise FuncError(f"runtime error: slice bounds out of range [{lo}:{hi}]")
    return go_string(b[lo:hi])


_LATIN1_SPACE = frozenset("\t\n\v\f\r \x85\xa0")


def _nospace(s: str) -> str:
    """goutils ``DeleteWhiteSpace``, which Sprig uses: it reads the string byte by byte, each
    byte as a code point (so non-ASCII text comes out as Latin-1 mojibake, as in Go), unless
    there was no space to delete."""
    raw = s.encode("utf-8", "surrogateescape").decode("latin-1")
    kept = "".join(ch for ch in raw if ch not in _LATIN1_SPACE)
    return s if len(kept) == len(raw) else kept


def _trunc(c: int, s: str) -> str:
    """Sprig v2's ``trunc`` (v3 added negative counts, which v2 refuses)."""
    b = s.encode("utf-8", "surrogateescape")
    if len(b) <= c:
        return s
    return _slice(b, 0, c)


def _substr(start: int, end: int, s: str) -> str:
    b = s.encode("utf-8", "surrogateescape")
    if start < 0:
        return _slice(b, None, end)
    if end < 0 or end > len(b):
        return _slice(b, start, None)
    return _slice(b, start, end)


MAX_STRING = 16 << 20
"""The longest string a function may build; Go's limit is the machine's memory."""


def _repeat(count: int, s: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    if count and len(s) * count > MAX_STRING:
        raise FuncError(f"strings: Repeat result longer than {MAX_STRING} characters")
    return s * count


def _indent(spaces: int, v: str) -> str:
    pad = _repeat(spaces, " ")
    return pad + v.replace("\n", "\n" + pad)


def _title(s: str) -> str:
    out, prev = [], " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_") else ch)
        prev = ch
    return "".join(out)


def _split(sep: str, s: str) -> StrMap:
    return StrMap({f"_{i}": part for i, part in enumerate(_go_split(s, sep))})


def _go_split(s: str, sep: str) -> StrList:
    """Go's ``strings.Split``: an empty separator splits after each UTF-8 sequence."""
    return StrList(s.split(sep) if sep else list(s))


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


def _not_callable(*_: Any) -> Any:
    raise FuncError("call of a function is not supported")


def _has_key(d: dict[str, Any] | None, key: str) -> bool:
    return d is not None and key in d


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


def _keys(*dicts: Any) -> StrList:
    out = StrList()
    for d in dicts:
        out.extend(d or {})
    return out


def _sort_alpha(v: Any) -> list[Any]:
    v = unwrap(v)
    if isinstance(v, list):
        return StrList(sorted(strval(unwrap(x)) for x in v if unwrap(x) is not None))
    return StrList([strval(v)])


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


def _regex_match(regex: str, s: str) -> bool:
    """Sprig v2's ``regexMatch``: a pattern that does not compile matches nothing. Patterns are
    Python's ``re``, which agrees with Go's RE2 on the common syntax."""
    try:
        return _compile(regex).search(s) is not None
    except re.error:
        return False


def _compile(pattern: str) -> re.Pattern[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Python's warnings about syntax RE2 reads plainly
        return re.compile(pattern)


def _kind(v: Any) -> str:
    if v is None:
        return "invalid"
    if isinstance(v, list):
        return "slice"
    kinds = {bool: "bool", int: "int", Int64: "int64", float: "float64", complex: "complex128"}
    return {**kinds, str: "string"}.get(type(v), "map" if isinstance(v, dict) else "invalid")


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

    return quote_plus(s.encode("utf-8", "surrogateescape"), safe="-_.~")


def _path_clean(p: str) -> str:
    """Go's ``path.Clean``."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def _path_dir(p: str) -> str:
    return _path_clean(p[: p.rfind("/") + 1])


def _path_ext(p: str) -> str:
    for i in range(len(p) - 1, -1, -1):
        if p[i] == "/":
            break
        if p[i] == ".":
            return p[i:]
    return ""


def _until_step(start: int, stop: int, step: int) -> list[Any]:
    if (stop < start and step >= 0) or (stop >= start and step <= 0):
        return []
    count = len(range(start, stop, step))
    if count > MAX_STRING:
        raise FuncError(f"untilStep: more than {MAX_STRING} elements")
    return list(range(start, stop, step))


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


def _to_strings(v: Any) -> StrList:
    v = unwrap(v)
    if isinstance(v, list):
        return StrList(strval(unwrap(x)) for x in v if unwrap(x) is not None)
    return StrList() if v is None else StrList([strval(v)])


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


def _to_decimal(v: Any) -> Int64:
    text = sprint_one(unwrap(v))
    if not re.fullmatch(r"[+-]?[0-7]+", text):
        return Int64(0)
    value = int(text, 8)
    return Int64(value) if -(2**63) <= value < 2**63 else Int64(0)


def _initials(s: str) -> str:
    """goutils ``Initials``: the first byte of each word, read as a code point (as in Go)."""
    words = s.encode("utf-8", "surrogateescape").split()
    return "".join(chr(word[0]) for word in words)


def _untitle(s: str) -> str:
    out, prev = [], " "
    for ch in s:
        out.append(ch.lower() if prev.isspace() else ch)
        prev = ch
    return "".join(out)


def _abbrev(width: int, s: str) -> str:
    """goutils ``Abbreviate``, which counts bytes."""
    b = s.encode("utf-8", "surrogateescape")
    if width < 4 or len(b) <= width:
        return s
    return go_string(b[: width - 3]) + "..."


def _b32dec(s: str) -> str:
    try:
        return go_string(base64.b32decode(s.encode("utf-8", "surrogateescape")))
    except ValueError as err:
        return str(err)


def _fail(msg: str) -> str:
    raise FuncError(msg)


def _type_is_like(target: str, v: Any) -> bool:
    name = type_name(v) if v is not None else "<nil>"
    return target in (name, "*" + name)


def _regex_or_error(pattern: str) -> re.Pattern[str]:
    try:
        return _compile(pattern)
    except re.error as err:
        raise FuncError(f"regexp: Compile({_go_quote(pattern)}): {err}") from None


def _go_n(n: int, items: list[str]) -> StrList:
    picked = items if n < 0 else items[:n]
    return StrList(picked) if picked else NilStrList()


def _regex_find_all(regex: str, s: str, n: int) -> StrList:
    return _go_n(n, [m.group(0) for m in _regex_or_error(regex).finditer(s)])


def _regex_find(regex: str, s: str) -> str:
    m = _regex_or_error(regex).search(s)
    return m.group(0) if m else ""


def _go_template_repl(repl: str) -> str:
    """Go's ``$1``/``${name}`` replacement syntax in Python's."""
    out = []
    for m in re.finditer(r"\$\$|\$\{(\w+)\}|\$(\w+)|\\|[^$\\]+|\$", repl):
        text = m.group(0)
        name = m.group(1) or m.group(2)
        if text == "$$":
            out.append("$")
        elif name is not None:
            out.append(f"\\g<{name}>")
        elif text == "\\":
            out.append("\\\\")
        else:
            out.append(text)
    return "".join(out)


def _regex_replace_all(regex: str, s: str, repl: str) -> str:
    pattern = _regex_or_error(regex)
    try:
        return pattern.sub(_go_template_repl(repl), s)
    except (re.error, IndexError):
        return pattern.sub(lambda _: "", s)


def _regex_replace_literal(regex: str, s: str, repl: str) -> str:
    return _regex_or_error(regex).sub(lambda _: repl, s)


def _regex_split(regex: str, s: str, n: int) -> StrList:
    """Go's ``Regexp.Split``."""
    pattern = _regex_or_error(regex)
    if n == 0:
        return NilStrList()
    if len(regex) > 0 and s == "":
        return StrList([""])
    out = StrList()
    beg = end = 0
    for m in pattern.finditer(s):
        if n > 0 and len(out) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            out.append(s[beg:end])
        beg = m.end()
    if end != len(s):
        out.append(s[beg:])
    return out


def _go_json(v: Any) -> str | None:
    """``encoding/json``'s ``Marshal``; ``None`` where Go fails (a map with non-string keys)."""
    v = unwrap(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return _json_float(v)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, (NilStrList, NilList)) and not v:
        return "null"
    if isinstance(v, list):
        items = [_go_json(x) for x in v]
        return None if any(i is None for i in items) else "[" + ",".join(items) + "]"  # type: ignore[arg-type]
    if isinstance(v, dict):
        if isinstance(v, IMap):
            return None
        parts = []
        for k in sorted(v):
            item = _go_json(v[k])
            if item is None:
                return None
            parts.append(f"{_json_string(str(k))}:{item}")
        return "{" + ",".join(parts) + "}"
    return None


def _json_float(f: float) -> str:
    """``encoding/json``: positional between 1e-6 and 1e21, else exponent."""
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        digits, exp = _shortest_e(f)
        return f"{digits}e{exp}"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, point = _shortest(a)
    sign = "-" if f < 0 else ""
    if point <= 0:
        return sign + "0." + "0" * (-point) + digits
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return sign + digits[:point] + "." + digits[point:]


def _shortest_e(f: float) -> tuple[str, str]:
    text = repr(f)
    if "e" not in text:
        text = f"{f:.17e}"
        mant, _, exp = text.partition("e")
        mant = mant.rstrip("0").rstrip(".")
    else:
        mant, _, exp = text.partition("e")
    sign = "-" if exp.startswith("-") else "+"
    return mant, f"{sign}{int(exp.lstrip('+-'))}"


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _to_json_v2(v: Any) -> str:
    return _go_json(v) or ""


def _to_pretty_json(v: Any) -> str:
    compact = _go_json(v)
    if compact is None:
        return ""
    return _indent_json(compact)


def _indent_json(text: str) -> str:
    """``json.Indent(dst, src, "", "  ")`` of compact JSON."""
    out: list[str] = []
    depth = 0
    in_string = False
    escape = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch in "[{":
            if i + 1 < len(text) and text[i + 1] in "]}":
                out.append(ch + text[i + 1])
                i += 2
                continue
            depth += 1
            out.append(ch + "\n" + "  " * depth)
        elif ch in "]}":
            depth -= 1
            out.append("\n" + "  " * depth + ch)
        elif ch == ",":
            out.append(",\n" + "  " * depth)
        elif ch == ":":
            out.append(": ")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# Sprig v2 functions that read the clock, the environment or the network, draw random numbers,
# or make keys: known names (Go parses them), refused when called.
UNAVAILABLE = (
    "date", "date_in_zone", "date_modify", "now", "htmlDate", "htmlDateInZone", "dateInZone",
    "dateModify", "ago", "toDate", "unixEpoch", "randAlphaNum", "randAlpha", "randAscii",
    "randNumeric", "shuffle", "env", "expandenv", "getHostByName", "genPrivateKey",
    "derivePassword", "buildCustomCert", "genCA", "genSelfSignedCert", "genSignedCert",
    "encryptAES", "decryptAES", "uuidv4", "semver", "semverCompare", "urlParse", "urlJoin",
    "swapcase", "snakecase", "camelcase", "kebabcase", "wrap", "wrapWith", "abbrevboth",
    "merge", "mergeOverwrite", "deepCopy",
)  # fmt: skip


def _unavailable(name: str) -> Callable[..., Any]:
    def refuse(*_: Any) -> Any:
        raise FuncError(f"{name} is not available in Airlock's templates")

    return refuse


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
    "html": F("a", lambda *a: _html(_eval_args(*a)), True),
    "js": F("a", lambda *a: _js(_eval_args(*a)), True),
    "urlquery": F("a", lambda *a: _urlquery(_eval_args(*a)), True),
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
    "repeat": F("is", _repeat),
    "replace": F("sss", lambda old, new, s: s.replace(old, new) if old else _replace_empty(new, s)),
    "quote": F("a", lambda *a: " ".join(_go_quote(strval(x)) for x in a if x is not None), True),
    "squote": F("a", lambda *a: " ".join(f"'{strval(x)}'" for x in a if x is not None), True),
    "cat": F("a", lambda *a: " ".join(strval(x) for x in a if x is not None), True),
    "indent": F("is", _indent),
    "nindent": F("is", lambda n, v: "\n" + _indent(n, v)),
    "nospace": F("s", _nospace),
    "split": F("ss", _split),
    "splitList": F("ss", lambda sep, s: _go_split(s, sep)),
    "join": F("sa", _join),
    "toString": F("a", lambda v: strval(v) if v is not None else "<nil>"),
    "b64enc": F("a", _b64enc),
    "b64dec": F("s", _b64dec),
    "sha256sum": F("s", lambda s: hashlib.sha256(s.encode("utf-8", "surrogateescape")).hexdigest()),
    "sha1sum": F("s", lambda s: hashlib.sha1(s.encode("utf-8", "surrogateescape")).hexdigest()),
    "toJson": F("a", _to_json_v2),
    "regexMatch": F("ss", _regex_match),
    # defaults
    "default": F("aa", _default, True),
    "empty": F("a", _empty),
    "coalesce": F("a", _coalesce, True),
    "ternary": F("aab", _ternary),
    # numbers
    "int": F("a", _to_int),
    "int64": F("a", lambda v: int64(_to_int(v))),
    "float64": F("a", _to_float),
    "atoi": F("s", lambda s: int(s) if re.fullmatch(r"[+-]?\d+", s) else 0),
    "add": F("a", lambda *a: int64(sum(_to_int(x) for x in a)), True),
    "add1": F("a", lambda a: int64(_to_int(a) + 1)),
    "sub": F("aa", lambda a, b: int64(_to_int(a) - _to_int(b))),
    "mul": F("aa", lambda a, *v: int64(math.prod([_to_int(a), *(_to_int(x) for x in v)])), True),
    "div": F("aa", _div),
    "mod": F("aa", _mod),
    "max": F("aa", _max, True),
    "min": F("aa", _min, True),
    # lists and dicts
    "list": F("a", lambda *a: list(a), True),
    "first": F("a", _first),
    "last": F("a", _last),
    "rest": F("a", lambda v: _list_of(v, "rest")[1:] or NilList()),
    "initial": F("a", lambda v: _list_of(v, "initial")[:-1] or NilList()),
    "append": F("aa", lambda v, x: [*_list_of(v, "append"), x]),
    "prepend": F("aa", lambda v, x: [x, *_list_of(v, "prepend")]),
    "uniq": F("a", _uniq),
    "has": F("aa", _has),
    "sortAlpha": F("a", _sort_alpha),
    "dict": F("a", _dict, True),
    "hasKey": F("ds", _has_key),
    "keys": F("d", _keys, True),
    "typeOf": F("a", lambda v: type_name(v) if v is not None else "<nil>"),
    "typeIs": F("sa", lambda t, v: (type_name(v) if v is not None else "<nil>") == t),
    "typeIsLike": F("sa", _type_is_like),
    "deepEqual": F("aa", deep_equal),
    "hello": F("", lambda: "Hello!"),
    "abbrev": F("is", _abbrev),
    "untitle": F("s", _untitle),
    "trimall": F("ss", lambda a, b: b.strip(a)),
    "initials": F("s", _initials),
    "plural": F("ssi", lambda one, many, count: one if count == 1 else many),
    "adler32sum": F("s", lambda s: str(zlib.adler32(s.encode("utf-8", "surrogateescape")))),
    "toDecimal": F("a", _to_decimal),
    "splitn": F("sis", _splitn),
    "toStrings": F("a", _to_strings),
    "until": F("i", lambda c: IntList(_until_step(0, c, 1 if c >= 0 else -1))),
    "untilStep": F("iii", lambda *a: IntList(_until_step(*a))),
    "biggest": F("aa", _max, True),
    "ceil": F("a", lambda a: _go_ceil(_to_float(a))),
    "floor": F("a", lambda a: _go_floor(_to_float(a))),
    "round": F("aif", _round, True),
    "compact": F("a", _compact),
    "toPrettyJson": F("a", _to_pretty_json),
    "base": F("s", _path_base),
    "dir": F("s", _path_dir),
    "clean": F("s", _path_clean),
    "ext": F("s", _path_ext),
    "isAbs": F("s", lambda p: p.startswith("/")),
    "b32enc": F("s", lambda s: base64.b32encode(s.encode("utf-8", "surrogateescape")).decode()),
    "b32dec": F("s", _b32dec),
    "tuple": F("a", lambda *a: list(a), True),
    "set": F("dsa", _set),
    "unset": F("ds", _unset),
    "pluck": F("sd", _pluck, True),
    "pick": F("ds", _pick, True),
    "omit": F("ds", _omit, True),
    "values": F("d", lambda d: list((d or {}).values())),
    "push": F("aa", lambda v, x: [*_list_of(v, "push"), x]),
    "reverse": F("a", _reverse),
    "without": F("aa", _without, True),
    "concat": F("a", _concat, True),
    "slice": F("aa", _sprig_slice, True),
    "fail": F("s", _fail),
    "regexFindAll": F("ssi", _regex_find_all),
    "regexFind": F("ss", _regex_find),
    "regexReplaceAll": F("sss", _regex_replace_all),
    "regexReplaceAllLiteral": F("sss", _regex_replace_literal),
    "regexSplit": F("ssi", _regex_split),
    **{name: F("a", _unavailable(name), True) for name in UNAVAILABLE},
    "kindIs": F("sa", lambda k, v: _kind(v) == k),
    "kindOf": F("a", _kind),
}
