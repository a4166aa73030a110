"""The state folder ($AIRLOCK_HOME) is private to the user running the server.

It holds the master key, the token signing key, the database (secrets sealed, but also
names, tokens' hashes, the audit log) and every blob pushed. ``prepare_home`` creates it 0700,
takes group and world access away from an existing one, and sets the process umask to 0o077
so that every file the server creates afterwards is 0600 and every folder 0700.

The umask, rather than a mode at each ``open``, because most of those files are created by
code that passes no mode: SQLite's ``-wal`` and ``-shm`` files, the blob store's temporary
and final files, Alembic, the standard library's ``tempfile`` users. The server is a single
process that owns its umask, so one setting covers them all, including the ones written
later. Child processes inherit it; podman gives containers its own umask (0022) and keeps the
modes recorded in image layers.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("airlock.server")

PRIVATE_UMASK = 0o077


def prepare_home(home: Path) -> None:
    """Create ``home`` 0700 (or make an existing one so) and set the umask to 0o077.

    Raises OSError with a message that names the folder when it cannot be made private.
    """
    os.umask(PRIVATE_UMASK)  # first: the folders mkdir creates below get 0700 too
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(home.stat().st_mode)
        if mode & 0o077:
            # Only the folder itself: 0700 on it already closes everything below, and the
            # podman image store under engine/ keeps modes that images need.
            log.warning(
                "state folder %s was open to other users (mode %03o); made it private (700)",
                home,
                mode,
            )
            home.chmod(0o700)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot make the state folder {home} private ({exc.strerror or exc}); "
            "check that it belongs to this user, or set AIRLOCK_HOME to another folder",
        ) from exc
