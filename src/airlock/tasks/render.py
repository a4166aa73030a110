"""Render a task file for a run, the way ACR does before parsing it.

Order (acr-builder ``graph/preprocessor.go`` then ``templating``): for files of version
``v1.1.0`` or later (acr-builder compares the strings), the ``alias:`` block is rendered and
read and ``$Alias`` references elsewhere are expanded (the predefined ones become
``{{.Run.X}}``); older files keep ``$`` text as written. The whole text is then rendered as a Go
template with ``.Run``, ``.Values`` and ``.Secrets``; the result is YAML for
:func:`airlock.tasks.loader.load_task`.

A missing ``.Values.X`` or ``.Secrets.X`` renders empty, as in ACR (``missingkey=zero``), and is
listed in :attr:`RenderResult.missing`; an unknown ``.Run.X`` is an error (``.Run`` is a fixed
set). Every non-empty rendering that came from a secret is in :attr:`RenderResult.secrets`, so
logs can mask it. Secrets are known only after the file's ``secrets:`` are resolved, so a
runner renders twice: once without secrets to read them, once with their values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from airlock.tasks import aliases
from airlock.tasks.errors import TaskFileError
from airlock.tasks.loader import load_task
from airlock.tasks.model import TaskFile
from airlock.tasks.template import StrictFields, render_template


@dataclass(frozen=True)
class RunContext:
    """The ``.Run`` variables (acr-builder ``docs/templates.md``)."""

    id: str
    registry: str
    registry_name: str = ""
    shared_volume: str = ""
    date: str = ""
    os: str = "linux"
    architecture: str = "amd64"
    commit: str = ""
    branch: str = ""
    task_name: str = ""
    repository: str = ""
    git_tag: str = ""
    triggered_by: str = ""

    def values(self) -> dict[str, str]:
        """What acr-builder puts under ``.Run`` (``templating/base_render_options.go``), in
        its order, and Airlock's ``TaskName``."""
        name = self.registry_name or self.registry.split(".", 1)[0]
        return {
            "ID": self.id,
            "Commit": self.commit,
            "Repository": self.repository,
            "Branch": self.branch,
            "GitTag": self.git_tag,
            "TriggeredBy": self.triggered_by,
            "Registry": self.registry,
            "RegistryName": name,
            "Date": self.date,
            "SharedVolume": self.shared_volume,
            "OS": self.os,
            "Architecture": self.architecture,
            "TaskName": self.task_name,
        }

    def fields(self) -> StrictFields:
        return StrictFields(**self.values())


def go_json(value: Any) -> str:
    """``json.Marshal`` as Go writes it: map keys sorted, no spaces, ``<``, ``>`` and ``&``
    (and U+2028, U+2029) escaped, other characters as UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_JSON_ESCAPES:
        text = text.replace(char, escape)
    return text


_GO_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
# acr-builder's shellEscapePattern: anything else makes the text need quoting.
_SHELL_UNSAFE = re.compile(r"[^\w_^@=+%,:./-]", re.ASCII)


def shell_quote(text: str) -> str:
    """acr-builder's ``shellQuote``: ``''`` for nothing, the text as is when it is safe, else
    single-quoted with each ``'`` written ``'"'"'``."""
    if not text:
        return "''"
    if _SHELL_UNSAFE.search(text):
        return "'" + text.replace("'", "'\"'\"'") + "'"
    return text


def run_date(moment: datetime) -> str:
    """ACR's ``yyyyMMdd-HHmmssz`` (UTC)."""
    return moment.strftime("%Y%m%d-%H%M%S") + "z"


@dataclass(frozen=True)
class RenderResult:
    text: str
    secrets: frozenset[str] = frozenset()
    missing: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)


def parse_set(pairs: Iterable[str]) -> dict[str, str]:
    """``--set NAME=value`` arguments -> values."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--set expects NAME=value, got {pair!r}")
        values[name] = value
    return values


def load_values(text: str, *, source: str) -> dict[str, Any]:
    """A values file (YAML mapping); ``--set`` values are merged over it by the caller."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise TaskFileError(source, line, col, f"not valid YAML: {err.problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TaskFileError(source, 1, 1, "a values file must be a mapping of names to values")
    return {str(k): v for k, v in data.items()}


def render(
    text: str,
    *,
    source: str,
    run: RunContext,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> RenderResult:
    values = dict(values or {})
    data = {
        "Run": run.fields(),
        "Build": StrictFields(ID=run.id),
        "Values": values,
        "Secrets": dict(secrets or {}),
        # As acr-builder: the values and the run as JSON, quoted for a shell command line.
        "ValuesJSON": shell_quote(go_json(values)),
        "RunJSON": shell_quote(go_json(run.values())),
    }
    if not aliases.aliases_enabled(text):
        out = render_template(text, data, source=source, secret_root="Secrets")
        return RenderResult(out.text, frozenset(out.secrets), tuple(dict.fromkeys(out.missing)))
    first, end = aliases.split_alias_block(text)
    lines = text.split("\n")
    block = render_template("\n".join(lines[first:end]), data, source=source, secret_root="Secrets")
    user, directive = _read_alias_block(block.text, source, first)
    table = {**aliases.PREDEFINED, **user}
    expanded = [
        line if first <= i < end else aliases.expand(line, table, directive)
        for i, line in enumerate(lines)
    ]
    out = render_template("\n".join(expanded), data, source=source, secret_root="Secrets")
    missing = tuple(dict.fromkeys(block.missing + out.missing))
    return RenderResult(out.text, frozenset(block.secrets | out.secrets), missing, table)


def render_and_load(
    text: str,
    *,
    source: str,
    run: RunContext,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    strict: bool = False,
) -> tuple[TaskFile, RenderResult]:
    """The public entry for a run: render as ACR does, then load."""
    result = render(text, source=source, run=run, values=values, secrets=secrets)
    return load_task(result.text, source=source, strict=strict), result


def _read_alias_block(block: str, source: str, first_line: int) -> tuple[dict[str, str], str]:
    if not block.strip():
        return {}, "$"
    try:
        data = yaml.safe_load(block) or {}
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = first_line + (mark.line + 1 if mark else 1)
        raise TaskFileError(
            source, line, 1, f"alias block is not valid YAML: {err.problem}"
        ) from None
    alias = data.get("alias") or {} if isinstance(data, dict) else {}
    if not isinstance(alias, dict):
        raise TaskFileError(source, first_line + 1, 1, "'alias' must be a mapping")
    if alias.get("src"):
        raise TaskFileError(
            source, first_line + 1, 1, "alias.src (alias files or URLs) is not supported yet"
        )
    values = {str(k): str(v) for k, v in (alias.get("values") or {}).items()}
    for name in values:
        if not aliases.ALIAS_NAME.match(name):
            raise TaskFileError(
                source, first_line + 1, 1, f"alias name {name!r} is not alphanumeric"
            )
    directive = str(alias.get("directive") or "$")
    if len(directive) != 1 or directive.isalnum():
        raise TaskFileError(
            source, first_line + 1, 1, "alias.directive must be one non-alphanumeric character"
        )
    return values, directive
