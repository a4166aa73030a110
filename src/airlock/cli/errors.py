"""Errors the CLI reports as one ``ERROR: ...`` line, with az's exit codes."""

from __future__ import annotations

# az's exit codes: 1 for a generic failure, 2 for a usage error, 3 for a missing resource.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


class CLIError(Exception):
    """A failure to report to the user; ``str(exc)`` is the message."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(CLIError):
    """The server answered with an error document ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, EXIT_NOT_FOUND if status == 404 else EXIT_ERROR)
        self.status = status
        self.code = code
