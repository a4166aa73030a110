"""The instances' TCP relays, with plain asyncio servers on loopback as the containers: a
switch while a client polls never fails a connection, a refused backend closes the client's
connection, data goes both ways intact, and the relays listen on 127.0.0.0/8 only."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable

import pytest

from airlock.instances.proxy import Backend, InstanceProxies, Relay

ADDRESS = "127.0.0.77"  # an instance's address
LOOPBACK_ONLY = re.escape("127.0.0.0/8")
GUARD = 30.0  # only so that a broken relay fails the test instead of hanging it


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def backend(handler: Handler) -> tuple[asyncio.Server, Backend]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, ("127.0.0.1", port)


def page(text: str, delay: float = 0.0) -> Handler:
    """A server that reads a request line, waits ``delay`` and answers ``text``, then closes
    (as a web server does with ``Connection: close``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            if delay:
                await asyncio.sleep(delay)
            writer.write(text.encode())
            await writer.drain()
        finally:
            writer.close()

    return handle


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(4096):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()


async def ask(port: int) -> str:
    reader, writer = await asyncio.open_connection(ADDRESS, port)
    try:
        writer.write(b"GET /\n")
        await writer.drain()
        return (await reader.read()).decode()
    finally:
        writer.close()
        await writer.wait_closed()


async def stop(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


def test_switching_while_a_client_polls_never_fails_a_connection() -> None:
    async def scenario() -> tuple[list[str], int, list[BaseException]]:
        old_server, old = await backend(page("old", delay=0.02))
        new_server, new = await backend(page("new"))
        proxies = InstanceProxies()
        port = free_port(ADDRESS)
        assert await proxies.route("i1", ADDRESS, {port: old}) == []
        answers: list[str] = []
        failures: list[BaseException] = []
        polling = True

        async def poll() -> None:
            while polling:
                try:
                    answers.append(await ask(port))
                except OSError as exc:
                    failures.append(exc)
                await asyncio.sleep(0.005)

        async def seen(count: int) -> None:
            while len(answers) < count:
                await asyncio.sleep(0.01)

        pollers = [asyncio.create_task(poll()) for _ in range(3)]
        await asyncio.wait_for(seen(10), GUARD)
        replaced = await proxies.route("i1", ADDRESS, {port: new})
        assert replaced == [old]
        assert proxies.targets("i1") == {port: new}
        # The old container goes once the connections it was answering have finished.
        assert await proxies.drained("i1", replaced, timeout=GUARD)
        drained_at = len(answers)
        await stop(old_server)
        await asyncio.wait_for(seen(drained_at + 10), GUARD)
        polling = False
        await asyncio.gather(*pollers)
        await proxies.close_all()
        await stop(new_server)
        return answers, drained_at, failures

    answers, drained_at, failures = asyncio.run(scenario())
    assert failures == []
    assert answers[0] == "old" and set(answers) == {"old", "new"}
    # Once drained, the old backend answers no more (connections accepted before the switch
    # may finish on it after the first answer of the new one).
    assert set(answers[drained_at:]) == {"new"}


def test_a_refused_backend_closes_the_client_connection() -> None:
    async def scenario() -> bytes:
        proxies = InstanceProxies()
        port = free_port(ADDRESS)
        nobody = ("127.0.0.1", free_port("127.0.0.1"))  # nothing listens there
        await proxies.route("i1", ADDRESS, {port: nobody})
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        try:
            writer.write(b"GET /\n")
            await writer.drain()
            try:
                return await asyncio.wait_for(reader.read(), GUARD)
            except ConnectionResetError:
                return b""
        finally:
            writer.close()
            await proxies.close_all()

    assert asyncio.run(scenario()) == b""


def test_data_goes_both_ways_intact_and_a_half_close_is_passed_on() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: more than any buffer of the relay

    async def scenario() -> bytes:
        server, target = await backend(echo)
        proxies = InstanceProxies()
        port = free_port(ADDRESS)
        await proxies.route("i1", ADDRESS, {port: target})
        reader, writer = await asyncio.open_connection(ADDRESS, port)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sending = asyncio.create_task(send())
        received = await asyncio.wait_for(reader.read(), GUARD)
        await sending
        writer.close()
        await writer.wait_closed()
        await proxies.close_all()
        await stop(server)
        return received

    assert asyncio.run(scenario()) == payload


def test_a_closed_instance_no_longer_listens_and_ports_can_change() -> None:
    async def scenario() -> None:
        server, target = await backend(page("hello"))
        proxies = InstanceProxies()
        first, second = free_port(ADDRESS), free_port(ADDRESS)
        await proxies.route("i1", ADDRESS, {first: target})
        assert await ask(first) == "hello"
        # A create again with another port: the first one stops listening.
        assert await proxies.route("i1", ADDRESS, {second: target}) == [target]
        assert proxies.ports("i1") == {second}
        assert await ask(second) == "hello"
        with pytest.raises(ConnectionRefusedError):
            await ask(first)
        await proxies.close("i1")
        assert proxies.ports("i1") == frozenset()
        with pytest.raises(ConnectionRefusedError):
            await ask(second)
        await stop(server)

    asyncio.run(scenario())


def test_a_port_taken_by_another_program_changes_nothing() -> None:
    async def scenario() -> None:
        server, target = await backend(page("hello"))
        proxies = InstanceProxies()
        mine = free_port(ADDRESS)
        await proxies.route("i1", ADDRESS, {mine: target})
        with socket.socket() as squatter:
            squatter.bind((ADDRESS, 0))
            squatter.listen()
            taken = squatter.getsockname()[1]
            with pytest.raises(OSError):
                await proxies.route("i1", ADDRESS, {mine: target, taken: target})
        assert proxies.ports("i1") == {mine}
        assert await ask(mine) == "hello"
        await proxies.close_all()
        await stop(server)

    asyncio.run(scenario())


@pytest.mark.parametrize("address", ["0.0.0.0", "10.1.2.3", "::1", "localhost"])
def test_relays_listen_on_loopback_ipv4_only(address: str) -> None:
    with pytest.raises(ValueError, match=LOOPBACK_ONLY):
        Relay(address, 8080, ("127.0.0.1", 8081))
    with pytest.raises(ValueError, match=LOOPBACK_ONLY):
        Relay("127.0.0.10", 8080, (address, 8081))

    async def scenario() -> None:
        with pytest.raises(ValueError, match=LOOPBACK_ONLY):
            await InstanceProxies().route("i1", address, {8080: ("127.0.0.1", 8081)})

    asyncio.run(scenario())
