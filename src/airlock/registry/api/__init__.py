"""The OCI Distribution v2 HTTP API of one registry, as an ASGI application."""

from airlock.registry.api.app import RegistryApp
from airlock.registry.api.call import RegistryContext

__all__ = ["RegistryApp", "RegistryContext"]
