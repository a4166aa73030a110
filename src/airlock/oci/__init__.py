"""OCI value types: digests, names, references, media types and manifests. No I/O here."""
