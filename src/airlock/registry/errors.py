"""Registry errors and the one table of OCI error codes.

Domain code raises ``RegistryError(code, message, detail)``; the HTTP layer answers with the
code's status and the spec's JSON body. The table lives in ``airlock.oci.errorcodes`` so that
the OCI client, below the registry, parses the same one.
"""

from __future__ import annotations

from typing import Any

from airlock.oci.errorcodes import CODES, ErrorCode

__all__ = ["CODES", "ErrorCode", "RegistryError"]


class RegistryError(Exception):
    """An error the registry answers with an OCI error body."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        detail: Any = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        entry = CODES[code]
        self.code = code
        self.message = message or entry.description
        self.detail = detail
        self.status = status or entry.status
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"errors": [error]}
