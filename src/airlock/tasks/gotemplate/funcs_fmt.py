"""Go's fmt (Sprint, Sprintln, Sprintf) behind the builtins print, println and printf."""

from __future__ import annotations

import math
import re
from typing import Any

from airlock.tasks.gotemplate.funcs_common import MAX_STRING, FuncError, _go_quote
from airlock.tasks.gotemplate.values import sort_key, sprint_one, type_name, unwrap


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
