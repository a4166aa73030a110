"""Sprig's path functions (base, dir, clean, ext, isAbs), Go's path package."""

from __future__ import annotations

from airlock.tasks.gotemplate.funcs_common import F, Func


def _path_clean(p: str) -> str:
    """Go's ``path.Clean``."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def _path_dir(p: str) -> str:
    return _path_clean(p[: p.rfind("/") + 1])


def _path_ext(p: str) -> str:
    for i in range(len(p) - 1, -1, -1):
        if p[i] == "/":
            break
        if p[i] == ".":
            return p[i:]
    return ""


FUNCS: dict[str, Func] = {
    "base": F("s", _path_base),
    "dir": F("s", _path_dir),
    "clean": F("s", _path_clean),
    "ext": F("s", _path_ext),
    "isAbs": F("s", lambda p: p.startswith("/")),
}
