"""What ``airlock demo --keep`` leaves behind, written down so ``airlock demo --clean`` can
remove exactly that: the resource groups, the demo's folder, and the server if it started one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from airlock.common.files import write_private
from airlock.common.paths import config_dir


@dataclass
class DemoState:
    server_url: str
    folder: str
    groups: list[str] = field(default_factory=list)
    server_pid: int | None = None
    home: str | None = None


def state_file() -> Path:
    return config_dir() / "demo.json"


def save(state: DemoState) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, (json.dumps(asdict(state), indent=2) + "\n").encode())


def load() -> DemoState | None:
    try:
        raw = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    try:
        return DemoState(**raw)
    except TypeError:
        return None


def forget() -> None:
    state_file().unlink(missing_ok=True)
