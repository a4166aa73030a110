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
# graph/global-defaults-linux.go (Airlock runs these aliases itself: airlock.runner).
IMAGE_ALIASES = {
    "acr": "mcr.microsoft.com/acr/acr-cli:0.19",
    "az": "mcr.microsoft.com/acr/azure-cli:2ff604c",
    "bash": "mcr.microsoft.com/acr/bash:2ff604c",
    "curl": "mcr.microsoft.com/acr/curl:2ff604c",
    "cssc": "mcr.microsoft.com/acr/cssc:2ff604c",
}
# acr-builder expands aliases only when the file's version is at least this one, compared as
# strings (cmd/acb/commands/exec: `versionInUse >= "v1.1.0"`): a file without a version, or
# with v1.0.0, keeps `$Registry` as written.
ALIAS_VERSION = "v1.1.0"
PREDEFINED = {**RUN_ALIASES, **IMAGE_ALIASES}
ALIAS_NAME = re.compile(r"[A-Za-z0-9]+\Z")
_ALIAS_START = re.compile(r"alias\s*:")
_TOP_LEVEL = re.compile(r"[^\s:#-][^:]*:")


def find_version(text: str) -> str:
    """The file's ``version:`` as acr-builder's ``FindVersion`` reads it: the first line
    (comments and blank lines skipped) that starts with ``version`` and splits on ``:`` into
    ``version`` and a value; quotes trimmed. Empty when there is none."""
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.lstrip("'\"").startswith("version"):
            key, sep, value = line.partition(":")
            if sep and key.strip().strip("'\"") == "version":
                return value.strip().strip("'\"")
    return ""


def aliases_enabled(text: str) -> bool:
    return find_version(text) >= ALIAS_VERSION


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
