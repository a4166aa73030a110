"""Secret masking: once Airlock has resolved a secret value, it shows as ``***`` everywhere.

One process-wide ``SecretMasker`` (``MASKER``) collects every value the vault hands out; the
log filter masks each record before any handler writes it, and the REST error handler masks
error messages. Values shorter than ``MIN_LENGTH`` are not masked: replacing every ``a`` or
``42`` in every log line would destroy the logs and reveal more about the value than it hides.
"""

from __future__ import annotations

import logging
import re
import threading

MIN_LENGTH = 4
MASK = "***"


class SecretMasker:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        # Values are added from request handlers and read from any thread that logs.
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (values under MIN_LENGTH characters are ignored)."""
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            # Longest first, so a value containing another is masked whole, not in parts.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every value (tests only: a real process never forgets a secret)."""
        with self._lock:
            self._values.clear()
            self._pattern = None


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
