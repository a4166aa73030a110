"""Sprig's regular expression functions (regexMatch, regexFind, regexReplaceAll...)."""

from __future__ import annotations

import re
import warnings

from airlock.tasks.gotemplate.funcs_common import F, Func, FuncError, _go_quote
from airlock.tasks.gotemplate.values import NilStrList, StrList


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


FUNCS: dict[str, Func] = {
    "regexMatch": F("ss", _regex_match),
    "regexFindAll": F("ssi", _regex_find_all),
    "regexFind": F("ss", _regex_find),
    "regexReplaceAll": F("sss", _regex_replace_all),
    "regexReplaceAllLiteral": F("sss", _regex_replace_literal),
    "regexSplit": F("ssi", _regex_split),
}
