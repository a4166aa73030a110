"""A small asyncio HTTP/1.1 server for ASGI apps: many listeners, zero-copy file responses.

    server = HttpServer()
    listener = await server.add_listener(app, "127.0.0.1", 0, name="api")
    ...
    await server.remove_listener(listener)  # or: await server.shutdown()

Run it on the stdlib asyncio loop: ``loop.sendfile`` there is ``os.sendfile`` on plain sockets,
which is what the ``http.response.zerocopysend`` and ``http.response.pathsend`` extensions use.
As ASGI asks, ``receive()`` blocks once the whole request body has been delivered and returns
``http.disconnect`` when the response is complete or the client has gone; ``send()`` on a
closed connection raises :class:`ClientDisconnectedError` (an ``OSError``, ASGI spec 2.4).

Modules: ``server`` (listeners), ``protocol`` (one connection), ``cycle`` (one exchange),
``body`` (request body queue), ``response`` (head encoding), ``access`` (access log).
"""

from airlock.server.http.server import HttpServer
from airlock.server.http.types import ASGIApp, ClientDisconnectedError, Listener

__all__ = ["ASGIApp", "ClientDisconnectedError", "HttpServer", "Listener"]
