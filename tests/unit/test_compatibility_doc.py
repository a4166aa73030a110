"""docs/compatibility.md lists every corpus file with what `acr task validate` says of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.runner.support import check_task
from airlock.tasks.compatibility import table

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "acr-tasks"
DOCS = ROOT / "docs" / "compatibility.md"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"task corpus not found at {CORPUS}")
def test_compatibility_table_is_current() -> None:
    expected = table(CORPUS, check_task)
    assert DOCS.read_text(encoding="utf-8") == expected, (
        "docs/compatibility.md is out of date; run '.venv/bin/python scripts/gen_compatibility.py'"
    )
    names = {p.name for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml")}
    assert all(f"`{name}`" in expected for name in names)
    # Every refusal is located: file:line:column.
    for line in expected.splitlines():
        if "refused:" in line:
            assert line.count(":") >= 4, line
