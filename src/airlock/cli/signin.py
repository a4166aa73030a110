"""Which session the CLI presents to a server, and where ``airlock login`` keeps it.

In order:

1. the session stored by ``airlock login`` for the server's address, in
   ``$AIRLOCK_CONFIG_DIR`` (default ``~/.config/airlock``) ``/sessions.json``, mode 0600;
2. the owner's session, which the server writes to ``<$AIRLOCK_HOME>/owner-credentials.json``
   (mode 0600) for the Unix user who runs it, used only when that file names the same server
   address, so that the owner's session is never sent to another server.

Nothing else: a command without either fails with 401 and says to run ``airlock login``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airlock.common.files import write_private
from airlock.common.paths import config_dir, default_home

SESSIONS_FILE = "sessions.json"
OWNER_FILE = "owner-credentials.json"


def normalise(url: str) -> str:
    return url.rstrip("/").lower()


def sessions_path() -> Path:
    return config_dir() / SESSIONS_FILE


def stored_token(server_url: str) -> str | None:
    """The session 'airlock login' stored for the server, if any."""
    stored = _read(sessions_path()).get(normalise(server_url))
    if isinstance(stored, dict) and isinstance(stored.get("accessToken"), str):
        return str(stored["accessToken"])
    return None


def session_token(server_url: str) -> str | None:
    stored = stored_token(server_url)
    if stored is not None:
        return stored
    owner = _read(default_home() / OWNER_FILE)
    if normalise(str(owner.get("server", ""))) == normalise(server_url):
        token = owner.get("token")
        return token if isinstance(token, str) else None
    return None


def store_session(server_url: str, session: dict[str, Any]) -> Path:
    path = sessions_path()
    document = _read(path)
    document[normalise(server_url)] = session
    write_private(path, (json.dumps(document, indent=1) + "\n").encode())
    return path


def forget_session(server_url: str) -> bool:
    path = sessions_path()
    document = _read(path)
    if document.pop(normalise(server_url), None) is None:
        return False
    write_private(path, (json.dumps(document, indent=1) + "\n").encode())
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}
