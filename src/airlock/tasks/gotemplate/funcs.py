"""Go's template builtins and Sprig v2's functions that do no I/O and draw no random numbers.

Each function has Go's parameter types (``s`` string, ``i`` int, ``f`` float64, ``b`` bool,
``a`` interface{}, ``l`` []interface{}, ``d`` map[string]interface{}; the last is variadic
when :attr:`Func.variadic`), so a value of the wrong type is refused as Go refuses it.

This module assembles :data:`FUNCS` from one module a family (``funcs_builtins``,
``funcs_strings``, ``funcs_lists``...); :mod:`.funcs_common` holds what they share.
"""

from __future__ import annotations

from airlock.tasks.gotemplate import (
    funcs_builtins,
    funcs_conversion,
    funcs_crypto,
    funcs_defaults,
    funcs_dicts,
    funcs_encoding,
    funcs_lists,
    funcs_math,
    funcs_paths,
    funcs_reflection,
    funcs_regex,
    funcs_string_slices,
    funcs_strings,
    funcs_unavailable,
)
from airlock.tasks.gotemplate.funcs_common import (
    MAX_STRING,
    F,
    Func,
    FuncError,
    convert_arg,
    deep_equal,
    strval,
)
from airlock.tasks.gotemplate.funcs_unavailable import UNAVAILABLE

__all__ = [
    "FUNCS",
    "MAX_STRING",
    "UNAVAILABLE",
    "F",
    "Func",
    "FuncError",
    "convert_arg",
    "deep_equal",
    "strval",
]

FUNCS: dict[str, Func] = {
    **funcs_builtins.FUNCS,
    **funcs_strings.FUNCS,
    **funcs_regex.FUNCS,
    **funcs_string_slices.FUNCS,
    **funcs_conversion.FUNCS,
    **funcs_math.FUNCS,
    **funcs_defaults.FUNCS,
    **funcs_encoding.FUNCS,
    **funcs_crypto.FUNCS,
    **funcs_lists.FUNCS,
    **funcs_dicts.FUNCS,
    **funcs_reflection.FUNCS,
    **funcs_paths.FUNCS,
    **funcs_unavailable.FUNCS,
}
