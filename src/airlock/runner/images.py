"""The images behind ACR's built-in aliases, available offline.

ACR maps ``bash``, ``curl``, ``az`` and ``acr`` at the start of a ``cmd`` to images on
mcr.microsoft.com. A machine running Airlock may have no route to any public registry, so:

- ``bash`` runs ``$AIRLOCK_IMAGE_BASH`` when set, else ``localhost/airlock/bash:1``, built at
  first use from this machine's ``/bin/busybox`` (Debian's busybox-static). Its ``bash`` is
  busybox's ``ash``, a POSIX shell with bash's common extensions; like the
  ``mcr.microsoft.com/acr/bash`` image, its entrypoint runs ``bash`` when the first word is
  an option (``bash -c '...'``) and the command as given otherwise (``bash echo hi``).
- ``curl`` runs ``$AIRLOCK_IMAGE_CURL``; there is no default (busybox has no curl), and a
  step that needs it fails saying which setting to give.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from airlock.engine.containers import ContainerEngine
from airlock.runner.errors import StepError

BUSYBOX = Path("/bin/busybox")
BASH_IMAGE = "localhost/airlock/bash:1"
_ENTRYPOINT = """#!/bin/sh
# As the bash image's docker-entrypoint.sh: an option first means "bash <options>".
if [ "${1#-}" != "$1" ]; then
  set -- bash "$@"
fi
exec "$@"
"""
_BASH = '#!/bin/sh\nexec /bin/sh "$@"\n'
_CONTAINERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY bash /bin/bash
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/root", "/usr/bin"]
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["bash"]
"""
_lock = threading.Lock()


def alias_image(alias: str, engine: ContainerEngine) -> str:
    """The image an alias runs, built first if it is Airlock's own."""
    if alias == "bash":
        configured = os.environ.get("AIRLOCK_IMAGE_BASH")
        return configured or ensure_bash_image(engine)
    if alias == "curl":
        configured = os.environ.get("AIRLOCK_IMAGE_CURL")
        if not configured:
            raise StepError(
                "the curl alias needs an image with curl: set AIRLOCK_IMAGE_CURL on the "
                "worker to one in a registry it can reach (this machine has none offline)"
            )
        return configured
    raise StepError(f"no image for the alias {alias!r}")


def ensure_bash_image(engine: ContainerEngine) -> str:
    with _lock:
        if engine.capture(["image", "exists", BASH_IMAGE]).ok:
            return BASH_IMAGE
        if not BUSYBOX.is_file():
            raise StepError(
                f"the bash alias needs {BUSYBOX} to build its image; install busybox-static "
                "(scripts/bootstrap does) or set AIRLOCK_IMAGE_BASH"
            )
        with tempfile.TemporaryDirectory(prefix="airlock-bash-image-") as folder:
            context = Path(folder)
            shutil.copy2(BUSYBOX, context / "busybox")
            for name, text in (("bash", _BASH), ("entrypoint.sh", _ENTRYPOINT)):
                (context / name).write_text(text)
                (context / name).chmod(0o755)
            (context / "Containerfile").write_text(_CONTAINERFILE)
            built = engine.capture(
                ["build", "--quiet", "--network", "none", "--tag", BASH_IMAGE, str(context)],
                timeout=300,
            )
        if not built.ok:
            raise StepError(f"could not build the bash alias image: {built.reason()}")
        return BASH_IMAGE
