"""TCP relays that keep a container instance's address answering while its container is
replaced.

Each port of an instance is served by a small relay in the server process, listening on the
instance's loopback address and host port (``127.0.0.10:80``, or a remapped port). The
container publishes its port on ``127.0.0.1`` at a port the engine picks (its *backend*). A
relay forwards each connection it accepts to the backend that is current at that moment. A
replacement starts the new container on a backend of its own, waits until it answers, switches
the relay (one assignment on the event loop: new connections go to the new container,
connections in flight finish on the old one), and only then removes the old container; so at
no moment does the address refuse a connection.

The relays live in the server: while the server is down, the instances' addresses do not
answer (their containers keep running on their backends). When the server starts again it
opens the relays again for the containers still running (``InstanceDeployer.revive``).

A relay binds 127.0.0.0/8 addresses only and forwards to loopback backends only. A backend
that refuses (or does not accept within a few seconds) closes the client's connection. Data
moves in chunks of at most 64 KiB, each written and drained before the next is read, so a slow
reader on one side stops the relay reading from the other (no unbounded buffers).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping

log = logging.getLogger("airlock.instances.proxy")

Backend = tuple[str, int]  # (loopback address, port)

_CHUNK = 64 * 1024
_CONNECT_TIMEOUT = 5.0
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def check_loopback(address: str) -> None:
    """Refuse any address outside 127.0.0.0/8 (a relay never listens on another interface)."""
    try:
        ok = ipaddress.IPv4Address(address) in _LOOPBACK
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{address!r} is not a 127.0.0.0/8 address")


class Relay:
    """One listening socket forwarding every connection it accepts to a switchable target."""

    def __init__(self, address: str, port: int, target: Backend) -> None:
        check_loopback(address)
        check_loopback(target[0])
        self.address, self.port = address, port
        self._target = target
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._open: Counter[Backend] = Counter()  # connections open per backend

    @property
    def target(self) -> Backend:
        return self._target

    async def start(self) -> None:
        """Listen (raises ``OSError`` when the address and port cannot be bound)."""
        self._server = await asyncio.start_server(
            self._handle, self.address, self.port, reuse_address=True, limit=_CHUNK
        )

    def switch(self, target: Backend) -> None:
        """Send the connections accepted from now on to ``target``."""
        check_loopback(target[0])
        self._target = target

    def open_to(self, target: Backend) -> int:
        """How many connections relayed to ``target`` are still open."""
        return self._open[target]

    async def close(self) -> None:
        """Stop listening and end the connections in flight."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _handle(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        target = self._target  # read once: the switch applies to the next connection
        clean = False
        try:
            try:
                backend_in, backend_out = await asyncio.wait_for(
                    asyncio.open_connection(*target, limit=_CHUNK), _CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError) as exc:
                log.debug("relay %s:%s: backend %s:%s: %s", self.address, self.port, *target, exc)
                clean = True  # nothing was relayed: an ordinary close
                return
            self._open[target] += 1
            try:
                clean = await _relay(client_in, client_out, backend_in, backend_out)
            finally:
                self._open[target] -= 1
                if self._open[target] <= 0:
                    del self._open[target]
                await _close(backend_out, abort=not clean)
        finally:
            await _close(client_out, abort=not clean)


class InstanceProxies:
    """The relays of every instance, by instance id and host port (used on the event loop)."""

    def __init__(self) -> None:
        self._relays: dict[str, dict[int, Relay]] = {}

    def ports(self, key: str) -> frozenset[int]:
        """The host ports instance ``key``'s relays listen on."""
        return frozenset(self._relays.get(key, {}))

    def targets(self, key: str) -> dict[int, Backend]:
        """Host port -> the backend instance ``key``'s relay on it forwards to."""
        return {port: relay.target for port, relay in self._relays.get(key, {}).items()}

    async def route(self, key: str, address: str, routes: Mapping[int, Backend]) -> list[Backend]:
        """Make ``address:host_port`` forward to its backend for each of ``routes``, and stop
        listening on the instance's other ports; returns the backends replaced (to drain).

        All new listeners are bound before any relay switches: when one cannot be bound
        (``OSError``), nothing changes."""
        check_loopback(address)
        current = self._relays.setdefault(key, {})
        opened: dict[int, Relay] = {}
        try:
            for port, target in routes.items():
                relay = current.get(port)
                if relay is None or relay.address != address:
                    fresh = Relay(address, port, target)
                    await fresh.start()
                    opened[port] = fresh
        except BaseException:
            for relay in opened.values():
                await relay.close()
            if not current:
                del self._relays[key]
            raise
        replaced: list[Backend] = []
        for port, target in routes.items():
            if port in opened:
                old = current.pop(port, None)
                if old is not None:  # another address (not done by Airlock today)
                    replaced.append(old.target)
                    await old.close()
                current[port] = opened[port]
            elif current[port].target != target:
                replaced.append(current[port].target)
                current[port].switch(target)
        for port in [p for p in current if p not in routes]:
            replaced.append(current[port].target)
            await current.pop(port).close()
        if not current:
            del self._relays[key]
        return replaced

    async def drained(self, key: str, backends: Iterable[Backend], timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until no connection relayed to ``backends`` by
        instance ``key``'s relays is open; returns whether none is."""
        wanted = set(backends)
        deadline = time.monotonic() + timeout
        while True:
            relays = list(self._relays.get(key, {}).values())
            if not any(relay.open_to(b) for relay in relays for b in wanted):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def close(self, key: str) -> None:
        """Stop listening on instance ``key``'s address (the instance is deleted)."""
        for relay in self._relays.pop(key, {}).values():
            await relay.close()

    async def close_all(self) -> None:
        for key in list(self._relays):
            await self.close(key)


async def _relay(
    client_in: asyncio.StreamReader,
    client_out: asyncio.StreamWriter,
    backend_in: asyncio.StreamReader,
    backend_out: asyncio.StreamWriter,
) -> bool:
    """Copy both ways until both sides have ended; returns False when one broke off."""
    pipes = {
        asyncio.create_task(_pipe(client_in, backend_out)),
        asyncio.create_task(_pipe(backend_in, client_out)),
    }
    try:
        done, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
    return not pending and all(p.exception() is None for p in done)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while chunk := await source.read(_CHUNK):
        sink.write(chunk)
        await sink.drain()
    if sink.can_write_eof() and not sink.is_closing():
        with contextlib.suppress(OSError):
            sink.write_eof()  # half-close: the other way may still be answering


async def _close(writer: asyncio.StreamWriter, *, abort: bool) -> None:
    if abort:
        writer.transport.abort()
    else:
        writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), _CONNECT_TIMEOUT)
    except TimeoutError:  # the peer reads no more: drop what is left
        writer.transport.abort()
    except OSError:
        pass  # the peer broke off: closed all the same
