"""A small asyncio HTTP/1.1 server for ASGI apps: many listeners, zero-copy file responses.

server = HttpServer()
listener = await server.add_listener(app, "127.0.0.1", 0, name="api")
...
await server.shutdown()
"""

from airlock.server.http.server import HttpServer
from airlock.server.http.types import ASGIApp, ClientDisconnectedError, Listener

__all__ = ["ASGIApp", "ClientDisconnectedError", "HttpServer", "Listener"]
