"""What runs print, in the database: lines appended by the worker that holds the run (or by
the server), read back in order by anyone who follows the run.

- **who may write**: a worker only while it holds the run (``runs.worker`` and ``Running``);
  a run cancelled or taken away from a silent worker is not written to by it any more. The
  server (``worker=None``) writes to any run that exists (a queued run's "waiting for a
  worker", a recovered run's reason).
- **bounded**: a line is cut at ``MAX_LINE_BYTES`` and a run keeps ``MAX_LINES`` lines; the
  next line says the log was cut, and nothing is kept after it. A step that prints without
  end costs the database a known amount, not the disk.
- **order**: ``seq`` is global and only grows, so "the lines after the last one I saw" is one
  index range on ``(run, seq)``.

Lines are stored as text; a NUL (which PostgreSQL's text refuses) becomes U+FFFD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, text

from airlock.db.schema import run_logs
from airlock.runs.store import CANCELED, RUNNING

MAX_LINE_BYTES = 16384
MAX_LINES = 20_000
MAX_READ = 10_000
LINE_CUT = f"… [line cut at {MAX_LINE_BYTES} bytes]"
LOG_CUT = f"… [log cut at {MAX_LINES} lines: later lines were not kept]"


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    at: str
    text: str


def bound_line(line: str) -> str:
    """``line`` as stored: valid UTF-8 without NUL, cut (on a character) at the byte limit."""
    encoded = line.replace("\x00", "\ufffd").encode("utf-8", "replace")
    if len(encoded) <= MAX_LINE_BYTES:
        return encoded.decode("utf-8")
    return encoded[:MAX_LINE_BYTES].decode("utf-8", "ignore") + LINE_CUT


class LogStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, run: str, worker: str | None, lines: Sequence[tuple[str, str]]) -> bool:
        """Append ``(at, text)`` lines to ``run`` in one transaction.

        False, and nothing written, when ``worker`` does not hold the run (any more), or, for
        the server (``worker=None``), when the run does not exist. Lines past the run's limit
        are dropped (still True: the writer did nothing wrong).
        """
        with self.engine.begin() as conn:
            # A write that changes nothing, as the guard: it takes the run's row lock
            # (PostgreSQL) or the write lock (SQLite) before anything is counted, so a
            # cancel either lands before it (and nothing is written) or waits for this
            # append; and two appenders of one run cannot both fill its last free lines.
            guard = "UPDATE runs SET worker = worker WHERE id = :run"
            params: dict[str, str] = {"run": run}
            if worker is not None:
                # A cancelled run's worker still writes how it stopped.
                guard += " AND worker = :worker AND status IN (:running, :canceled)"
                params.update(worker=worker, running=RUNNING, canceled=CANCELED)
            if not conn.execute(text(guard), params).rowcount:
                return False
            if not lines:
                return True
            kept = conn.execute(
                select(func.count()).select_from(run_logs).where(run_logs.c.run == run)
            ).scalar_one()
            rows = [
                {"run": run, "at": at, "line": bound_line(line)}
                for at, line in lines[: max(MAX_LINES - kept, 0)]
            ]
            if len(lines) > MAX_LINES - kept and kept <= MAX_LINES:
                rows.append({"run": run, "at": lines[len(rows)][0], "line": LOG_CUT})
            if rows:
                conn.execute(insert(run_logs), rows)
            return True

    def read(self, run: str, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """The lines of ``run`` with ``seq > after``, oldest first, at most ``limit``."""
        query = (
            select(run_logs.c.seq, run_logs.c.at, run_logs.c.line)
            .where((run_logs.c.run == run) & (run_logs.c.seq > after))
            .order_by(run_logs.c.seq)
            .limit(min(max(limit, 1), MAX_READ))
        )
        with self.engine.connect() as conn:
            return [LogLine(seq, at, line) for seq, at, line in conn.execute(query)]
