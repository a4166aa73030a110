"""Errors of Airlock's management operations (registries, repositories, ...).

Each carries a stable ``code`` and the HTTP ``status`` the REST API answers with; the message
says what went wrong and what to do. The OCI wire errors are apart, in
``airlock.registry.errors``.

Tree::

    AirlockError
    ├── InvalidArgumentError   400
    ├── UnauthenticatedError   401
    ├── ForbiddenError         403
    ├── LockedError            403
    ├── NotFoundError          404
    └── ConflictError          409
"""

from __future__ import annotations


class AirlockError(Exception):
    status = 500
    default_code = "InternalError"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InvalidArgumentError(AirlockError):
    status = 400
    default_code = "InvalidArgument"


class UnauthenticatedError(AirlockError):
    """No credential, or one that is unknown, expired or revoked."""

    status = 401
    default_code = "Unauthorized"


class ForbiddenError(AirlockError):
    """A signed-in principal without a role (or access policy) that allows the action."""

    status = 403
    default_code = "AuthorizationFailed"


class TooManyRequestsError(AirlockError):
    status = 429
    default_code = "TooManyRequests"

    def __init__(self, message: str, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class LockedError(AirlockError):
    """A lock (a changeable attribute set to false) forbids the operation."""

    status = 403
    default_code = "Locked"


class NotFoundError(AirlockError):
    status = 404
    default_code = "NotFound"


class ConflictError(AirlockError):
    status = 409
    default_code = "AlreadyExists"
