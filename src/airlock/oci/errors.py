"""Errors raised while parsing OCI values.

Tree::

    OciValueError
    ├── InvalidDigestError
    ├── UnsupportedDigestError
    ├── InvalidNameError
    ├── InvalidTagError
    ├── InvalidReferenceError
    └── InvalidManifestError
"""

from __future__ import annotations


class OciValueError(ValueError):
    """A value that does not follow the OCI grammar."""

    def __init__(self, message: str, value: str = "") -> None:
        super().__init__(message)
        self.value = value


class InvalidDigestError(OciValueError):
    pass


class UnsupportedDigestError(OciValueError):
    pass


class InvalidNameError(OciValueError):
    pass


class InvalidTagError(OciValueError):
    pass


class InvalidReferenceError(OciValueError):
    pass


class InvalidManifestError(OciValueError):
    pass
