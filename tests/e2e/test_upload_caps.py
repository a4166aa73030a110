"""Caps on unfinished uploads, per repository and per identity, on a server started with small
caps: over a cap a new upload is 429 TOOMANYREQUESTS and opens nothing; finishing or
cancelling an upload frees its slot."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import StartServer
from tests.e2e.helpers import (
    absolute,
    admin_auth,
    push_blob,
    repo_name,
    sha256_digest,
    upload_file,
)

CAPS = {
    "AIRLOCK_MAX_UPLOADS_PER_REPOSITORY": "2",
    "AIRLOCK_MAX_UPLOADS_PER_IDENTITY": "3",
    "AIRLOCK_UPLOAD_IDLE_HOURS": "6",
}


def start(client: httpx.Client, repo: str) -> httpx.Response:
    return client.post(f"/v2/{repo}/blobs/uploads/")


def opened(client: httpx.Client, repo: str) -> str:
    answer = start(client, repo)
    assert answer.status_code == 202, answer.text
    return str(answer.headers["location"])


def refused(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 429, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == "TOOMANYREQUESTS"
    for word in (*words, "finish or cancel one", "idle for 6 hours", "AIRLOCK_UPLOAD_IDLE_HOURS"):
        assert word in error["message"], error["message"]


def test_open_uploads_are_capped_and_slots_come_back(own_airlock: StartServer) -> None:
    server, url = own_airlock(extra_env=CAPS)
    storage = server.home / "storage"
    first, second = repo_name("caps-a"), repo_name("caps-b")
    auth = admin_auth(server)
    with httpx.Client(base_url=url, timeout=30, auth=auth) as client:
        # Per repository: two open, the third refused and not opened.
        a1, a2 = opened(client, first), opened(client, first)
        uploads_before = sorted(p.name for p in (storage / "uploads").iterdir())
        refused(
            start(client, first),
            f"repository {first!r} has 2 unfinished uploads",
            "2 per repository ($AIRLOCK_MAX_UPLOADS_PER_REPOSITORY)",
        )
        assert sorted(p.name for p in (storage / "uploads").iterdir()) == uploads_before
        # A single-request upload opens a session too, so it is refused as well.
        data = b"single request over the cap"
        single = client.post(
            f"/v2/{first}/blobs/uploads/",
            params={"digest": sha256_digest(data)},
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
        assert single.status_code == 429, single.text
        assert client.head(f"/v2/{first}/blobs/{sha256_digest(data)}").status_code == 404

        # Cancelling one frees its slot.
        assert client.delete(absolute(client, a1)).status_code == 204
        assert not upload_file(storage, a1).exists()
        a3 = opened(client, first)

        # Per identity (in this registry): 2 in the first repository + 1 here = 3.
        b1 = opened(client, second)
        refused(
            start(client, repo_name("caps-c")),
            "the admin user has 3 unfinished uploads in this registry",
            "3 per identity ($AIRLOCK_MAX_UPLOADS_PER_IDENTITY)",
        )

        # Finishing one frees its slot.
        blob = b"finished upload"
        done = client.put(
            absolute(client, a2),
            params={"digest": sha256_digest(blob)},
            content=blob,
            headers={"content-type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        third = repo_name("caps-c")
        c1 = opened(client, third)

        # At the cap again (a3, b1, c1); a mount opens no upload, so it still works.
        refused(start(client, second), "the admin user has 3 unfinished uploads")
        auth.prefetch(url, second, "push", also=[f"repository:{first}:pull"])
        mount = client.post(
            f"/v2/{second}/blobs/uploads/",
            params={"mount": sha256_digest(blob), "from": first},
        )
        assert mount.status_code == 201, mount.text
        assert client.head(f"/v2/{second}/blobs/{sha256_digest(blob)}").status_code == 200

        for location in (a3, b1, c1):
            assert client.delete(absolute(client, location)).status_code == 204
        push_blob(client, first, b"room again")
