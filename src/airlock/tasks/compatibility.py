"""The compatibility table of docs/compatibility.md: each real ACR task file of the corpus
(``shared/corpus/acr-tasks``), whether Airlock validates it or why it refuses it, and whether
this machine can run it (``runnable``: the runner's check, given by the caller because the
runner is a layer above this package)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airlock.tasks.errors import TaskFileError
from airlock.tasks.model import TaskFile
from airlock.tasks.validate import validate

HEADER = """# Compatibility with real ACR task files

Every file of the task corpus (`shared/corpus/acr-tasks`: task files from public
repositories) through `airlock acr task validate -f FILE`, without values: the steps it
would run in order, or the first reason it is refused, with file, line and column; then
whether Airlock can run it on this kind of machine, or the first step property or command
`acr task create` refuses (the same check). A file that runs may still need images, values or
registries it names. The table is generated (`.venv/bin/python scripts/gen_compatibility.py`)
and a test keeps it current.

| file | result | runs here |
|---|---|---|
"""


def table(corpus: Path, runnable: Callable[[TaskFile], None]) -> str:
    rows = []
    for path in sorted(p for p in corpus.iterdir() if p.suffix in (".yaml", ".yml")):
        runs = "-"
        try:
            result = validate(path.read_text(encoding="utf-8"), source=path.name)
        except TaskFileError as exc:
            outcome = f"refused: `{_cell(str(exc))}`"
        else:
            try:
                runnable(result.task)
                runs = "yes"
            except TaskFileError as exc:
                runs = f"no: `{_cell(str(exc))}`"
            order = ", ".join(f"`{step}`" for step in result.order)
            warnings = len(result.task.warnings)
            outcome = f"valid, {len(result.order)} step(s): {order}"
            if warnings:
                outcome += f" ({warnings} warning(s))"
        rows.append(f"| `{path.name}` | {outcome} | {runs} |")
    return HEADER + "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
