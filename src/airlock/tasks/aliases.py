"""ACR aliases (acr-builder ``graph/preprocessor.go``, ``graph/global-defaults-linux.yaml``).

``$Name`` in a task file is replaced before templating by the alias's value: the task's own
``alias.values`` first, then ACR's predefined ones (``$ID`` -> ``{{.Run.ID}}``, ...). ``$$``
writes one ``$``; a ``$`` not followed by a known alias name is left as it is (so shell text
such as ``$(date)`` or ``$HOME`` passes through). ``alias.directive`` can change ``$`` to
another single non-alphanumeric character. The ``alias:`` block itself is not expanded.

Image aliases (``bash``, ``az``, ``curl``, ``acr``, ``purge``) also apply without ``$`` to the
first word of a ``cmd`` step: :func:`resolve_image_alias` does that for the runner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

RUN_ALIASES = {
    name: f"{{{{.Run.{name}}}}}"
    for name in (
        "ID",
        "SharedVolume",
        "Registry",
        "RegistryName",
        "Date",
        "OS",
        "Architecture",
        "Commit",
        "Branch",
    )
}
IMAGE_ALIASES = {
    "purge": "mcr.microsoft.com/acr/acr-cli:0.1 purge",
    "acr": "mcr.microsoft.com/acr/acr-cli:0.1",
    "az": "mcr.microsoft.com/azure-cli",
    "bash": "mcr.microsoft.com/bash",
    "curl": "mcr.microsoft.com/curl",
}
PREDEFINED = {**RUN_ALIASES, **IMAGE_ALIASES}
ALIAS_NAME = re.compile(r"[A-Za-z0-9]+\Z")
_ALIAS_START = re.compile(r"alias\s*:")
_TOP_LEVEL = re.compile(r"[^\s:#-][^:]*:")


def split_alias_block(text: str) -> tuple[int, int]:
    """Line range ``[first, end)`` of the top-level ``alias:`` block (``(0, 0)`` if none)."""
    lines = text.split("\n")
    for first, line in enumerate(lines):
        if _ALIAS_START.match(line):
            end = first + 1
            while end < len(lines) and not _TOP_LEVEL.match(lines[end]):
                end += 1
            return first, end
    return 0, 0


def expand(text: str, aliases: Mapping[str, str], directive: str = "$") -> str:
    """Replace ``<directive>Name`` by its alias value (see the module docstring)."""
    pattern = re.compile(re.escape(directive) + r"(" + re.escape(directive) + r"|[A-Za-z0-9]+)")

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == directive:
            return directive
        return aliases.get(name, m.group(0))

    return pattern.sub(replace, text)


def resolve_image_alias(cmd: str, aliases: Mapping[str, str] = IMAGE_ALIASES) -> str:
    """``bash echo hi`` -> ``mcr.microsoft.com/bash echo hi`` (acr-builder ``processSteps``)."""
    first, _, rest = cmd.strip().partition(" ")
    image = aliases.get(first)
    if image is None:
        return cmd
    return f"{image} {rest}" if rest else image
