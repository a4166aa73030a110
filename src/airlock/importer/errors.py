"""Errors of imports, answered by the REST API with their status and code.

Tree::

    AirlockError                  (airlock.errors)
    ├── ImportRefusedError   403  the source is outside the allowed registries (SSRF guard)
    └── ImportFailedError    4xx/5xx  the source answered with an error (auth, missing image,
                                   rate limit, a blob that does not match its digest, ...)
"""

from __future__ import annotations

from airlock.errors import AirlockError


class ImportRefusedError(AirlockError):
    status = 403
    default_code = "ImportSourceNotAllowed"


class ImportFailedError(AirlockError):
    """Carries the status of the failure it reports (a 404 for a missing image, ...)."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message, code)
        self.status = status
