"""Sprig's string functions (but the regular expressions, in funcs_regex)."""

from __future__ import annotations

from airlock.tasks.gotemplate.funcs_common import MAX_STRING, F, Func, FuncError, _go_quote, strval
from airlock.tasks.gotemplate.values import go_string


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


def _replace_empty(new: str, s: str) -> str:
    return new + new.join(s) + new if s else new


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


FUNCS: dict[str, Func] = {
    "hello": F("", lambda: "Hello!"),
    "upper": F("s", str.upper),
    "lower": F("s", str.lower),
    "title": F("s", _title),
    "untitle": F("s", _untitle),
    "trim": F("s", lambda s: s.strip(" \t\n\r\v\f\x85\xa0")),
    "trimAll": F("ss", lambda a, b: b.strip(a)),
    "trimall": F("ss", lambda a, b: b.strip(a)),
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
    "initials": F("s", _initials),
    "abbrev": F("is", _abbrev),
    "plural": F("ssi", lambda one, many, count: one if count == 1 else many),
}
