"""Secret masking: once Airlock knows a secret value, it shows as ``***`` everywhere.

One process-wide ``SecretMasker`` (``MASKER``) collects every value the vault stores or hands
out (and, at server start, every value already in the vaults and every registry's admin
passwords); the log filter masks each record before any handler writes it, and the REST error
handler masks error messages. Values shorter than ``MIN_LENGTH`` are not masked: replacing
every ``a`` or ``42`` in every log line would destroy the logs and reveal more about the value
than it hides.

How a text is searched, whatever the number of values:

* Each value is found through an *anchor*: the value itself when it has at most
  ``ANCHOR_LENGTH`` characters, otherwise the ``ANCHOR_LENGTH`` characters in its middle (the
  middle, because values of one kind share their start and end, as PEM keys do). Every
  anchor goes into one Aho-Corasick automaton (``ahocorasick-rs``, the Rust ``aho-corasick``
  crate), which finds every occurrence of every anchor in one pass over the text, overlapping
  ones included; each hit is checked against the whole value with one ``str.startswith``.
  Masking costs one pass over the text plus one comparison per anchor hit, not one per
  value, and the automaton holds at most ``ANCHOR_LENGTH`` characters per value however long
  the values are.
* ``add`` is O(len(value)): it records the value and its anchor. The automaton is rebuilt on
  the next ``mask`` from the anchors alone (about ``ANCHOR_LENGTH`` × values characters:
  about a millisecond for 150 values, 60 ms for 10,000), once for any number of ``add`` calls
  in between. A built automaton is never changed, only replaced, so any thread may mask while
  another adds.
* Every occurrence of every value is masked, overlapping ones included: overlapping
  occurrences are masked as one ``***`` (no character of either value shows), adjacent ones
  each as their own ``***``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ahocorasick_rs import AhoCorasick, MatchKind

MIN_LENGTH = 4
MASK = "***"
ANCHOR_LENGTH = 32

# What masking reads, built together and never changed: the automaton of the anchors and,
# by anchor number, the values each anchor stands for with its offset inside each.
_Search = tuple[AhoCorasick, tuple[tuple[tuple[int, str], ...], ...]]


def _anchor(value: str) -> tuple[str, int]:
    """The anchor of ``value`` and its offset in the value."""
    if len(value) <= ANCHOR_LENGTH:
        return value, 0
    offset = (len(value) - ANCHOR_LENGTH) // 2
    return value[offset : offset + ANCHOR_LENGTH], offset


class SecretMasker:
    def __init__(self) -> None:
        self._values: set[str] = set()
        # anchor -> [(offset of the anchor in the value, value)]
        self._anchors: dict[str, list[tuple[int, str]]] = {}
        # What masking uses; None until built, rebuilt after an add. Never mutated once
        # published, so masking reads it without the lock.
        self._search: _Search | None = None
        self._stale = False
        # Values are added from request handlers and read from any thread that logs.
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (values under MIN_LENGTH characters are ignored)."""
        self.add_many((value,))

    def add_many(self, values: Iterable[str]) -> None:
        """Mask every value of ``values`` from now on (one automaton rebuild for them all)."""
        with self._lock:
            for value in values:
                if len(value) < MIN_LENGTH or value in self._values:
                    continue
                self._values.add(value)
                anchor, offset = _anchor(value)
                self._anchors.setdefault(anchor, []).append((offset, value))
                self._stale = True

    def mask(self, text: str) -> str:
        search = self._current()
        if search is None or not text:
            return text
        automaton, holders = search
        spans: list[tuple[int, int]] = []
        startswith = text.startswith
        for number, anchor_start, _ in automaton.find_matches_as_indexes(text, overlapping=True):
            for offset, value in holders[number]:
                start = anchor_start - offset
                if start >= 0 and startswith(value, start):
                    spans.append((start, start + len(value)))
        if not spans:
            return text
        spans.sort()
        parts: list[str] = []
        done = 0  # text before this index is written out or masked
        span_start, span_end = spans[0]
        for start, end in spans[1:]:
            if start < span_end:  # overlaps the span: one mask for both
                span_end = max(span_end, end)
                continue
            parts += (text[done:span_start], MASK)
            done = span_end
            span_start, span_end = start, end
        parts += (text[done:span_start], MASK, text[span_end:])
        return "".join(parts)

    def _current(self) -> _Search | None:
        if not self._stale:
            return self._search
        with self._lock:
            if self._stale:
                self._search = self._build()
                self._stale = False
            return self._search

    def _build(self) -> _Search | None:
        if not self._anchors:
            return None
        anchors = list(self._anchors)
        holders = tuple(tuple(self._anchors[anchor]) for anchor in anchors)
        return AhoCorasick(anchors, matchkind=MatchKind.Standard), holders

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every value (tests only: a real process never forgets a secret)."""
        with self._lock:
            self._values.clear()
            self._anchors.clear()
            self._search = None
            self._stale = False


MASKER = SecretMasker()


class MaskingFilter(logging.Filter):
    """Masks a record's message (after %-formatting), traceback and stack before output."""

    def __init__(self, masker: SecretMasker = MASKER) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        if len(self.masker) == 0:
            return True
        # Format once here: masking msg and args apart would miss a value that only
        # appears once the args are substituted, e.g. split over two args.
        record.msg = self.masker.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker.mask(record.stack_info)
        return True


def install(logger: logging.Logger | None = None, masker: SecretMasker = MASKER) -> None:
    """Add the masking filter to every handler of ``logger`` (the root logger by default).

    On handlers rather than on the logger: a logger's filters do not see records that
    propagate up from child loggers, a handler's filters see every record it writes.
    """
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter(masker))
