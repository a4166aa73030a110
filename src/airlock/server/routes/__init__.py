"""REST API routes, one module per resource family (docs/rest-api.md)."""
