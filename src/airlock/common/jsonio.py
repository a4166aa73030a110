"""JSON parsing with bounds, for everything a client sends (REST bodies, manifests).

``json.loads`` accepts input that later breaks the code handling it: nesting deep enough to
exhaust the recursion limit of whatever walks it next, and ``\\ud800``-style escapes that
decode to lone surrogates, which cannot be encoded as UTF-8 again (a secret value, a
database row). ``loads_bounded`` refuses both with ``JSONLimitError`` (a ``ValueError``),
whose message says what.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
# A \\u escape of a UTF-16 surrogate (D800 to DFFF, hex digits in either case).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONLimitError(ValueError):
    """Input that is valid JSON but outside what Airlock accepts."""


def loads_bounded(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; raises ``ValueError`` for malformed JSON and ``JSONLimitError`` for
    nesting deeper than ``max_depth`` or a string holding a lone surrogate."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except RecursionError:  # far deeper than any limit: the parser itself gave up
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels") from None
    # The checks walk the parsed value only when the text could fail them: fewer brackets
    # than the limit cannot nest past it, and a lone surrogate needs a \uD800-\uDFFF escape.
    deep = text.count("[") + text.count("{") > max_depth
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if deep or surrogates:
        _check(value, max_depth, surrogates)
    return value


def _check(value: Any, max_depth: int, surrogates: bool) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if surrogates:
                _check_text(item)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth + 1 > max_depth:
            raise JSONLimitError(f"JSON nested deeper than {max_depth} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                if surrogates:
                    _check_text(key)
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONLimitError(
            "a JSON string holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"
        ) from None
