"""Measure secret masking: registering a value, and masking a log chunk, against the old masker.

    .venv/bin/python benchmarks/masking.py [--quick] [--only register mask] [--json out.json]

The old masker (before issue 8, item 8) is reimplemented here as it was: every new value
recompiled one regular expression of every value, longest first. Both run in this process:

* register: the time of ``add`` for the 150th value of 20 KB (149 already there), and for
  the new masker also the first ``mask`` after it, which rebuilds its automaton;
* mask: the time to mask a 64 KB chunk of log lines (40 of which quote a value) with 10,
  1,000 and 10,000 registered values of 40 characters.

Times are medians of several rounds (fewer with --quick).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import string
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from airlock.vault.masking import MASK, MIN_LENGTH, SecretMasker  # noqa: E402
from report import benchmark_arguments, clear_deadline, render_table, set_deadline  # noqa: E402

STEPS = ("register", "mask")
ALPHABET = string.ascii_letters + string.digits
CHUNK = 64 * 1024


class OldRegexMasker:
    """The masker as it was: one regular expression of every value, rebuilt on every add."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def preload(self, values: Sequence[str]) -> None:
        """Every value of ``values`` but one compile (only to set the benchmark up fast)."""
        self._values.update(values[:-1])
        self.add(values[-1])

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)


def random_values(rng: random.Random, count: int, length: int) -> list[str]:
    return ["".join(rng.choices(ALPHABET, k=length)) for _ in range(count)]


def log_chunk(rng: random.Random, values: Sequence[str], quoted: int = 40) -> str:
    """About 64 KB of server log lines; ``quoted`` of them quote one of ``values``."""
    lines: list[str] = []
    size = 0
    n = 0
    while size < CHUNK - quoted * 50:  # room for the quoted values
        n += 1
        path = "/".join(rng.choices(["v2", "api", "blobs", "uploads", "vaults", "tags"], k=3))
        line = (
            f"2026-11-30 10:{n % 60:02d}:00,{n % 1000:03d} INFO airlock.server: "
            f'127.0.0.1 "GET /{path}/{rng.randrange(10**9):09d} HTTP/1.1" 200 {n * 37 % 9999}'
        )
        lines.append(line)
        size += len(line) + 1
    for i in range(quoted):
        at = (i * len(lines)) // quoted
        lines[at] += f" detail={values[(i * 7) % len(values)]}"
    return "\n".join(lines)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_register(rounds: int) -> dict[str, Any]:
    rng = random.Random(150)
    old_add: list[float] = []
    new_add: list[float] = []
    new_first_mask: list[float] = []
    for _ in range(rounds):
        values = random_values(rng, 150, 20 * 1024)
        old = OldRegexMasker()
        old.preload(values[:149])
        old_add.append(timed(partial(old.add, values[149])))
        new = SecretMasker()
        new.add_many(values[:149])
        new.mask("warm up: the automaton of the 149 values is built here")
        new_add.append(timed(partial(new.add, values[149])))
        line = f"a log line quoting {values[149]}"
        new_first_mask.append(timed(partial(new.mask, line)))
        assert new.mask(line) == old.mask(line) == f"a log line quoting {MASK}"
    return {
        "old_add_s": statistics.median(old_add),
        "new_add_s": statistics.median(new_add),
        "new_add_then_first_mask_s": statistics.median(new_add) + statistics.median(new_first_mask),
    }


def bench_mask(rounds: int) -> dict[str, Any]:
    rng = random.Random(64)
    found: dict[str, Any] = {}
    for count in (10, 1000, 10_000):
        values = random_values(rng, count, 40)
        chunk = log_chunk(rng, values)
        old = OldRegexMasker()
        old.preload(values)
        new = SecretMasker()
        new.add_many(values)
        same = old.mask(chunk) == new.mask(chunk)  # also builds the new masker's automaton
        found[str(count)] = {
            "old_s": statistics.median(timed(partial(old.mask, chunk)) for _ in range(rounds)),
            "new_s": statistics.median(timed(partial(new.mask, chunk)) for _ in range(rounds)),
            "same_output": same,
            "masked": new.mask(chunk).count(MASK),
            "chunk_bytes": len(chunk),
        }
    return found


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark secret masking, old against new.")
    benchmark_arguments(parser, STEPS, "one round of each measure", timeout=600)
    args = parser.parse_args(argv)
    steps = set(args.only or STEPS)
    set_deadline(args.timeout)
    results: dict[str, Any] = {}
    try:
        if "register" in steps:
            results["register"] = reg = bench_register(1 if args.quick else 3)
            print("register the 150th value of 20 KB (149 registered)")
            print(
                render_table(
                    ["masker", "add", "add + first mask"],
                    [
                        ["old (one regex, rebuilt)", ms(reg["old_add_s"]), "-"],
                        [
                            "new (anchor automaton)",
                            ms(reg["new_add_s"]),
                            ms(reg["new_add_then_first_mask_s"]),
                        ],
                    ],
                )
            )
            print()
        if "mask" in steps:
            results["mask"] = found = bench_mask(3 if args.quick else 15)
            print("mask a 64 KB log chunk (40 lines quote a value); values of 40 characters")
            body = [
                [
                    f"{count} values",
                    ms(row["old_s"]),
                    ms(row["new_s"]),
                    f"{row['masked']}",
                    "yes" if row["same_output"] else "NO",
                ]
                for count, row in found.items()
            ]
            print(render_table(["registered", "old", "new", "masks", "same output"], body))
    finally:
        clear_deadline()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
