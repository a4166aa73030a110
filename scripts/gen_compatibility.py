#!/usr/bin/env python3
"""Write docs/compatibility.md from the task corpus (shared/corpus/acr-tasks beside the clone).

Run after changing the task loader: ``.venv/bin/python scripts/gen_compatibility.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from airlock.runner.support import check_task
from airlock.tasks.compatibility import table

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "acr-tasks"
DOCS = ROOT / "docs" / "compatibility.md"


def main() -> int:
    if not CORPUS.is_dir():
        print(f"the task corpus is not at {CORPUS}", file=sys.stderr)
        return 1
    DOCS.write_text(table(CORPUS, check_task), encoding="utf-8")
    print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
