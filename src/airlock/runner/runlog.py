"""A run's log: ACR's lines, each masked and timestamped, delivered in batches.

Runner lines read as acr-builder writes them with Go's ``log`` package
(``2026/11/30 11:00:00 Executing step ID: build. ...``); container output is kept as the
container wrote it. Every line, of either kind, is stored with the time it was written (ISO
8601, UTC), so a reader can show or filter by time.

Lines are masked before they leave this object: by the run's own masker (its secrets,
registry passwords and tokens) and by the process-wide one (every vault secret the process
knows). Steps write from several threads; lines are buffered and handed to ``deliver`` by
one flusher thread at most every ``interval`` seconds (or every ``batch`` lines), so a chatty
step costs one database write per batch, not per line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from airlock.vault.masking import MASKER, SecretMasker

Deliver = Callable[[Sequence[tuple[str, str]]], None]
MAX_LINE = 16 * 1024


def go_log_time(moment: datetime) -> str:
    """Go's ``log`` prefix with the standard flags: ``2026/11/30 11:00:00``."""
    return moment.strftime("%Y/%m/%d %H:%M:%S")


class RunLog:
    def __init__(
        self,
        deliver: Deliver,
        masker: SecretMasker | None = None,
        *,
        interval: float = 0.2,
        batch: int = 200,
    ) -> None:
        self._deliver = deliver
        self._masker = masker or SecretMasker()
        self._interval = interval
        self._batch = batch
        self._pending: list[tuple[str, str]] = []
        self._lock = threading.Condition()
        self._closed = False
        self._failure: BaseException | None = None
        self._flusher = threading.Thread(target=self._run, name="run-log", daemon=True)
        self._flusher.start()

    def info(self, message: str) -> None:
        """A runner line, with Go's log time prefix."""
        now = datetime.now(UTC)
        for line in message.split("\n"):
            self._add(now, f"{go_log_time(now)} {line}")

    def output(self, text: str) -> None:
        """A line a container (or the engine) printed, as it printed it."""
        self._add(datetime.now(UTC), text)

    def plain(self, text: str) -> None:
        """A line without the time prefix (summaries, blank lines)."""
        self._add(datetime.now(UTC), text)

    def close(self) -> None:
        """Deliver everything still buffered and stop the flusher."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._flusher.join()

    def _add(self, moment: datetime, text: str) -> None:
        text = MASKER.mask(self._masker.mask(text))
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " … [line cut]"
        with self._lock:
            if self._closed:
                return
            self._pending.append((moment.isoformat(timespec="microseconds"), text))
            if len(self._pending) >= self._batch:
                self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closed and len(self._pending) < self._batch:
                    self._lock.wait(self._interval)
                lines, self._pending = self._pending, []
                closed = self._closed
            if lines:
                try:
                    self._deliver(lines)
                except Exception as exc:  # a lost log batch must not kill the run
                    self._failure = exc
            if closed:
                with self._lock:
                    lines, self._pending = self._pending, []
                if lines:
                    self._deliver(lines)
                return
