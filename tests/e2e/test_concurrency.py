"""Slow readers must not stall the rest of the server.

A client that reads one blob only as fast as it uploads another (skopeo copying between two
registries of one server does exactly that) deadlocked the server when blob senders shared
the thread pool that upload writes need.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import ExitStack

import httpx

from tests.support.registry_auth import RegistryTokenAuth

STALLED_DOWNLOADS = 12
BIG = 32 * 1024 * 1024


def _push(client: httpx.Client, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    answer = client.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=data)
    assert answer.status_code == 201, answer.text
    return digest


def test_uploads_proceed_while_many_downloads_wait_for_their_readers(
    client: httpx.Client, registry_url: str, registry_auth: RegistryTokenAuth, repo: str
) -> None:
    big = _push(client, repo, os.urandom(BIG))
    limits = httpx.Limits(max_connections=STALLED_DOWNLOADS + 4)
    with (
        httpx.Client(base_url=registry_url, timeout=30, auth=registry_auth, limits=limits) as slow,
        ExitStack() as streams,
    ):
        # Open many downloads and read none of them: each sender blocks on a full socket.
        for _ in range(STALLED_DOWNLOADS):
            response = streams.enter_context(slow.stream("GET", f"/v2/{repo}/blobs/{big}"))
            assert response.status_code == 200
        small = os.urandom(4 * 1024 * 1024)
        digest = _push(client, repo, small)
        assert client.get(f"/v2/{repo}/blobs/{digest}").content == small
