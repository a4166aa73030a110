"""Formatting of command results: ``--query`` first, then ``--output``, as az does.

yaml and jmespath are imported only when asked for, to keep start-up fast.
"""

from __future__ import annotations

import json
from typing import Any

from airlock.cli.tables import TableTransformer, render_table, render_tsv

FORMATS = ("json", "jsonc", "table", "tsv", "yaml", "none")
DEFAULT_FORMAT = "json"

_ANSI_KEY = "\x1b[94m"
_ANSI_STRING = "\x1b[32m"
_ANSI_RESET = "\x1b[0m"


def apply_query(result: Any, expression: str) -> Any:
    from collections import OrderedDict

    import jmespath

    # OrderedDict marks objects built by the query, whose keys keep the query's order in tsv.
    return jmespath.search(expression, result, options=jmespath.Options(dict_cls=OrderedDict))


def check_query(expression: str) -> str:
    """Parse a JMESPath expression; raises ``ValueError`` with jmespath's explanation."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None
    return expression


def render(
    result: Any,
    fmt: str,
    query: str | None = None,
    table: TableTransformer | None = None,
    color: bool = False,
) -> str:
    """The text to print for ``result``; empty when there is nothing to print (az prints
    nothing for a command or query whose result is null)."""
    if query is not None:
        result = apply_query(result, query)
    if result is None or fmt == "none":
        return ""
    if fmt == "json" or (fmt == "jsonc" and not color):
        return to_json(result)
    if fmt == "jsonc":
        return _to_color_json(result)
    if fmt == "yaml":
        return _to_yaml(result)
    if fmt == "tsv":
        return render_tsv(result)
    if fmt == "table":
        return render_table(result, table, query_active=query is not None)
    raise ValueError(f"unknown output format {fmt!r}")


def to_json(result: Any) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _to_yaml(result: Any) -> str:
    import yaml

    # safe_dump refuses OrderedDict (from --query); a JSON round trip makes plain types.
    plain = json.loads(json.dumps(result))
    text: str = yaml.safe_dump(plain, default_flow_style=False, allow_unicode=True)
    return text


def _to_color_json(result: Any) -> str:
    lines = []
    for line in to_json(result).splitlines():
        key, sep, rest = line.partition('": ')
        if sep and key.lstrip().startswith('"'):
            indent = key[: len(key) - len(key.lstrip())]
            line = f'{indent}{_ANSI_KEY}{key.lstrip()}"{_ANSI_RESET}: {_color_value(rest)}'
        else:
            line = _color_value(line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _color_value(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith('"'):
        indent = text[: len(text) - len(stripped)]
        value, comma = (stripped[:-1], ",") if stripped.endswith(",") else (stripped, "")
        return f"{indent}{_ANSI_STRING}{value}{_ANSI_RESET}{comma}"
    return text
