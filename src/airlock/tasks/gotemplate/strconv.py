"""The parts of Go's ``strconv`` the template language uses: quoting and number syntax."""

from __future__ import annotations

import math
import re

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote_char(s: str, quote: str) -> tuple[int, str]:
    """Go's ``strconv.UnquoteChar``: the first character of ``s`` (a code point) and the rest."""
    if not s:
        raise ValueError("invalid syntax")
    c = s[0]
    if c == quote and quote in "'\"":
        raise ValueError("invalid syntax")
    if c != "\\":
        return ord(c), s[1:]
    if len(s) <= 1:
        raise ValueError("invalid syntax")
    c, s = s[1], s[2:]
    if c in _SIMPLE:
        return ord(_SIMPLE[c]), s
    if c in "xuU":
        size = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[:size]
        if len(digits) < size or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if c == "x":
            return value, s[size:]  # a byte; the caller decides what it means
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError("invalid syntax")
        return value, s[size:]
    if c in "01234567":
        digits = c + s[:2]
        if len(digits) < 3 or not all(ch in "01234567" for ch in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 8)
        if value > 255:
            raise ValueError("invalid syntax")
        return value, s[2:]
    if c in "'\"":
        if c != quote:
            raise ValueError("invalid syntax")
        return ord(c), s
    raise ValueError("invalid syntax")


def go_unquote(quoted: str) -> str:
    """Go's ``strconv.Unquote`` for a double-quoted or raw (backquoted) string literal.

    ``\\x`` and octal escapes are bytes in Go; a run of them is decoded as UTF-8 (an invalid
    sequence becomes U+FFFD per byte, as Go prints it).
    """
    if len(quoted) < 2 or quoted[0] != quoted[-1]:
        raise ValueError("invalid syntax")
    body = quoted[1:-1]
    if quoted[0] == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if quoted[0] != '"' or "\n" in body:
        raise ValueError("invalid syntax")
    out = bytearray()
    s = body
    while s:
        is_byte = s[0] == "\\" and len(s) > 1 and (s[1] == "x" or s[1] in "01234567")
        value, s = unquote_char(s, '"')
        if is_byte:
            out.append(value)
        else:
            out += chr(value).encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "replace")


_DEC = r"[0-9](?:_?[0-9])*"
_INT_RE = re.compile(
    r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)"
)


def parse_int(text: str, *, unsigned: bool) -> int | None:
    """Go's ``strconv.ParseInt/ParseUint(text, 0, 64)``; ``None`` when it fails."""
    if not _INT_RE.fullmatch(text):
        return None
    if unsigned and text[0] in "+-":
        return None
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-").replace("_", "")
    if len(body) > 1 and body[0] == "0" and body[1] in "0123456789":
        value = int(body, 8)
    else:
        value = int(body, 0)
    value *= sign
    if unsigned:
        return value if value < 2**64 else None
    return value if -(2**63) <= value < 2**63 else None


_FLOAT_RE = re.compile(
    rf"[+-]?(?:(?:{_DEC})?\.?(?:{_DEC})?(?:[eE][+-]?{_DEC})?"
    r"|0[xX](?:_?[0-9a-fA-F])*\.?(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?[pP][+-]?[0-9](?:_?[0-9])*)"
)


def parse_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 64)`` for the syntax the lexer lets through."""
    if not text or not _FLOAT_RE.fullmatch(text) or not re.search(r"[0-9]", text):
        return None
    body = text.replace("_", "")
    try:
        if "x" in body.lower():
            sign = -1.0 if body.startswith("-") else 1.0
            return sign * float.fromhex(body.lstrip("+-"))
        if "_" in text:
            return None  # Go allows underscores in a float only with a base prefix
        value = float(body)
        return None if math.isinf(value) else value  # Go: ErrRange
    except (ValueError, OverflowError):
        return None
