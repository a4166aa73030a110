"""Running instances on the engine: pull, run behind the instance's loopback address, replace
in place, restart, logs, remove.

Each instance has a folder of its own under ``home/instances/<id>`` holding the auth file its
registry login goes to (never the engine's global one). A container publishes its ports on
``127.0.0.1`` at ports the engine picks (its backends, read back with ``podman inspect``:
nothing about them is stored); the instance's address and host ports (``127.0.0.10:80``) are
served by relays in the server process that forward to the current backends
(``airlock.instances.proxy``).

Replacement, as ``az container create`` on an existing name: the new image is pulled and its
container created and started on backends of its own while the old one serves; once the new
one answers (a TCP connect on each port) the relays switch to it, the connections still open
on the old one are given a few seconds to finish, and then the old container is removed. The
address answers throughout. If the new container fails, the relays stay on the old one.

The container is told what Airlock knows of its image, as Cloud Run tells K_SERVICE and
K_REVISION: ``AIRLOCK_IMAGE`` (the reference), ``AIRLOCK_IMAGE_DIGEST``, and, when the image's
manifest names the base it was built on (buildah's ``org.opencontainers.image.base.name`` and
``.digest`` annotations; an image built FROM scratch has none), ``AIRLOCK_BASE_IMAGE`` and
``AIRLOCK_BASE_IMAGE_DIGEST``. A variable of the same name the user set wins.

While the server is down the addresses do not answer (the containers keep running); when it
starts, ``revive`` opens the relays again for the containers still running and deploys again
the instances whose container is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from airlock.engine.config import engine_env
from airlock.engine.containers import ContainerEngine
from airlock.engine.errors import EngineError
from airlock.instances.model import RESTART_POLICIES, Instance, Port
from airlock.instances.proxy import Backend, InstanceProxies
from airlock.instances.store import InstanceStore

log = logging.getLogger("airlock.instances")
LABEL = "airlock.instance"
_ANSWER_TIMEOUT = 30.0
_PULL_TIMEOUT = 600.0
_DRAIN_TIMEOUT = 5.0  # how long connections on a replaced container may take to finish
_BACKEND_HOST = "127.0.0.1"  # where containers publish their ports for the relays
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest"


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the engine knows of a pulled image: its digest and the base it was built on."""

    digest: str | None = None
    base_image: str | None = None
    base_digest: str | None = None

    def environment(self, image: str) -> dict[str, str]:
        """The platform's variables for a container of ``image`` (only those known)."""
        found = {
            "AIRLOCK_IMAGE": image,
            "AIRLOCK_IMAGE_DIGEST": self.digest,
            "AIRLOCK_BASE_IMAGE": self.base_image,
            "AIRLOCK_BASE_IMAGE_DIGEST": self.base_digest,
        }
        return {name: value for name, value in found.items() if value}


def image_facts(inspected: str) -> ImageFacts:
    """The facts in ``podman image inspect``'s JSON (a list of one image); empty when the
    output is not what was expected."""
    try:
        images = json.loads(inspected)
    except ValueError:
        return ImageFacts()
    image = images[0] if isinstance(images, list) and images else images
    if not isinstance(image, dict):
        return ImageFacts()
    annotations = image.get("Annotations")
    if not isinstance(annotations, dict):
        annotations = {}

    def text(value: object) -> str | None:
        return value.strip() or None if isinstance(value, str) else None

    return ImageFacts(
        digest=text(image.get("Digest")),
        base_image=text(annotations.get(BASE_NAME_ANNOTATION)),
        base_digest=text(annotations.get(BASE_DIGEST_ANNOTATION)),
    )


