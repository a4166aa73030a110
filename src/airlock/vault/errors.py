"""Errors of the key vault beyond the shared tree in ``airlock.errors``.

Tree::

    AirlockError
    ├── AccessDeniedError      403  a principal lacks a permission on a vault
    └── SecretUnreadableError  500  a sealed value does not open (another master key?)
"""

from __future__ import annotations

from airlock.errors import AirlockError


class AccessDeniedError(AirlockError):
    status = 403
    default_code = "Forbidden"


class SecretUnreadableError(AirlockError):
    status = 500
    default_code = "SecretUnreadable"
