"""Errors of a run's context, answered by the REST API with status 400 and their code.

Tree::

    InvalidArgumentError           (airlock.errors)
    └── ContextError               InvalidContext: the context text or a path in it is wrong
        ├── ContextUnreachableError  ContextUnreachable: the source did not answer, or has
        │                            no such repository, branch or file
        ├── ContextAccessDeniedError ContextAccessDenied: the source refused the credentials
        └── ContextRefusedError      ContextRefused: the content is unsafe (a path out of the
                                     context, a device file, a size over the limit)

Every message names the context (never a token: a token is refused inside a URL and masked
everywhere else), what went wrong and what to do.
"""

from __future__ import annotations

from airlock.errors import InvalidArgumentError


class ContextError(InvalidArgumentError):
    default_code = "InvalidContext"


class ContextUnreachableError(ContextError):
    default_code = "ContextUnreachable"


class ContextAccessDeniedError(ContextError):
    default_code = "ContextAccessDenied"


class ContextRefusedError(ContextError):
    default_code = "ContextRefused"


class StepError(InvalidArgumentError):
    """A step asks for something Airlock does not do (an option, a path out of the context,
    a network or port outside the run): refused before or when the step runs."""

    default_code = "InvalidStep"
