"""The base images a Dockerfile builds on, as ACR's dependency scanner reports them.

For each ``FROM`` (after ``ARG`` substitution with the build's arguments): the image it names,
unless it names an earlier stage (then that stage's base) or ``scratch``. The last stage's base
is the **runtime** dependency; every other external base is **buildtime**. Base-image triggers
watch these references (``airlock.triggers``, coming with the triggers work).

Only what decides the bases is read: line continuations, comments, the ``escape`` directive's
default, ``ARG`` before and between stages, and ``FROM [--platform=...] image [AS name]``.
Variables are expanded as the Dockerfile reference says: ``$X``, ``${X}``, ``${X:-default}``
and ``${X:+alternative}``, from the build arguments over the ``ARG`` defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from airlock.oci.errors import OciValueError
from airlock.oci.reference import Reference

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-+])(?P<word>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
SCRATCH = "scratch"


@dataclass(frozen=True)
class BaseImages:
    runtime: str | None  # the final stage's base, as written after substitution
    buildtime: tuple[str, ...]  # the other stages' external bases, in file order

    def all(self) -> tuple[str, ...]:
        return ((self.runtime,) if self.runtime else ()) + self.buildtime


def expand(text: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        value = variables.get(name)
        op = match.group("op")
        if op == "-":
            return value if value else match.group("word")
        if op == "+":
            return match.group("word") if value else ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line; continuations joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            keyword, _, arguments = whole.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    if pending.strip():
        keyword, _, arguments = pending.strip().partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    return found


def base_images(text: str, build_args: Mapping[str, str]) -> BaseImages:
    """The runtime and buildtime bases of a Dockerfile built with ``build_args``."""
    global_args: dict[str, str] = {}
    stages: dict[str, str | None] = {}  # stage name -> its external base (None: scratch)
    bases: list[str | None] = []  # each stage's external base, in order
    seen_from = False
    for keyword, arguments in instructions(text):
        if keyword == "ARG" and not seen_from:
            for declaration in arguments.split():
                name, has_default, default = declaration.partition("=")
                value = build_args.get(name, default.strip("\"'") if has_default else "")
                global_args[name] = value
        if keyword != "FROM":
            continue
        seen_from = True
        words = [w for w in arguments.split() if not w.startswith("--platform")]
        if not words:
            continue
        image = expand(words[0], global_args)
        base: str | None
        if image.lower() in stages:
            base = stages[image.lower()]  # an earlier stage: its own base
        elif image.lower() == SCRATCH or not image:
            base = None
        else:
            base = image
        bases.append(base)
        if len(words) >= 3 and words[1].lower() == "as":
            stages[words[2].lower()] = base
    if not bases:
        return BaseImages(None, ())
    runtime = bases[-1]
    buildtime = tuple(dict.fromkeys(b for b in bases[:-1] if b is not None and b != runtime))
    return BaseImages(runtime, buildtime)


def normalised(image: str) -> Reference | None:
    """The reference a base names, as registries store it; None when it is not one."""
    try:
        return Reference.parse(image)
    except OciValueError:
        return None
