"""Errors of the OCI client: one root with fields, and the mapping from registry answers.

Tree::

    ClientError                 (registry, repository, digest, status, errors)
    ├── AuthenticationError     401 after authenticating: wrong or missing credentials
    ├── AccessDeniedError       403: the identity may not do this
    ├── NotFoundError           manifest, blob or repository unknown
    ├── DigestMismatchError     content does not match its digest (or size)
    ├── RateLimitedError        429 after the retries
    ├── RegistryUnavailableError connection errors and 5xx after the retries
    └── ProtocolError           an answer the client cannot use

Messages name the registry and the user, never a password or token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.oci.errorcodes import CODES, WireError, parse_error_body

if TYPE_CHECKING:
    import httpx


class ClientError(Exception):
    def __init__(
        self,
        message: str,
        *,
        registry: str | None = None,
        repository: str | None = None,
        digest: str | None = None,
        status: int | None = None,
        errors: list[WireError] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.registry = registry
        self.repository = repository
        self.digest = digest
        self.status = status
        self.errors = errors or []

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


class AuthenticationError(ClientError):
    pass


class AccessDeniedError(ClientError):
    pass


class NotFoundError(ClientError):
    pass


class DigestMismatchError(ClientError):
    pass


class RateLimitedError(ClientError):
    pass


class RegistryUnavailableError(ClientError):
    pass


class ProtocolError(ClientError):
    pass


_BY_STATUS: dict[int, type[ClientError]] = {
    401: AuthenticationError,
    403: AccessDeniedError,
    404: NotFoundError,
    429: RateLimitedError,
}


def error_class(status: int, errors: list[WireError]) -> type[ClientError]:
    """The class for an answer: by status, else by the first known OCI code's status."""
    if any(e.code == "DIGEST_INVALID" for e in errors):
        return DigestMismatchError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return RegistryUnavailableError
    for error in errors:
        known = CODES.get(error.code)
        if known is not None and known.status in _BY_STATUS:
            return _BY_STATUS[known.status]
    return ProtocolError


def error_from_response(
    response: httpx.Response,
    *,
    registry: str,
    action: str,
    repository: str | None = None,
    digest: str | None = None,
    user: str | None = None,
) -> ClientError:
    """A ``ClientError`` for an unexpected answer; ``action`` says what was attempted."""
    body = b""
    try:
        body = response.read()[:65536]
    except Exception:  # a body that fails to arrive does not change what the status says
        body = b""
    errors = parse_error_body(body)
    cls = error_class(response.status_code, errors)
    detail = "; ".join(str(e) for e in errors) or f"HTTP {response.status_code}"
    message = f"{registry}: {action} failed: {detail}"
    if cls is AuthenticationError:
        who = f"user {user!r}" if user else "anonymous access"
        message = f"{registry}: {action} failed: {who} was not accepted ({detail})"
    return cls(
        message,
        registry=registry,
        repository=repository,
        digest=digest,
        status=response.status_code,
        errors=errors,
    )
