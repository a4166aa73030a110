"""Template errors, located by line (and column for execution errors), as Go reports them."""

from __future__ import annotations


class TemplateError(Exception):
    """A template error at ``line`` (1-based), ``column`` (1-based, 0 when unknown) and offset
    ``pos`` in the template text (-1 when unknown)."""

    kind = "template"

    def __init__(self, message: str, line: int = 0, column: int = 0, pos: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.pos = pos


class ParseError(TemplateError):
    kind = "parse"


class ExecError(TemplateError):
    kind = "exec"
