"""Encoding of response heads and body framing (pure functions, no I/O)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

_SERVER_HEADER = b"server: airlock\r\n"
_CHUNKED_HEADER = b"transfer-encoding: chunked\r\n"
LAST_CHUNK = b"0\r\n\r\n"
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))


# Built once: a dict lookup per response instead of formatting the status line each time.
_STATUS_LINES = {int(status): _status_line(int(status)) for status in HTTPStatus}


class _DateCache:
    """The ``date`` header changes once a second; format it at most that often."""

    __slots__ = ("_header", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._header = b""

    def header(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._header = b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")
        return self._header


_DATES = _DateCache()


@dataclass(slots=True)
class Framing:
    """How the body that follows a head is delimited, and whether the connection survives it."""

    content_length: int | None  # None: chunked or close-delimited
    chunked: bool
    keep_alive: bool
    no_body: bool  # HEAD, 1xx, 204, 304: never write body bytes


class HeaderError(ValueError):
    """The app gave a header that cannot be written safely (CR/LF injection, bad length)."""


def encode_head(
    status: int,
    headers: Iterable[tuple[bytes, bytes]],
    *,
    http11: bool,
    keep_alive: bool,
    is_head: bool,
) -> tuple[bytes, Framing]:
    """The status line and headers to write, and the framing the body must then use."""
    parts = [_STATUS_LINES.get(status) or _status_line(status)]
    content_length: int | None = None
    chunked = False
    seen_date = seen_server = False
    for raw_name, value in headers:
        name = raw_name.lower()
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise HeaderError(f"header {raw_name!r} contains CR or LF")
        if name == b"content-length":
            content_length = _parse_length(value)
        elif name == b"transfer-encoding":
            chunked = chunked or value.lower() == b"chunked"
        elif name == b"connection":
            # Written once below, from the decision that also governs the socket.
            keep_alive = keep_alive and value.lower() != b"close"
            continue
        elif name == b"date":
            seen_date = True
        elif name == b"server":
            seen_server = True
        parts.append(b"%s: %s\r\n" % (name, value))
    no_body = is_head or status < 200 or status in (204, 304)
    if content_length is None and not chunked and not no_body:
        if http11:
            chunked = True
            parts.append(_CHUNKED_HEADER)
        else:
            keep_alive = False  # HTTP/1.0 without a length: the close marks the end
    if not seen_date:
        parts.append(_DATES.header())
    if not seen_server:
        parts.append(_SERVER_HEADER)
    parts.append(_connection_header(keep_alive, http11))
    framing = Framing(content_length, chunked and not no_body, keep_alive, no_body)
    return b"".join(parts), framing


def _connection_header(keep_alive: bool, http11: bool) -> bytes:
    if not keep_alive:
        return b"connection: close\r\n\r\n"
    if not http11:
        return b"connection: keep-alive\r\n\r\n"
    return b"\r\n"


def _parse_length(value: bytes) -> int:
    if not value.strip().isdigit():
        raise HeaderError(f"bad content-length {value!r}")
    return int(value)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (small bodies: one buffer beats three writes)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def chunk_header(size: int) -> bytes:
    return b"%x\r\n" % size


def simple_response(
    status: int,
    body: bytes,
    content_type: bytes,
    *,
    keep_alive: bool = False,
    is_head: bool = False,
) -> tuple[bytes, Framing]:
    """A complete response of the server's own (protocol errors, a failed app)."""
    head, framing = encode_head(
        status,
        [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        http11=True,
        keep_alive=keep_alive,
        is_head=is_head,
    )
    return (head if is_head else head + body), framing
