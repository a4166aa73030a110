"""Go's ``text/template`` with Sprig's functions, as acr-builder renders task files.

:mod:`.lexer` and :mod:`.parser` follow Go's ``text/template/parse`` (Go 1.19); :mod:`.exec`
evaluates the tree over plain data (no methods, nothing callable from a template but the
functions in :mod:`.funcs`, none of which does I/O or draws random numbers).
"""

from airlock.tasks.gotemplate.errors import ExecError, ParseError, TemplateError
from airlock.tasks.gotemplate.exec import execute
from airlock.tasks.gotemplate.parser import parse

__all__ = ["ExecError", "ParseError", "TemplateError", "execute", "parse"]


def render(text: str, data: object, trace: object = None) -> str:
    """Parse and execute ``text`` as acr-builder does: ``missingkey=zero``, Sprig's functions,
    then every ``<no value>`` removed from the output."""
    from airlock.tasks.gotemplate.exec import Trace, to_data
    from airlock.tasks.gotemplate.funcs import FUNCS
    from airlock.tasks.gotemplate.values import valid_text

    tmpl = parse(text, FUNCS)
    out = execute(tmpl, text, to_data(data), trace if isinstance(trace, Trace) else None)
    return valid_text(out.replace("<no value>", ""))
