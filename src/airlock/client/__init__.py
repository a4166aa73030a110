"""The OCI client every part of Airlock uses to talk to a registry.

``RegistryClient`` speaks the Distribution API of one registry (auth flow in ``auth``,
retries in ``retry``), ``copy_image`` copies images and indexes between two clients, and
``Credentials`` come from the caller or the user's podman/docker auth files.
"""

from airlock.client.copy import CopyResult, copy_image
from airlock.client.credentials import Credentials
from airlock.client.errors import (
    AccessDeniedError,
    AuthenticationError,
    ClientError,
    DigestMismatchError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryUnavailableError,
)
from airlock.client.progress import ProgressEvent
from airlock.client.registry import RegistryClient
from airlock.client.retry import RetryPolicy

__all__ = [
    "AccessDeniedError",
    "AuthenticationError",
    "ClientError",
    "CopyResult",
    "Credentials",
    "DigestMismatchError",
    "NotFoundError",
    "ProgressEvent",
    "ProtocolError",
    "RateLimitedError",
    "RegistryClient",
    "RegistryUnavailableError",
    "RetryPolicy",
    "copy_image",
]
