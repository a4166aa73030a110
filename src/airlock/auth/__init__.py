"""Registry authentication: scopes, identities, scope maps, tokens, JWTs and the access check.

The registry imports only the access check (``airlock.auth.access``); issuing tokens is the
token endpoint's job, which the server mounts on each registry's listener.
"""
