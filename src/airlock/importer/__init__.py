"""``airlock acr import``: copy images into a registry, from this server or from outside.

Modules: ``sources`` (what to copy, where to), ``guard`` (which hosts may be a source),
``graph`` (a manifest with everything it references), ``local`` (zero-copy links inside
this server), ``remote`` (verified downloads), ``jobs`` (background jobs), ``service``.
"""
