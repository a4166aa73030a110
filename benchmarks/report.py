"""What the benchmark scripts share: the results table, server-log checks, a run deadline."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol


class LoggingServer(Protocol):
    def log(self) -> str: ...


def benchmark_arguments(
    parser: argparse.ArgumentParser, steps: Sequence[str], quick_help: str, timeout: int
) -> None:
    """The options every benchmark script takes: --quick, --only, --json, --timeout."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=steps,
        metavar="NAME",
        help=f"run only these steps: {', '.join(steps)}",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument(
        "--timeout",
        type=int,
        default=timeout,
        help=f"stop the whole run after this many seconds (default {timeout})",
    )


def render_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """The first column left-aligned, the others right-aligned, under a dashed rule."""
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: Sequence[str]) -> str:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in body)])


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def server_log_summary(server: LoggingServer) -> dict[str, Any]:
    """Count what went wrong in a server log: 5xx statuses, tracebacks, errors."""
    lines = server.log().splitlines()
    bad = [line for line in lines if '" 5' in line or "Traceback" in line or " ERROR " in line]
    return {"lines": len(lines), "problems": len(bad), "first_problems": bad[:5]}


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("benchmark exceeded --timeout")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def set_deadline(seconds: int) -> None:
    """Stop the run by itself after ``seconds``, and clean up on SIGTERM as on Ctrl-C."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _terminate)
    signal.alarm(seconds)


def clear_deadline() -> None:
    signal.alarm(0)
