"""Task runs in the database: the queue workers claim from, and the record people read
(``airlock.runs.store``). The runner that executes them lives above, in ``airlock.runner``."""

from airlock.runs.store import Run, RunStore

__all__ = ["Run", "RunStore"]
