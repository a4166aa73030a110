"""Where Airlock keeps things on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """The server's state folder: ``$AIRLOCK_HOME``, else ``~/.local/share/airlock``."""
    configured = os.environ.get("AIRLOCK_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "share" / "airlock"


def config_dir() -> Path:
    """The CLI's own folder (sign-ins): ``$AIRLOCK_CONFIG_DIR``, else
    ``$XDG_CONFIG_HOME/airlock``, else ``~/.config/airlock``."""
    configured = os.environ.get("AIRLOCK_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "airlock"
