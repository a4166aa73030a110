"""The ``airlock`` command line: an ``az acr``-shaped thin client of the REST API.

Modules: ``main`` (parser assembly and dispatch), ``errors``, ``options`` (global options, argument
types), ``api`` (REST client), ``output`` and ``tables`` (formatting and ``--query``), one module
per command group (``acr``, ``repository``, ``server``) and ``reference`` (the Markdown
reference generated from the parser).
"""
