"""Airlock: self-hosted private OCI registries, gated imports and ACR-style tasks."""

__version__ = "0.1.0"
