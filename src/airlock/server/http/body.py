"""The request body of one exchange: bytes parsed from the socket, waiting for the app."""

from __future__ import annotations

import asyncio
from collections import deque

# take() joins queued pieces up to this size: fewer, larger awaits for the app.
RECEIVE_CHUNK = 1024 * 1024


class RequestBody:
    """A queue of body pieces plus the one future the app's ``receive()`` sleeps on."""

    __slots__ = ("_loop", "_pieces", "_waiter", "done", "size")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pieces: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.size = 0  # bytes queued, not yet taken
        self.done = False  # the parser saw the end of the body

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def feed(self, data: bytes) -> None:
        self._pieces.append(data)
        self.size += len(data)
        if self._waiter is not None:
            self.wake()

    def finish(self) -> None:
        self.done = True
        if self._waiter is not None:
            self.wake()

    def take(self) -> bytes:
        """The next piece, joined with the following ones up to ``RECEIVE_CHUNK`` bytes."""
        pieces = self._pieces
        data = pieces.popleft()
        if pieces and len(data) < RECEIVE_CHUNK:
            joined = [data]
            size = len(data)
            while pieces and size + len(pieces[0]) <= RECEIVE_CHUNK:
                piece = pieces.popleft()
                joined.append(piece)
                size += len(piece)
            data = b"".join(joined)
        self.size -= len(data)
        return data

    @property
    def complete(self) -> bool:
        """Everything has been taken and nothing more will come."""
        return self.done and not self._pieces

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Sleep until the next ``feed``, ``finish`` or ``wake``."""
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
