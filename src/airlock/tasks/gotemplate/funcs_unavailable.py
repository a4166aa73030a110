"""Sprig v2 functions Airlock refuses (date, random, OS, network, keys...): parsed, not run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airlock.tasks.gotemplate.funcs_common import F, Func, FuncError

# Sprig v2 functions that read the clock, the environment or the network, draw random numbers,
# or make keys: known names (Go parses them), refused when called.
UNAVAILABLE = (
    "date", "date_in_zone", "date_modify", "now", "htmlDate", "htmlDateInZone", "dateInZone",
    "dateModify", "ago", "toDate", "unixEpoch", "randAlphaNum", "randAlpha", "randAscii",
    "randNumeric", "shuffle", "env", "expandenv", "getHostByName", "genPrivateKey",
    "derivePassword", "buildCustomCert", "genCA", "genSelfSignedCert", "genSignedCert",
    "encryptAES", "decryptAES", "uuidv4", "semver", "semverCompare", "urlParse", "urlJoin",
    "swapcase", "snakecase", "camelcase", "kebabcase", "wrap", "wrapWith", "abbrevboth",
    "merge", "mergeOverwrite", "deepCopy",
)  # fmt: skip


def _unavailable(name: str) -> Callable[..., Any]:
    def refuse(*_: Any) -> Any:
        raise FuncError(f"{name} is not available in Airlock's templates")

    return refuse


FUNCS: dict[str, Func] = {name: F("a", _unavailable(name), True) for name in UNAVAILABLE}
