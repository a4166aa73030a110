#!/usr/bin/env python3
"""Write docs/cli.md, the CLI reference, from the ``airlock`` argparse parser.

Run after changing any command or option: ``.venv/bin/python scripts/gen_cli_docs.py``.
``--check`` exits 1 instead of writing when the file is out of date (for CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

from airlock.cli.main import build_parser
from airlock.cli.reference import render_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def main(argv: list[str]) -> int:
    text = render_markdown(build_parser())
    if "--check" in argv:
        current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
        if current != text:
            print(f"{DOCS} is out of date; run scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOCS.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
