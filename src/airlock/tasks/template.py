"""The subset of Go ``text/template`` + Sprig that ACR task files use, with located errors.

acr-builder renders with ``text/template`` and ``sprig.TxtFuncMap()`` (``templating/engine.go``),
``missingkey=zero`` and then strips ``<no value>``: a missing value renders as the empty string.
Airlock does the same and reports the missing names, so a caller can warn.

Supported: ``{{ pipeline }}`` with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``; a
pipeline is commands joined by ``|``; a command is a field chain (``.Run.ID``, ``.Values.a.b``),
a string/number/bool literal, or a function with arguments (see :data:`FUNCTIONS`).
Refused with a located error: control actions (``if``, ``range``, ``with``, ``define``,
``template``, ``block``...), template variables (``$x``), parentheses and other functions.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.tasks.errors import TaskFileError

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+)|(?P<pipe>\|)"""
    r"""|(?P<field>(?:\.[A-Za-z_][\w-]*)+|\.)|(?P<ident>[A-Za-z_]\w*)|(?P<other>\S))"""
)
CONTROL = ("if", "else", "end", "range", "with", "define", "template", "block", "break", "continue")


def find_actions(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of every ``{{...}}`` action in ``text``."""
    return [(m.start(), m.end()) for m in _ACTION.finditer(text)]


@dataclass(frozen=True)
class Val:
    value: Any
    secret: bool = False
    missing: str | None = None  # the dotted name when the value was absent
    path: str = ""


@dataclass
class Output:
    text: str
    secrets: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)


class _FailError(Exception):
    pass


def render_template(text: str, data: Mapping[str, Any], *, source: str, secret_root: str) -> Output:
    """Render ``text``; values under ``data[secret_root]`` are secrets."""
    out = Output("")
    parts: list[str] = []
    pos = 0
    for m in _ACTION.finditer(text):
        inner = m.group(1)
        before = text[pos : m.start()]
        if inner.startswith("- ") or inner.startswith("-\n") or inner == "-":
            before = before.rstrip()
        parts.append(before)
        parts.append(_action(text, m, inner, data, secret_root, source, out))
        pos = m.end()
        if inner.endswith(" -") or inner.endswith("\n-"):
            pos = len(text) - len(text[pos:].lstrip())
    parts.append(text[pos:])
    out.text = "".join(parts)
    return out


def _action(
    text: str,
    m: re.Match[str],
    inner: str,
    data: Mapping[str, Any],
    root: str,
    src: str,
    out: Output,
) -> str:
    body = inner.strip()
    body = body[1:].strip() if body.startswith("-") else body
    body = body[:-1].strip() if body.endswith("-") else body
    if body.startswith("/*") and body.endswith("*/"):
        return ""
    try:
        result = _pipeline(_tokens(body), data, root)
    except _FailError as err:
        line = text.count("\n", 0, m.start()) + 1
        column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
        raise TaskFileError(src, line, column, f"template {{{{{body}}}}}: {err}") from None
    if result.value is None and result.missing:
        out.missing.append(result.missing)
    rendered = _print(result.value)
    if result.secret and rendered:
        out.secrets.add(rendered)
    return rendered


def _tokens(body: str) -> list[tuple[str, str]]:
    tokens = []
    for m in _TOKEN.finditer(body):
        kind = m.lastgroup or "other"
        tokens.append((kind, m.group(kind)))
    if not tokens:
        raise _FailError("empty action")
    return tokens


def _pipeline(tokens: list[tuple[str, str]], data: Mapping[str, Any], root: str) -> Val:
    commands: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token[0] == "pipe":
            commands.append([])
        else:
            commands[-1].append(token)
    piped: Val | None = None
    for command in commands:
        if not command:
            raise _FailError("empty command in pipeline")
        piped = _command(command, piped, data, root)
    assert piped is not None
    return piped


def _command(
    command: list[tuple[str, str]], piped: Val | None, data: Mapping[str, Any], root: str
) -> Val:
    kind, text = command[0]
    if kind == "ident" and text not in ("true", "false"):
        args = [_operand(t, data, root) for t in command[1:]]
        return _call(text, [*args, piped] if piped is not None else args)
    if len(command) > 1 or piped is not None:
        raise _FailError(f"{text!r} is not a function; it cannot take arguments")
    return _operand(command[0], data, root)


def _operand(token: tuple[str, str], data: Mapping[str, Any], root: str) -> Val:
    kind, text = token
    if kind == "str":
        return Val(bytes(text[1:-1], "utf-8").decode("unicode_escape"))
    if kind == "raw":
        return Val(text[1:-1])
    if kind == "num":
        return Val(int(text))
    if kind == "field":
        return _field(text, data, root)
    if kind == "ident" and text in ("true", "false"):
        return Val(text == "true")
    if kind == "ident":
        raise _FailError(f"function {text!r} used as an argument needs parentheses, unsupported")
    if text == "$":
        raise _FailError("template variables ($x) are not supported")
    if text == "(":
        raise _FailError("parenthesised pipelines are not supported")
    raise _FailError(f"unexpected {text!r}")


def _field(chain: str, data: Mapping[str, Any], root: str) -> Val:
    if chain == ".":
        return Val(dict(data))
    names = chain[1:].split(".")
    # The root is a map in acr-builder, so an unknown top-level name renders empty (ACR even
    # renders the `{{index .Object "name-pair"}}` inside a YAML comment of the seed's task).
    current = Val(dict(data), path="")
    current = _lookup(current, names[0], names[0])
    current = Val(current.value, names[0] == root, current.missing, current.path)
    for i, name in enumerate(names[1:], start=1):
        current = _lookup(current, name, ".".join(names[: i + 1]))
    return current


def _lookup(container: Val, key: Any, path: str) -> Val:
    value = container.value
    if isinstance(value, StrictFields):
        if key not in value:
            known = ", ".join(value)
            raise _FailError(f"unknown field .{path} (known under it: {known})")
        return Val(value[key], container.secret, path=path)
    if isinstance(value, Mapping):
        if key in value:
            return Val(value[key], container.secret, path=path)
        return Val(None, container.secret, missing=path, path=path)
    if value is None:
        return Val(None, container.secret, missing=container.missing or path, path=path)
    raise _FailError(f"cannot read .{key} of a {type(value).__name__} ({path})")


class StrictFields(dict[str, Any]):
    """A mapping that behaves like a Go struct: an unknown key is an error, not empty."""


def _print(value: Any) -> str:
    if value is None:
        return ""  # acr-builder: missingkey=zero, then "<no value>" removed
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(val: Val) -> str:
    return _print(val.value)


def _call(name: str, args: list[Val]) -> Val:
    if name in CONTROL:
        raise _FailError(
            f"'{name}' actions are not supported (no control flow in Airlock templates)"
        )
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise _FailError(f"function {name!r} is not supported (supported: {', '.join(FUNCTIONS)})")
    arity, impl = spec
    if arity >= 0 and len(args) != arity:
        raise _FailError(f"{name} takes {arity} argument(s), got {len(args)}")
    secret = any(a.secret for a in args)
    return impl(args, secret)


def _index(args: list[Val], secret: bool) -> Val:
    if len(args) < 2:
        raise _FailError("index takes a collection and at least one key")
    current = args[0]
    for key in args[1:]:
        current = _lookup(current, key.value, f"{current.path}.{key.value}")
    return current


def _default(args: list[Val], secret: bool) -> Val:
    chosen = args[1] if len(args) > 1 and args[1].value not in (None, "", 0, False) else args[0]
    return Val(chosen.value, chosen.secret)


def _required(args: list[Val], secret: bool) -> Val:
    if args[1].value in (None, ""):
        raise _FailError(_text(args[0]))
    return args[1]


def _str_fn(fn: Callable[..., str], arity: int) -> tuple[int, Callable[[list[Val], bool], Val]]:
    return arity, lambda args, secret: Val(fn(*[_text(a) for a in args]), secret)


def _b64dec(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError as err:
        raise _FailError(f"b64dec: {err}") from None


FUNCTIONS: dict[str, tuple[int, Callable[[list[Val], bool], Val]]] = {
    "index": (-1, _index),
    "default": (-1, _default),
    "required": (2, _required),
    "b64enc": _str_fn(lambda s: base64.b64encode(s.encode()).decode(), 1),
    "b64dec": _str_fn(_b64dec, 1),
    "upper": _str_fn(str.upper, 1),
    "lower": _str_fn(str.lower, 1),
    "trim": _str_fn(str.strip, 1),
    "trimPrefix": _str_fn(lambda p, s: s.removeprefix(p), 2),
    "trimSuffix": _str_fn(lambda p, s: s.removesuffix(p), 2),
    "replace": _str_fn(lambda old, new, s: s.replace(old, new), 3),
    "quote": _str_fn(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"', 1),
    "squote": _str_fn(lambda s: f"'{s}'", 1),
}
