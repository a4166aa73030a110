"""``airlock server``: one process serving the REST API and every registry."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from airlock.server import apigate
from airlock.server.api import build_api
from airlock.server.home import prepare_home
from airlock.server.http import HttpServer
from airlock.server.http.limits import api_max_body
from airlock.server.listeners import HOST, RegistryListeners
from airlock.server.owner import ensure_owner
from airlock.server.services import Services
from airlock.server.workers import pool_size, recover_stale_runs, start_pool
from airlock.triggers.commit_poller import poll_commits, poll_interval
from airlock.triggers.external import ExternalImagePoller, poll_external_images
from airlock.triggers.external import poll_interval as external_poll_interval
from airlock.triggers.images import ImageTriggers, run_image_triggers
from airlock.triggers.timer_service import run_timers
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
        # Before anything opens the state: the folder private, and every file created 0600.
        prepare_home(home)
    except OSError as exc:
        log.error("%s", exc)
        return 1
    try:
        return asyncio.run(_serve(port, home))
    except KeyboardInterrupt:
        return 130


async def _serve(port: int, home: Path) -> int:
    try:  # the limits from the environment, checked before the state is opened
        http = HttpServer()
        max_body = api_max_body()
        apigate.parse_allowed_hosts(os.environ.get(apigate.ALLOWED_HOSTS_ENV, ""))
        workers = pool_size()
        commit_poll_every = poll_interval()
        external_poll_every = external_poll_interval()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    services = Services.open(home)
    listeners = RegistryListeners(http, services)
    try:
        await http.add_listener(
            build_api(services, listeners),
            HOST,
            port,
            name="api",
            max_body_size=max_body,
            error_body=apigate.error_body,
        )
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", HOST, port, exc)
        services.close()
        return 1
    # The owner's session file names this address: written once the API listens on it.
    ensure_owner(services, f"http://{HOST}:{port}")
    services.runner.server_url = f"http://{HOST}:{port}"
    await listeners.start_all()
    # Container instances whose container is gone (a reboot, a crash) are started again.
    revival = asyncio.create_task(services.instance_deployer.revive())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    purger = asyncio.create_task(_purge_stale_uploads(services))
    recovery = asyncio.create_task(recover_stale_runs(services))
    timers = asyncio.create_task(run_timers(services))
    image_triggers = asyncio.create_task(
        run_image_triggers(image_triggers_of(services), services.bus)
    )
    external_images = asyncio.create_task(
        poll_external_images(
            image_triggers_of(services),
            ExternalImagePoller(services.engine, services.registries, interval=external_poll_every),
            every=min(external_poll_every, 5.0),
        )
    )
    pool = start_pool(services, loop, workers)
    commit_poller = asyncio.create_task(poll_commits(services, commit_poll_every))
    log.info("Airlock server listening on http://%s:%s (state in %s)", HOST, port, home)
    await stop.wait()
    log.info("shutting down: finishing requests in flight")
    purger.cancel()
    recovery.cancel()
    timers.cancel()
    revival.cancel()
    commit_poller.cancel()
    image_triggers.cancel()
    external_images.cancel()
    # The pool's threads report through this loop: stopped from another thread.
    await asyncio.to_thread(pool.stop)
    await http.shutdown(grace=10.0)
    await services.instance_deployer.close()
    services.close()
    log.info("stopped")
    return 0


def image_triggers_of(services: Services) -> ImageTriggers:
    return ImageTriggers(
        engine=services.engine,
        registries=services.registries,
        tasks=services.tasks,
        runs=services.runs,
        runner=services.runner,
        settings=services.trigger_settings,
        firings=services.firings,
        base_images=services.base_images,
    )


async def _purge_stale_uploads(services: Services) -> None:
    """Every ten minutes, forget uploads idle for $AIRLOCK_UPLOAD_IDLE_HOURS (default 24)."""
    max_idle = float(os.environ.get("AIRLOCK_UPLOAD_IDLE_HOURS", "24")) * 3600
    while True:
        await asyncio.sleep(600)
        purged = services.registry_context.uploads.purge_stale(max_idle)
        if purged:
            log.info("purged %d upload(s) idle for more than %.0f h", len(purged), max_idle / 3600)
