"""One access-log line per request, without query values (they may carry tokens)."""

from __future__ import annotations

import logging

access_logger = logging.getLogger("airlock.http.access")


def log_request(
    listener: str,
    method: str,
    raw_path: bytes,
    query_string: bytes,
    http_version: str,
    status: int,
    sent: int,
    started: float,
    ended: float,
) -> None:
    """Log ``host:port "METHOD /path?key HTTP/1.1" status bytesB ms`` (caller checks INFO)."""
    target = raw_path.decode("latin-1")
    if query_string:
        target += "?" + _query_keys(query_string)
    access_logger.info(
        '%s "%s %s HTTP/%s" %d %dB %.1fms',
        listener,
        method,
        target,
        http_version,
        status,
        sent,
        (ended - started) * 1000.0,
    )


def _query_keys(query_string: bytes) -> str:
    keys = (part.partition(b"=")[0] for part in query_string.split(b"&") if part)
    return "&".join(key.decode("latin-1") for key in keys)
