"""``airlock server``: one process serving the REST API and every registry."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from airlock.server.api import build_api
from airlock.server.http import HttpServer
from airlock.server.listeners import HOST, RegistryListeners
from airlock.server.services import Services
from airlock.vault import masking

log = logging.getLogger("airlock.server")


def run(port: int, home: Path) -> int:
    """Serve until SIGINT or SIGTERM; returns the process exit code."""
    logging.basicConfig(
        level=os.environ.get("AIRLOCK_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Before anything can log: every handler masks the secret values resolved from now on.
    masking.install()
    try:
        return asyncio.run(_serve(port, home))
    except KeyboardInterrupt:
        return 130


async def _serve(port: int, home: Path) -> int:
    services = Services.open(home)
    http = HttpServer()
    listeners = RegistryListeners(http, services)
    try:
        await http.add_listener(build_api(services, listeners), HOST, port, name="api")
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", HOST, port, exc)
        services.close()
        return 1
    await listeners.start_all()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    purger = asyncio.create_task(_purge_stale_uploads(services))
    log.info("Airlock server listening on http://%s:%s (state in %s)", HOST, port, home)
    await stop.wait()
    log.info("shutting down: finishing requests in flight")
    purger.cancel()
    await http.shutdown(grace=10.0)
    services.close()
    log.info("stopped")
    return 0


async def _purge_stale_uploads(services: Services) -> None:
    """Every ten minutes, forget uploads idle for $AIRLOCK_UPLOAD_IDLE_HOURS (default 24)."""
    max_idle = float(os.environ.get("AIRLOCK_UPLOAD_IDLE_HOURS", "24")) * 3600
    while True:
        await asyncio.sleep(600)
        purged = services.registry_context.uploads.purge_stale(max_idle)
        if purged:
            log.info("purged %d upload(s) idle for more than %.0f h", len(purged), max_idle / 3600)
