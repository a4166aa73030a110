"""The OCI Distribution v2 registry: content store, uploads, events and the HTTP API."""
