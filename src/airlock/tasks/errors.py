"""Errors of the task engine's pure part (loader, graph, templates).

Every error points at a place in a task file, so a user can fix it without guessing.

Tree::

    TaskError
    └── TaskFileError    a task file (or its template) is refused: source, line, column
"""

from __future__ import annotations


class TaskError(Exception):
    """Root of the task engine's errors."""


class TaskFileError(TaskError):
    """A task file is refused; ``str()`` is ``"<source>:<line>:<column>: <reason>"``."""

    def __init__(self, source: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {message}")
        self.source = source
        self.line = line
        self.column = column
        self.message = message
