"""requirements/lock.txt pins exactly what pyproject.toml asks for, each pin with its hashes."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
FIX = "Run scripts/lock and commit requirements/lock.txt with pyproject.toml."
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
# pip-compile's "# via" names the project itself for what pyproject.toml asks for directly,
# e.g. "airlock (pyproject.toml)" or "airlock (pyproject.toml::build-system.requires)".
DIRECT = ("airlock (pyproject.toml", "-r ")


@dataclass
class Pin:
    version: str | None  # None when the lock line is not an exact == pin
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)

    @property
    def direct(self) -> bool:
        return any(source.startswith(DIRECT) for source in self.via)


def parse_lock(text: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        if line and not raw[0].isspace() and not line.startswith("#"):
            requirement = Requirement(line.removesuffix("\\").strip())
            specs = list(requirement.specifier)
            exact = len(specs) == 1 and specs[0].operator == "=="
            current = Pin(specs[0].version if exact else None)
            pins[canonicalize_name(requirement.name)] = current
            in_via = False
        elif current is None:
            continue
        elif line.startswith("--hash="):
            current.hashes.append(line.removeprefix("--hash=").removesuffix("\\").strip())
        elif line.startswith("# via"):
            source = line.removeprefix("# via").strip()
            in_via = not source
            if source:
                current.via.append(source)
        elif in_via and line.startswith("#   "):
            current.via.append(line.removeprefix("#").strip())
        else:
            in_via = False
    return pins


def asked_for(pyproject: dict[str, Any]) -> list[Requirement]:
    """The runtime dependencies, the dev extra and the build backend: what bootstrap installs."""
    project = pyproject["project"]
    lines = [
        *project.get("dependencies", []),
        *project.get("optional-dependencies", {}).get("dev", []),
        *pyproject.get("build-system", {}).get("requires", []),
    ]
    requirements = [Requirement(line) for line in lines]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": "dev"})]


def lock_problems(pyproject: dict[str, Any], lock_text: str) -> list[str]:
    pins = parse_lock(lock_text)
    problems: list[str] = []
    asked: set[str] = set()
    for requirement in asked_for(pyproject):
        name = canonicalize_name(requirement.name)
        asked.add(name)
        pin = pins.get(name)
        if pin is None:
            problems.append(f"pyproject.toml asks for {requirement}, which the lock does not pin")
        elif pin.version is not None and not requirement.specifier.contains(
            pin.version, prereleases=True
        ):
            problems.append(f"{name}=={pin.version} in the lock does not satisfy {requirement}")
        elif not pin.direct:
            problems.append(
                f"pyproject.toml asks for {requirement}; the lock has {name} only as a "
                "dependency of other packages"
            )
    for name, pin in sorted(pins.items()):
        if pin.version is None:
            problems.append(f"{name} is not pinned with == in the lock")
        if not any(SHA256.fullmatch(digest) for digest in pin.hashes):
            problems.append(f"{name} has no --hash=sha256: in the lock")
        if pin.direct and name not in asked:
            problems.append(
                f"{name} is in the lock for pyproject.toml, which no longer asks for it"
            )
    return problems


def test_lock_matches_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert LOCK.is_file(), f"{LOCK.relative_to(ROOT)} is missing. {FIX}"
    problems = lock_problems(pyproject, LOCK.read_text())
    assert not problems, (
        "requirements/lock.txt does not match pyproject.toml:\n"
        + "".join(f"  - {problem}\n" for problem in problems)
        + FIX
    )


def test_lock_pins_the_packages_the_tools_import() -> None:
    pins = parse_lock(LOCK.read_text())
    for name in ("httpx", "starlette", "sqlalchemy", "pytest", "mypy", "ruff", "setuptools"):
        assert pins[name].version, name
        assert len(pins[name].hashes) >= 1, name


HASH = "    --hash=sha256:" + "0" * 64
PYPROJECT: dict[str, Any] = {
    "build-system": {"requires": ["setuptools>=77"]},
    "project": {
        "dependencies": ["httpx>=0.27,<0.29"],
        "optional-dependencies": {"dev": ["pytest>=8"]},
    },
}


def lock(*entries: tuple[str, str]) -> str:
    """A lock in pip-compile's layout from (requirement, via) pairs."""
    lines = ["#", "# This file is autogenerated by pip-compile with Python 3.11", "#"]
    for requirement, via in entries:
        lines += [f"{requirement} \\", HASH]
        sources = via.split(",")
        if len(sources) == 1:
            lines.append(f"    # via {via}")
        else:
            lines += ["    # via", *(f"    #   {source}" for source in sources)]
    return "\n".join(lines) + "\n"


GOOD = [
    ("anyio==4.16.0", "httpx"),
    ("httpx==0.28.1", "airlock (pyproject.toml)"),
    ("pytest==9.2.0", "airlock (pyproject.toml)"),
    ("setuptools==84.2.1", "airlock (pyproject.toml::build-system.requires)"),
]


def test_a_matching_lock_has_no_problems() -> None:
    assert lock_problems(PYPROJECT, lock(*GOOD)) == []


def test_several_sources_are_read_from_the_via_block() -> None:
    pins = parse_lock(lock(("sqlalchemy==2.1.9", "airlock (pyproject.toml),alembic")))
    assert pins["sqlalchemy"].via == ["airlock (pyproject.toml)", "alembic"]
    assert pins["sqlalchemy"].direct


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (GOOD[:1] + GOOD[2:], "pyproject.toml asks for httpx<0.29,>=0.27, which the lock does not"),
        (
            [GOOD[0], ("httpx==0.29.0", "airlock (pyproject.toml)"), *GOOD[2:]],
            "httpx==0.29.0 in the lock does not satisfy httpx<0.29,>=0.27",
        ),
        ([GOOD[0], ("httpx>=0.27", "airlock (pyproject.toml)"), *GOOD[2:]], "httpx is not pinned"),
        ([*GOOD, ("jmespath==1.1.0", "airlock (pyproject.toml)")], "jmespath is in the lock for"),
        ([GOOD[0], ("httpx==0.28.1", "respx"), *GOOD[2:]], "the lock has httpx only as a"),
    ],
)
def test_a_stale_lock_is_reported(entries: list[tuple[str, str]], problem: str) -> None:
    problems = lock_problems(PYPROJECT, lock(*entries))
    assert any(problem in p for p in problems), problems


def test_a_pin_without_a_hash_is_reported() -> None:
    text = lock(*GOOD).replace(f"pytest==9.2.0 \\\n{HASH}\n", "pytest==9.2.0\n")
    assert lock_problems(PYPROJECT, text) == ["pytest has no --hash=sha256: in the lock"]