class InstanceDeployer:
    """Engine work runs in threads; the records are read and written on the event loop only
    (the database connection belongs to it, see ``airlock.db.engine``)."""

    def __init__(
        self, home: Path, store: InstanceStore, proxies: InstanceProxies | None = None
    ) -> None:
        self.home = home
        self.store = store
        self.proxies = proxies if proxies is not None else InstanceProxies()
        self._locks: dict[str, asyncio.Lock] = {}
        self._jobs: set[asyncio.Task[None]] = set()

    # --- what the routes call (on the event loop) ---------------------------------------

    def in_background(self, record: Instance, job: Callable[[Instance], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._serialised(record, job))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def deploy(self, record: Instance) -> None:
        """Pull the image and run it, replacing the instance's current container if any: the
        relays switch to the new container once it answers, then the old one is removed."""
        name = f"aci-{record.name}-{uuid.uuid4().hex[:8]}"
        owned = self.proxies.ports(record.id)
        try:
            ports, facts = await asyncio.to_thread(self._prepare, record, name, owned)
            backends = await asyncio.to_thread(self._start, record, name, ports)
            current = self.store.find(record.resource_group, record.name)
            if current is None or current.id != record.id:  # deleted meanwhile
                await asyncio.to_thread(self._remove_named, record, name)
                return
            replaced = await self._route(record, ports, backends)
        except EngineError as exc:
            log.warning("instance %s: %s", record.name, exc)
            # Only containers the relays forward to are left on the engine.
            await asyncio.to_thread(self._discard, record, name)
            self.store.set_state(
                record.id, state="Failed", provisioning_state="Failed", message=str(exc)
            )
            return
        except Exception:
            await asyncio.to_thread(self._discard, record, name)
            raise
        if not await self.proxies.drained(record.id, replaced, _DRAIN_TIMEOUT):
            log.info("instance %s: connections to the old container cut", record.name)
        await asyncio.to_thread(self._remove_others, record, name)
        current = self.store.find(record.resource_group, record.name)
        if current is None or current.id != record.id:  # deleted meanwhile
            await self.proxies.close(record.id)
            await asyncio.to_thread(self._remove_named, record, name)
            return
        self.store.save(
            replace(
                current,
                ports=ports,
                digest=facts.digest,
                base_image=facts.base_image,
                base_digest=facts.base_digest,
                container=name,
                state="Running",
                provisioning_state="Succeeded",
                message=None,
            )
        )
        if replaced:
            log.info("instance %s replaced (its address answered throughout)", record.name)

    async def restart(self, record: Instance) -> None:
        if record.container:
            backends = await asyncio.to_thread(self._restart, record)
            if backends is not None:
                try:
                    await self._route(record, record.ports, backends)
                except EngineError as exc:
                    log.warning("instance %s: %s", record.name, exc)
                else:
                    self.store.set_state(record.id, state="Running", message=None)
                    return
        await self.deploy(record)

    async def remove(self, record: Instance) -> None:
        await self.proxies.close(record.id)
        await asyncio.to_thread(self._remove_containers, record)
        await asyncio.to_thread(shutil.rmtree, self._folder(record), True)

    async def revive(self) -> list[str]:
        """Open the relays again for every instance whose container still runs, and start
        again every instance whose container is gone (after a reboot, or a crash); returns the
        names of the latter."""
        revived = []
        for record in self.store.all():
            # One whose deploy the server's stop cut short serves meanwhile, if it still can.
            attached = await self._reattach(record)
            if attached and record.provisioning_state != "Creating":
                continue
            self.store.set_state(record.id, provisioning_state="Creating")
            self.in_background(record, self.deploy)
            revived.append(record.name)
        return revived

    async def close(self, grace: float = 15.0) -> None:
        """Let the jobs in flight end (a delete's container removal must not be cut short by
        a stop right after it), then stop every relay (the containers keep running)."""
        if self._jobs:
            await asyncio.wait(set(self._jobs), timeout=grace)
        await self.proxies.close_all()

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

    async def _route(
        self, record: Instance, ports: tuple[Port, ...], backends: dict[int, int]
    ) -> list[Backend]:
        """Point the instance's relays at ``backends`` (container port -> backend port);
        returns the backends replaced."""
        routes = {p.host_port: (_BACKEND_HOST, backends[p.port]) for p in ports}
        try:
            return await self.proxies.route(record.id, record.ip_address, routes)
        except (OSError, ValueError) as exc:
            listed = ", ".join(str(p) for p in routes)
            raise EngineError(
                f"cannot listen on {record.ip_address} port {listed}: {exc}"
            ) from None

    async def _reattach(self, record: Instance) -> bool:
        """Open the relays of an instance whose container still runs; False when it must be
        deployed again."""
        running, backends = await asyncio.to_thread(self._inspect, record)
        if running and backends is not None:
            try:
                await self._route(record, record.ports, backends)
            except EngineError as exc:
                log.warning("instance %s: %s; deploying it again", record.name, exc)
                return False
            log.info("instance %s: relays open again on %s", record.name, record.ip_address)
            return True
        if running:  # published on the instance's address itself (before the relays)
            await asyncio.to_thread(self._remove_containers, record)
        return False

    # --- the parts (in threads, no database) --------------------------------------------

    def _prepare(
        self, record: Instance, name: str, owned: frozenset[int]
    ) -> tuple[tuple[Port, ...], ImageFacts]:
        """Log in, pull, and create the new container (its ports published on backends)."""
        _check_registry_answers(record)
        engine = self._engine(record)
        self._login(engine, record)
        pulled = engine.capture(["pull", "--quiet", record.image], timeout=_PULL_TIMEOUT)
        if not pulled.ok:
            raise EngineError(f"cannot pull {record.image}: {pulled.reason()}")
        facts = self._facts(engine, record.image)
        ports = tuple(self._host_port(record, p.port, owned) for p in record.ports)
        user = {**record.environment, **record.secure_environment}
        platform = {k: v for k, v in facts.environment(record.image).items() if k not in user}
        # Like the user's, the values go through the engine's environment.
        self._create(engine.with_env(platform), record, ports, name, [*user, *platform])
        return ports, facts

    def _start(self, record: Instance, name: str, ports: tuple[Port, ...]) -> dict[int, int]:
        """Start the new container and wait until it answers on each of its backends;
        returns container port -> backend port."""
        engine = self._engine(record)
        done = engine.capture(["start", name])
        if not done.ok:
            raise EngineError(f"cannot start the container: {done.reason()}")
        backends = self._backends(engine, name, ports)
        if backends is None:
            raise EngineError(f"the engine published no {_BACKEND_HOST} port for the container")
        self._wait_answering(_BACKEND_HOST, backends)
        return backends

    def _restart(self, record: Instance) -> dict[int, int] | None:
        """Restart the container; its backends, or None when it could not be restarted."""
        assert record.container is not None
        engine = self._engine(record)
        if not engine.capture(["restart", "--time", "2", record.container]).ok:
            return None
        return self._backends(engine, record.container, record.ports)

    def _inspect(self, record: Instance) -> tuple[bool, dict[int, int] | None]:
        """Whether the instance's container runs, and its backends (None if it has none)."""
        if not record.container:
            return False, None
        engine = self._engine(record)
        found = engine.capture(["inspect", "--format", "{{.State.Running}}", record.container])
        if not (found.ok and found.stdout.strip() == "true"):
            return False, None
        return True, self._backends(engine, record.container, record.ports)

    def _backends(
        self, engine: ContainerEngine, container: str, ports: tuple[Port, ...]
    ) -> dict[int, int] | None:
        """Container port -> the port it is published on at 127.0.0.1 (chosen by the engine
        at create), or None when one of ``ports`` is not published there."""
        found = engine.capture(
            ["inspect", "--format", "{{json .NetworkSettings.Ports}}", container]
        )
        try:
            published = json.loads(found.stdout) if found.ok else None
        except ValueError:
            published = None
        if not isinstance(published, dict):
            published = {}
        backends = {}
        for port in ports:
            bindings = published.get(f"{port.port}/tcp") or []
            numbers = [
                int(b["HostPort"])
                for b in bindings
                if isinstance(b, dict)
                and b.get("HostIp") == _BACKEND_HOST
                and str(b.get("HostPort", "")).isdigit()
            ]
            if not numbers:
                return None
            backends[port.port] = numbers[0]
        return backends

    def _discard(self, record: Instance, name: str) -> None:
        self._engine(record).capture(["rm", "--force", "--time", "0", name])

    def _remove_named(self, record: Instance, name: str) -> None:
        self._discard(record, name)
        self._remove_containers(record)

    def _remove_containers(self, record: Instance) -> None:
        self._remove_others(record, keep=None)

    def _remove_others(self, record: Instance, keep: str | None) -> None:
        """Remove the instance's containers but ``keep``."""
        engine = self._engine(record)
        listed = engine.capture(
            ["ps", "--all", "--format", "{{.Names}}", "--filter", f"label={LABEL}={record.id}"]
        )
        containers = [c for c in listed.stdout.split() if c != keep] if listed.ok else []
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

    def _facts(self, engine: ContainerEngine, image: str) -> ImageFacts:
        found = engine.capture(["image", "inspect", image])
        return image_facts(found.stdout) if found.ok else ImageFacts()

    def _host_port(self, record: Instance, port: int, owned: frozenset[int]) -> Port:
        """The host port the instance's relay listens on for ``port``: ``port`` itself, unless
        something else holds it on the instance's address (then a free one, kept after)."""
        for known in record.ports:
            if known.port == port and known.host_port != port:
                return known  # already remapped: keep the URL the user was given
        if port in owned or _can_bind(record.ip_address, port):
            return Port(port, port)
        return Port(port, _free_port(record.ip_address))

    def _create(
        self,
        engine: ContainerEngine,
        record: Instance,
        ports: tuple[Port, ...],
        name: str,
        variables: list[str],
    ) -> None:
        """Create the container; the values of ``variables`` are in ``engine``'s environment."""
        args = [
            "create",
            "--name",
            name,
            "--label",
            f"{LABEL}={record.id}",
            "--restart",
            RESTART_POLICIES[record.restart_policy],
        ]
        for port in ports:  # the engine picks the backend port; the relay serves host_port
            args += ["--publish", f"{_BACKEND_HOST}::{port.port}"]
        for variable in variables:
            args += ["--env", variable]
        created = engine.capture([*args, record.image])
        if not created.ok:
            raise EngineError(f"cannot create the container: {created.reason()}")

    def _wait_answering(self, address: str, backends: dict[int, int]) -> None:
        deadline = time.monotonic() + _ANSWER_TIMEOUT
        for port, backend in backends.items():
            while not _answers(address, backend):
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"the container does not answer on port {port} within {_ANSWER_TIMEOUT:g} s"
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
        # As the relay binds: connections it closed (TIME_WAIT) do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
