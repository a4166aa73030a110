"""JSON parsing with bounds, for everything a client sends (REST bodies, manifests).

``json.loads`` accepts input that later breaks the code handling it: nesting deep enough to
exhaust the recursion limit, and ``\\ud800``-style escapes that decode to lone surrogates,
which cannot be encoded as UTF-8 again (a secret value, a database row). ``loads_bounded``
refuses both with ``JSONLimitError`` (a ``ValueError``), whose message says what and where.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
# An escape pair (so that \\" never toggles a string), a quote or a bracket.
_SIGNIFICANT = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


class JSONLimitError(ValueError):
    """Input that is valid JSON but outside what Airlock accepts."""


def loads_bounded(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; raises ``ValueError`` for malformed JSON and ``JSONLimitError`` for
    nesting deeper than ``max_depth`` or a string holding a lone surrogate."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    _check_depth(text, max_depth)
    value = json.loads(text)
    _check_strings(value)
    return value


def _check_depth(text: str, max_depth: int) -> None:
    """Count brackets outside strings before parsing, so that a deep document is refused
    without recursing into it. Only quotes, escapes and brackets are visited."""
    depth = 0
    in_string = False
    for match in _SIGNIFICANT.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONLimitError(
                    f"JSON nested deeper than {max_depth} levels (at character {match.start()})"
                )
        else:
            depth -= 1


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONLimitError(
            "a JSON string holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"
        ) from None
