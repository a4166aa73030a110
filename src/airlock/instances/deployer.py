"""Running instances on the engine: pull, run on the instance's loopback address, replace in
place, restart, logs, remove.

Each instance has a folder of its own under ``home/instances/<id>`` holding the auth file its
registry login goes to (never the engine's global one). Replacement: the new image is pulled
and its container created (nothing bound yet) while the old one serves; then the old one is
removed and the new one started on the same address and ports, and the ports are checked
with a TCP connect. The page is unreachable only between those two (``swap_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from airlock.engine.config import engine_env
from airlock.engine.containers import ContainerEngine
from airlock.engine.errors import EngineError
from airlock.instances.model import RESTART_POLICIES, Instance, Port
from airlock.instances.store import InstanceStore

log = logging.getLogger("airlock.instances")
LABEL = "airlock.instance"
_ANSWER_TIMEOUT = 30.0
_PULL_TIMEOUT = 600.0


class InstanceDeployer:
    """Engine work runs in threads; the records are read and written on the event loop only
    (the database connection belongs to it, see ``airlock.db.engine``)."""

    def __init__(self, home: Path, store: InstanceStore) -> None:
        self.home = home
        self.store = store
        self._locks: dict[str, asyncio.Lock] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        self.swap_seconds: float | None = None  # how long the last replacement left no server

    # --- what the routes call (on the event loop) ---------------------------------------

    def in_background(self, record: Instance, job: Callable[[Instance], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._serialised(record, job))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def deploy(self, record: Instance) -> None:
        """Pull the image and run it, replacing the instance's current container if any."""
        try:
            name, ports, digest = await asyncio.to_thread(self._prepare, record)
            await asyncio.to_thread(self._swap, record, name, ports)
        except EngineError as exc:
            log.warning("instance %s: %s", record.name, exc)
            self.store.set_state(
                record.id, state="Failed", provisioning_state="Failed", message=str(exc)
            )
            return
        current = self.store.find(record.resource_group, record.name)
        if current is None or current.id != record.id:  # deleted meanwhile
            await asyncio.to_thread(self._remove_named, record, name)
            return
        self.store.save(
            replace(
                current,
                ports=ports,
                digest=digest,
                container=name,
                state="Running",
                provisioning_state="Succeeded",
                message=None,
            )
        )

    async def restart(self, record: Instance) -> None:
        restarted = bool(record.container) and await asyncio.to_thread(self._restart, record)
        if restarted:
            self.store.set_state(record.id, state="Running", message=None)
            return
        await self.deploy(record)

    async def remove(self, record: Instance) -> None:
        await asyncio.to_thread(self._remove_containers, record)
        await asyncio.to_thread(shutil.rmtree, self._folder(record), True)

    async def revive(self) -> list[str]:
        """Start again every instance whose container is gone (after a reboot, or a crash);
        returns their names."""
        revived = []
        for record in self.store.all():
            if record.provisioning_state == "Creating" or not await asyncio.to_thread(
                self._running, record
            ):
                self.store.set_state(record.id, provisioning_state="Creating")
                self.in_background(record, self.deploy)
                revived.append(record.name)
        return revived

    def logs(self, record: Instance, tail: int | None = None) -> str:
        """The container's output (blocking: call it from a thread)."""
        if not record.container:
            return ""
        args = ["logs"] + (["--tail", str(tail)] if tail else []) + [record.container]
        found = self._engine(record).capture(args)
        return found.stdout + found.stderr if found.ok else ""

    # --- the parts (in threads, no database) --------------------------------------------

    async def _serialised(
        self, record: Instance, job: Callable[[Instance], Awaitable[None]]
    ) -> None:
        lock = self._locks.setdefault(record.id, asyncio.Lock())
        async with lock:
            try:
                fresh = self.store.find(record.resource_group, record.name)
                await job(fresh if fresh is not None and fresh.id == record.id else record)
            except Exception:  # a background job must leave a state, whatever went wrong
                log.exception("instance %s: background job failed", record.name)
                with contextlib.suppress(Exception):
                    self.store.set_state(record.id, state="Failed", provisioning_state="Failed")

    def _prepare(self, record: Instance) -> tuple[str, tuple[Port, ...], str | None]:
        """Log in, pull, and create the new container (nothing bound yet)."""
        _check_registry_answers(record)
        engine = self._engine(record)
        self._login(engine, record)
        pulled = engine.capture(["pull", "--quiet", record.image], timeout=_PULL_TIMEOUT)
        if not pulled.ok:
            raise EngineError(f"cannot pull {record.image}: {pulled.reason()}")
        digest = self._digest(engine, record.image)
        ports = tuple(self._host_port(record, p.port) for p in record.ports)
        name = f"aci-{record.name}-{uuid.uuid4().hex[:8]}"
        self._create(engine, record, ports, name)
        return name, ports, digest

    def _swap(self, record: Instance, name: str, ports: tuple[Port, ...]) -> None:
        """Remove the old container and start the new one on the same address and ports."""
        engine = self._engine(record)
        started = time.monotonic()
        if record.container:
            engine.capture(["rm", "--force", "--time", "0", record.container])
        try:
            done = engine.capture(["start", name])
            if not done.ok:
                raise EngineError(f"cannot start the container: {done.reason()}")
            self._wait_answering(record.ip_address, ports)
        except EngineError:
            # Only the instance's current container is ever left on the engine.
            engine.capture(["rm", "--force", "--time", "0", name])
            raise
        if record.container:
            self.swap_seconds = time.monotonic() - started
            log.info(
                "instance %s replaced: %.2f s without a server", record.name, self.swap_seconds
            )

    def _restart(self, record: Instance) -> bool:
        assert record.container is not None
        return self._engine(record).capture(["restart", "--time", "2", record.container]).ok

    def _remove_named(self, record: Instance, name: str) -> None:
        self._engine(record).capture(["rm", "--force", "--time", "0", name])
        self._remove_containers(record)

    def _remove_containers(self, record: Instance) -> None:
        if not record.container:
            return  # a deploy in flight removes its own container when it sees the delete
        engine = self._engine(record)
        listed = engine.capture(
            ["ps", "--all", "--quiet", "--filter", f"label={LABEL}={record.id}"]
        )
        containers = listed.stdout.split() if listed.ok else []
        if containers:
            engine.capture(["rm", "--force", "--time", "0", *containers])

    def _folder(self, record: Instance) -> Path:
        return self.home / "instances" / record.id

    def _engine(self, record: Instance) -> ContainerEngine:
        folder = self._folder(record)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        insecure = {_registry_host(record.image)}
        if record.login_server:
            insecure.add(record.login_server)
        loopback = [h for h in insecure if h and _is_loopback_host(h)]
        env = engine_env(self.home, auth_file=folder / "auth.json", insecure_registries=loopback)
        variables = {**record.environment, **record.secure_environment}
        # Values go through the environment (`--env NAME`), never on a command line.
        return ContainerEngine(env).with_env(variables)

    def _login(self, engine: ContainerEngine, record: Instance) -> None:
        if not (record.login_server and record.username and record.password):
            return
        done = engine.capture(
            ["login", "--username", record.username, "--password-stdin", record.login_server],
            stdin=record.password.encode(),
        )
        if not done.ok:
            raise EngineError(f"cannot log in to {record.login_server}: {done.reason()}")

    def _digest(self, engine: ContainerEngine, image: str) -> str | None:
        found = engine.capture(["image", "inspect", "--format", "{{.Digest}}", image])
        return found.stdout.strip() or None if found.ok else None

    def _host_port(self, record: Instance, port: int) -> Port:
        for known in record.ports:
            if known.port == port and known.host_port != port:
                return known  # already remapped: keep the URL the user was given
        if _can_bind(record.ip_address, port):
            return Port(port, port)
        if record.container:  # in use by this instance's own container
            return Port(port, port)
        return Port(port, _free_port(record.ip_address))

    def _create(
        self, engine: ContainerEngine, record: Instance, ports: tuple[Port, ...], name: str
    ) -> None:
        args = [
            "create",
            "--name",
            name,
            "--label",
            f"{LABEL}={record.id}",
            "--restart",
            RESTART_POLICIES[record.restart_policy],
        ]
        for port in ports:
            args += ["--publish", f"{record.ip_address}:{port.host_port}:{port.port}"]
        for variable in {**record.environment, **record.secure_environment}:
            args += ["--env", variable]
        created = engine.capture([*args, record.image])
        if not created.ok:
            raise EngineError(f"cannot create the container: {created.reason()}")

    def _running(self, record: Instance) -> bool:
        if not record.container:
            return False
        found = self._engine(record).capture(
            ["inspect", "--format", "{{.State.Running}}", record.container]
        )
        return found.ok and found.stdout.strip() == "true"

    def _wait_answering(self, address: str, ports: tuple[Port, ...]) -> None:
        deadline = time.monotonic() + _ANSWER_TIMEOUT
        for port in ports:
            while not _answers(address, port.host_port):
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"the container does not answer on port {port.port} "
                        f"within {_ANSWER_TIMEOUT:g} s"
                    )
                time.sleep(0.05)


def _check_registry_answers(record: Instance) -> None:
    """A registry on this machine that does not listen fails the create at once, before the
    engine retries its pull."""
    host = record.login_server or _registry_host(record.image)
    name, _, port = host.rpartition(":")
    if not host or not _is_loopback_host(host) or not port.isdigit():
        return
    try:
        with socket.create_connection((name.strip("[]"), int(port)), timeout=2):
            return
    except OSError:
        raise EngineError(f"cannot pull {record.image}: registry {host} does not answer") from None


def _registry_host(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else ""


def _is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0]
    return name in ("localhost", "[::1]") or name.startswith("127.")


def _can_bind(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
        return True


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False
