"""Task-file templates as ACR renders them, with located errors.

acr-builder (``templating/template.go`` and ``templating/engine.go``) drops every line whose
first non-blank character is ``#``, then renders the rest with Go's ``text/template``, Sprig's
functions (``b64enc`` replaced by its own), ``missingkey=zero``, and removes ``<no value>``
from the result: a missing value renders as the empty string. Airlock does the same with
:mod:`airlock.tasks.gotemplate` (the whole template language, see ``docs/task-yaml.md``) and
reports the missing names, so a caller can warn, and the renderings of secrets, so logs can
mask them. Rendered values are never parsed again: a ``{{`` in a value stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.tasks.errors import TaskFileError
from airlock.tasks.gotemplate import TemplateError, execute, parse
from airlock.tasks.gotemplate.exec import Strict, Trace, to_data
from airlock.tasks.gotemplate.funcs import FUNCS
from airlock.tasks.gotemplate.lexer import Item, lex
from airlock.tasks.gotemplate.values import valid_text

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_COMMENT_LINE = re.compile(r"[ \t\r\n\v\f]*#")

StrictFields = Strict
"""A mapping that behaves like a Go struct: an unknown key is an error, not empty."""


def find_actions(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of every ``{{...}}`` action (comments included) in ``text``."""
    tokens = lex(text, emit_comments=True)
    if tokens[-1].typ is Item.ERROR:
        return [(m.start(), m.end()) for m in _ACTION.finditer(text)]
    spans: list[tuple[int, int]] = []
    start = -1
    for tok in tokens:
        if tok.typ is Item.LEFT_DELIM:
            start = tok.pos
        elif tok.typ is Item.RIGHT_DELIM and start >= 0:
            spans.append((start, tok.pos + len(tok.val)))
            start = -1
        elif tok.typ is Item.COMMENT:
            begin = text.rfind("{{", 0, tok.pos)
            end = text.find("}}", tok.pos + len(tok.val))
            spans.append((begin, end + 2))
    return spans


@dataclass
class Output:
    text: str
    secrets: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)


def drop_comment_lines(text: str) -> tuple[str, list[int]]:
    """acr-builder's ``NewTemplate``: the text without its ``#`` lines, and for each kept line
    its 0-based line number in ``text``."""
    kept: list[str] = []
    origin: list[int] = []
    for i, line in enumerate(text.split("\n")):
        if not _COMMENT_LINE.match(line):
            kept.append(line)
            origin.append(i)
    return "\n".join(kept), origin


def render_template(text: str, data: Mapping[str, Any], *, source: str, secret_root: str) -> Output:
    """Render ``text`` as ACR does; values under ``data[secret_root]`` are secrets."""
    body, origin = drop_comment_lines(text)
    trace = Trace(tainted_root=secret_root)
    try:
        tmpl = parse(body, FUNCS)
        rendered = execute(tmpl, body, to_data(data), trace)
    except TemplateError as err:
        raise _located(err, body, origin, source) from None
    out = Output(valid_text(rendered.replace("<no value>", "")))
    out.secrets = {s.replace("<no value>", "") for s in trace.tainted} - {""}
    out.missing = list(dict.fromkeys(trace.missing))
    return out


def _located(err: TemplateError, body: str, origin: list[int], source: str) -> TaskFileError:
    pos = err.pos if 0 <= err.pos <= len(body) else None
    action = ""
    if pos is not None:
        for start, end in find_actions(body):
            if start <= pos < end:
                pos, action = start, body[start:end]
                break
        line = body.count("\n", 0, pos) + 1
        column = pos - (body.rfind("\n", 0, pos) + 1) + 1
    else:
        line, column = max(err.line, 1), 1
    line = origin[line - 1] + 1 if 0 < line <= len(origin) else line
    where = f"template {action}: " if action else "template: "
    return TaskFileError(source, line, column, f"{where}{err.message}")
