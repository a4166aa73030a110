"""``--git-access-token``: a value that never shows in clear.

A ``GitAccessToken`` registers itself (and the HTTP header made of it) with the process-wide
secret masker as soon as it exists, and prints as ``GitAccessToken(***)``. It is stored only
sealed, by the task store (``airlock.runs.tasks``), which hands it to the runner. Git
receives it through environment variables scoped to the one context URL (see
``airlock.runner.git``), never in argv or in a file.
"""

from __future__ import annotations

import base64

from airlock.runner.errors import ContextError
from airlock.vault.masking import MASKER, MIN_LENGTH

MAX_LENGTH = 4096
# The user name git servers expect with a token as the password: GitHub documents
# x-access-token; GitLab, Gitea and Azure DevOps accept any user name with a token.
BASIC_USER = "x-access-token"


class GitAccessToken:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ContextError(
                "--git-access-token is empty; pass the token the git server gave you, "
                "or leave the option out for a public repository"
            )
        if len(value) < MIN_LENGTH or len(value) > MAX_LENGTH:
            raise ContextError(
                f"--git-access-token must be {MIN_LENGTH} to {MAX_LENGTH} characters long; "
                "pass the whole token the git server gave you"
            )
        if not value.isprintable() or any(c.isspace() for c in value):
            raise ContextError(
                "--git-access-token holds a space or a control character; "
                "pass the token alone, without quotes, spaces or a newline"
            )
        self._value = value
        MASKER.add(value)
        MASKER.add(self.basic_credentials())

    def reveal(self) -> str:
        """The token in clear: for git's environment only."""
        return self._value

    def basic_credentials(self) -> str:
        """``base64(user:token)``, the value of an ``Authorization: Basic`` header."""
        raw = f"{BASIC_USER}:{self._value}".encode()
        return base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return "GitAccessToken(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GitAccessToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def as_token(token: GitAccessToken | str | None) -> GitAccessToken | None:
    if token is None or isinstance(token, GitAccessToken):
        return token
    return GitAccessToken(token)
