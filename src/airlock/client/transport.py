"""The HTTP transport under the client: httpx's, tuned by measurement for blob transfers.

httpcore reads 64 KiB per ``recv``; a 512 MiB blob with sha256 then came at 550-600 MiB/s
against 860 for http.client's 1 MiB reads. Reading up to 1 MiB per call brings httpx to
about 760 (``benchmarks/client_download.py``). The read size is a class attribute of
httpcore's connection, so rather than change it for every httpx user in the process, this
transport's pool gets a network backend whose streams read in 1 MiB calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

READ_SIZE = 1 << 20
# Connections kept per client: copy_image's workers each hold one, plus token fetches.
POOL_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=30)


class _LargeReads(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max(max_bytes, READ_SIZE), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _LargeReads(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


# Called with (host, port) before every TCP connection; returns the address to connect to,
# or raises to refuse. The importer uses it so that whatever the source sends the client to
# (a token realm, a blob redirect, a name that resolves differently the second time) is
# checked against its rule at the moment of connecting, on the address actually used.
ConnectGuard = Callable[[str, int], str]


class _LargeReadBackend(httpcore.SyncBackend):
    def __init__(self, connect_guard: ConnectGuard | None = None) -> None:
        self._connect_guard = connect_guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if self._connect_guard is not None:
            host = self._connect_guard(host, port)
        return _LargeReads(super().connect_tcp(host, port, timeout, local_address, socket_options))


class BlobTransport(httpx.HTTPTransport):
    """HTTP/1.1 (HTTP/2 multiplexes every blob over one connection: slower for bulk
    copies), a keep-alive pool sized for parallel copies, and 1 MiB socket reads."""

    def __init__(
        self,
        *,
        verify: bool = True,
        limits: httpx.Limits = POOL_LIMITS,
        connect_guard: ConnectGuard | None = None,
    ) -> None:
        super().__init__(verify=verify, limits=limits, http1=True, http2=False)
        ssl_context = self._pool._ssl_context
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_LargeReadBackend(connect_guard),
        )
