"""Sprig's encoding functions (b64enc, b64dec, b32enc, b32dec, toJson, toPrettyJson)."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, strval
from airlock.tasks.gotemplate.values import (
    NIL,
    IMap,
    NilList,
    NilStrList,
    _shortest,
    go_string,
    type_name,
    unwrap,
)


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


def _b32dec(s: str) -> str:
    try:
        return go_string(base64.b32decode(s.encode("utf-8", "surrogateescape")))
    except ValueError as err:
        return str(err)


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


FUNCS: dict[str, Func] = {
    "b64enc": F("a", _b64enc),
    "b64dec": F("s", _b64dec),
    "b32enc": F("s", lambda s: base64.b32encode(s.encode("utf-8", "surrogateescape")).decode()),
    "b32dec": F("s", _b32dec),
    "toJson": F("a", _to_json_v2),
    "toPrettyJson": F("a", _to_pretty_json),
}
