"""az's ``table`` and ``tsv`` renderings (knack's ``_TableOutput`` and ``_TsvOutput`` rules).

Results keep az's conventions so that scripts written for ``az`` read Airlock's output the
same way: a plain dict's values come in sorted-key order, a dict built by a ``--query``
multiselect hash (an ``OrderedDict``) in the query's order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

Row = Mapping[str, Any]
TableTransformer = Callable[[Any], list[Row]]

# az leaves these out of automatic tables: they are long and say little on a terminal.
_SKIP_KEYS = frozenset({"id", "type", "etag"})
# tabulate's "simple" format: every column is at least two wider than its header.
_MIN_PADDING = 2


def render_table(result: Any, transformer: TableTransformer | None, query_active: bool) -> str:
    if transformer is not None and not query_active:
        rows: list[Row] = transformer(result)
    else:
        items = result if isinstance(result, list) else [result]
        rows = [_auto_row(item, sort_keys=not query_active) for item in items]
    return _tabulate(rows) + "\n" if rows else "\n"


def _auto_row(item: Any, sort_keys: bool) -> Row:
    if isinstance(item, dict):
        keys = sorted(item) if sort_keys and not isinstance(item, OrderedDict) else list(item)
        return {
            _capitalize(key): item[key]
            for key in keys
            if key not in _SKIP_KEYS
            and item[key] is not None
            and not isinstance(item[key], (list, dict))
        }
    if isinstance(item, list):
        return {f"Column{index + 1}": value for index, value in enumerate(item)}
    return {"Result": item}


def _capitalize(key: str) -> str:
    return key[:1].upper() + key[1:]


def _tabulate(rows: Sequence[Row]) -> str:
    headers: list[str] = []
    for row in rows:
        headers.extend(key for key in row if key not in headers)
    if not headers:
        raise ValueError("no scalar fields to show as a table")
    cells = [[_cell(row.get(header, "")) for header in headers] for row in rows]
    widths = [
        max([len(header) + _MIN_PADDING, *(len(line[i]) for line in cells)])
        for i, header in enumerate(headers)
    ]
    lines = [headers, ["-" * width for width in widths], *cells]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render_tsv(result: Any) -> str:
    items = result if isinstance(result, list) else [result]
    return "".join(_tsv_row(item) + "\n" for item in items)


def _tsv_row(item: Any) -> str:
    if isinstance(item, OrderedDict):
        return "\t".join(_tsv_field(value) for value in item.values())
    if isinstance(item, dict):
        return "\t".join(_tsv_field(value) for _, value in sorted(item.items()))
    if isinstance(item, list):
        return "\t".join(_tsv_field(value) for value in item)
    if isinstance(item, bool):
        return "true" if item else "false"
    return _tsv_field(item)


def _tsv_field(value: Any) -> str:
    # A nested list shows as its length and a nested object as an empty field, so that
    # every row keeps the same number of columns (az does the same).
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict):
        return ""
    return str(value)


def column(item: Any, *path: str | int) -> str:
    """A nested value as a table cell: blank when missing (az's ``_get_value``)."""
    value = item
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return " "
    return " " if value is None or value == "" else str(value)


def format_datetime(value: str) -> str:
    """ACR's table timestamps: ``2026-11-22T07:00:00Z``, whatever the stored precision."""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return value or " "
