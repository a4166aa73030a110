"""The I/O side of tasks (the pure side is ``airlock.tasks``).

Modules: ``contexts`` (parse a context, check it answers, fetch it into a run's folder),
``workspace`` (each run's private folder, removed afterwards), ``paths`` (``-f`` files and
folders that must stay inside the context), ``archives`` (safe copies and tarballs), ``git``
(git without prompts or the user's configuration), ``credentials`` (``--git-access-token``).
"""

from airlock.runner.archives import ContextLimits
from airlock.runner.contexts import (
    ContextKind,
    ContextSpec,
    check_reachable,
    head_commit,
    materialize,
    parse_context,
)
from airlock.runner.credentials import GitAccessToken
from airlock.runner.errors import (
    ContextAccessDeniedError,
    ContextError,
    ContextRefusedError,
    ContextUnreachableError,
)
from airlock.runner.paths import resolve_inside
from airlock.runner.workspace import RunWorkspace

__all__ = [
    "ContextAccessDeniedError",
    "ContextError",
    "ContextKind",
    "ContextLimits",
    "ContextRefusedError",
    "ContextSpec",
    "ContextUnreachableError",
    "GitAccessToken",
    "RunWorkspace",
    "check_reachable",
    "head_commit",
    "materialize",
    "parse_context",
    "resolve_inside",
]
