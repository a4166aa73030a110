"""Faults: the server killed mid-upload and mid-push, tags raced, the disk full."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.helpers import (
    BaseBlobs,
    Pattern,
    absolute,
    admin_auth,
    blob_file,
    pull_and_verify,
    push_base_blobs,
    push_image,
    push_manifest,
    repo_name,
    sha256_digest,
    upload_file,
)
from tests.support.images import OciImage
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.waiting import wait_for

BIG = Pattern(chunks=200, seed=b"kill-during-upload")  # 200 MiB
KILL_AFTER_BYTES = 24 * 1024 * 1024


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def integrity_check(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def assert_consistent(client: httpx.Client, repos: list[str]) -> dict[str, dict[str, str]]:
    """Catalog and tag lists answer; every tag resolves to bytes that hash to its digest.

    Returns {repo: {tag: digest}}."""
    catalog = client.get("/v2/_catalog")
    assert catalog.status_code == 200, catalog.text
    found: dict[str, dict[str, str]] = {}
    for repo in repos:
        assert repo in catalog.json()["repositories"]
        listed = client.get(f"/v2/{repo}/tags/list")
        assert listed.status_code == 200, listed.text
        found[repo] = {}
        for tag in listed.json()["tags"] or []:
            answer = client.get(f"/v2/{repo}/manifests/{tag}")
            assert answer.status_code == 200, f"{repo}:{tag} -> {answer.status_code} {answer.text}"
            digest = answer.headers["docker-content-digest"]
            assert sha256_digest(answer.content) == digest, f"{repo}:{tag}"
            json.loads(answer.content)
            found[repo][tag] = digest
    return found


# --- kill -9 during a large upload ----------------------------------------------------------


def slow_body(stop: threading.Event) -> Iterator[bytes]:
    for data in BIG.iter_from(0):
        if stop.is_set():
            return
        yield data
        time.sleep(0.02)


def test_kill_during_a_large_upload(
    own_airlock: StartServer, busybox_image: OciImage, tmp_path: Path
) -> None:
    server, url = own_airlock()
    storage = server.home / "storage"
    repo = repo_name("kill-upload")
    digest = BIG.digest()
    # One token flow for every client here: the streamed PATCHes go out with the push token
    # it got for the POST (a stream cannot be sent again after a 401), the resumed one after
    # the restart too (the signing key is in the state folder, so tokens outlive the process).
    auth = admin_auth(server)
    with httpx.Client(base_url=url, timeout=60, auth=auth) as client:
        push_image(client, repo, busybox_image, "before")
        started = client.post(f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202
        location = started.headers["location"]
    data_file = upload_file(storage, location)

    outcome: list[BaseException | httpx.Response] = []
    stop = threading.Event()

    def send() -> None:
        try:
            with httpx.Client(base_url=url, timeout=60, auth=auth) as sender:
                outcome.append(
                    sender.patch(
                        absolute(sender, location),
                        content=slow_body(stop),
                        headers={"content-type": "application/octet-stream"},
                    )
                )
        except BaseException as exc:  # recorded for the assertions
            outcome.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        wait_for(
            lambda: file_size(data_file) > KILL_AFTER_BYTES, what="the upload to grow", every=0.02
        )
        server.kill9()
    finally:
        stop.set()
        sender.join(30)
    assert not sender.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError), outcome
    on_disk = file_size(data_file)
    assert KILL_AFTER_BYTES < on_disk < BIG.size
    assert not blob_file(storage, digest).exists()

    server.restart()
    with httpx.Client(base_url=url, timeout=120, auth=auth) as client:
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        assert_consistent(client, [repo])
        assert pull_and_verify(client, repo, "before") == busybox_image.manifest_digest

        requested = auth.token_requests
        status = client.get(absolute(client, location))
        assert auth.token_requests == requested, "the push token from before the kill was refused"
        if status.status_code == 404:
            # Acceptable: the upload is cleanly forgotten.
            assert status.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
            assert not blob_file(storage, digest).exists()
            return
        assert status.status_code == 204, status.text
        size = file_size(data_file)
        assert status.headers["range"] == f"0-{size - 1}"
        assert size == on_disk

        # Resume: send the rest from the reported offset, then close with the digest.
        offset = int(status.headers["range"].split("-")[1]) + 1
        resumed = client.patch(
            absolute(client, location),
            content=BIG.iter_from(offset),
            headers={
                "content-type": "application/octet-stream",
                "content-range": f"{offset}-{BIG.size - 1}",
                "content-length": str(BIG.size - offset),
            },
        )
        assert resumed.status_code == 202, resumed.text
        assert resumed.headers["range"] == f"0-{BIG.size - 1}"
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        done = client.put(absolute(client, resumed.headers["location"]), params={"digest": digest})
        assert done.status_code == 201, done.text

        hasher = hashlib.sha256()
        with client.stream("GET", f"/v2/{repo}/blobs/{digest}") as blob:
            assert blob.status_code == 200
            for data in blob.iter_bytes():
                hasher.update(data)
        assert "sha256:" + hasher.hexdigest() == digest
        assert blob_file(storage, digest).stat().st_size == BIG.size
        assert not data_file.exists()
    assert "Traceback" not in server.log()


# --- kill -9 during manifest pushes ---------------------------------------------------------


def test_kill_during_manifest_pushes(own_airlock: StartServer) -> None:
    server, url = own_airlock()
    repo = repo_name("kill-manifests")
    tags = [f"t{i}" for i in range(8)]
    auth = admin_auth(server)
    with httpx.Client(base_url=url, timeout=60, auth=auth) as client:
        base = push_base_blobs(client, repo)

    sent: dict[str, list[str]] = {tag: [] for tag in tags}  # in order, per tag
    acked: dict[str, str] = {}
    failures: list[str] = []
    progress = threading.Event()

    def pusher() -> None:
        with httpx.Client(base_url=url, timeout=30, auth=auth) as pushing:
            for i in range(100_000):
                tag = tags[i % len(tags)]
                body = base.manifest(push=str(i))
                sent[tag].append(sha256_digest(body))
                try:
                    answer = push_manifest(pushing, repo, tag, body)
                except httpx.TransportError:
                    return
                if answer.status_code != 201:
                    failures.append(f"{tag} #{i}: {answer.status_code} {answer.text}")
                    return
                acked[tag] = sha256_digest(body)
                if i >= 100:
                    progress.set()

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    try:
        assert progress.wait(60), "the pushes did not get going"
        time.sleep(0.3)
        server.kill9()
    finally:
        thread.join(30)
    assert not thread.is_alive()
    assert not failures, failures

    server.restart()
    assert integrity_check(server.home / "airlock.db") == "ok"
    with httpx.Client(base_url=url, timeout=60, auth=auth) as client:
        found = assert_consistent(client, [repo])[repo]
        assert set(found) == set(tags)
        for tag in tags:
            history = sent[tag]
            # The tag holds the last acknowledged push, or one sent after it (in flight).
            assert found[tag] in history[history.index(acked[tag]) :], tag
        for digest in acked.values():
            answer = client.get(f"/v2/{repo}/manifests/{digest}")
            assert answer.status_code == 200
            assert sha256_digest(answer.content) == digest
        # And the registry still takes pushes.
        again = push_manifest(client, repo, "after", base.manifest(push="after"))
        assert again.status_code == 201, again.text
    assert "Traceback" not in server.log()


# --- concurrent pushes to one tag -----------------------------------------------------------


def test_concurrent_pushes_to_one_tag(
    registry_url: str, repo: str, registry_auth: RegistryTokenAuth
) -> None:
    threads, rounds = 16, 5
    # The writers share the token flow, and with it the push token the base blobs got.
    auth = registry_auth
    with httpx.Client(base_url=registry_url, timeout=60, auth=auth) as client:
        base: BaseBlobs = push_base_blobs(client, repo)
    bodies = [base.manifest(writer=str(n)) for n in range(threads)]
    digests = {sha256_digest(body) for body in bodies}
    assert len(digests) == threads
    barrier = threading.Barrier(threads)
    results: list[tuple[int, int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def push(n: int) -> None:
        try:
            with httpx.Client(base_url=registry_url, timeout=60, auth=auth) as own:
                barrier.wait(30)
                for _ in range(rounds):
                    answer = push_manifest(own, repo, "race", bodies[n])
                    with lock:
                        results.append(
                            (n, answer.status_code, answer.headers.get("docker-content-digest", ""))
                        )
        except BaseException as exc:  # recorded for the assertions
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=push, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not any(worker.is_alive() for worker in workers)
    assert not errors, errors
    assert len(results) == threads * rounds
    for n, status, digest in results:
        assert status == 201, (n, status)
        assert digest == sha256_digest(bodies[n])

    with httpx.Client(base_url=registry_url, timeout=60, auth=auth) as client:
        answer = client.get(f"/v2/{repo}/manifests/race")
        assert answer.status_code == 200
        assert answer.headers["docker-content-digest"] in digests
        assert sha256_digest(answer.content) == answer.headers["docker-content-digest"]
        head = client.head(f"/v2/{repo}/manifests/race")
        assert head.headers["docker-content-digest"] == answer.headers["docker-content-digest"]
        assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["race"]
        for body in bodies:
            by_digest = client.get(f"/v2/{repo}/manifests/{sha256_digest(body)}")
            assert by_digest.status_code == 200
            assert by_digest.content == body


# --- full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs, unmounted afterwards."""
    point = tmp_path / "small-volume"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], capture_output=True, timeout=30, check=False)


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def test_full_disk_gives_a_clean_error(
    own_airlock: StartServer, small_volume: Path, busybox_image: OciImage
) -> None:
    server, url = own_airlock(extra_env={"AIRLOCK_STORAGE_ROOT": str(small_volume)})
    repo = repo_name("full-disk")
    big = Pattern(chunks=64, seed=b"full-disk")  # 64 MiB on a 32 MiB volume
    # The streamed PATCH goes out with the push token the POST before it got.
    with httpx.Client(base_url=url, timeout=60, auth=admin_auth(server)) as client:
        push_image(client, repo, busybox_image, "v1")
        assert blob_file(small_volume, busybox_image.layer_digests[0]).exists()

        started = client.post(f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202
        location = started.headers["location"]
        answer = send_until_answered(client, absolute(client, location), big)
        assert answer.status_code == 507, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        errors = answer.json()["errors"]
        assert errors[0]["code"] == "STORAGE_FULL", errors
        assert errors[0]["message"]

        # Still up, still serving the earlier image intact.
        assert server.proc.poll() is None
        assert client.get("/v2/").status_code == 200
        assert pull_and_verify(client, repo, "v1") == busybox_image.manifest_digest
        assert client.head(f"/v2/{repo}/blobs/{big.digest()}").status_code == 404
        assert "storage full" in server.log()

        # The failed upload holds a clean prefix of what was sent, and says how much.
        status = client.get(absolute(client, location))
        assert status.status_code == 204, status.text
        kept = file_size(upload_file(small_volume, location))
        assert status.headers["range"] == f"0-{max(kept - 1, 0)}"
        assert kept < big.size
        assert upload_file(small_volume, location).read_bytes() == prefix(big, kept)

        # Dropping the failed upload gives the space back.
        cancelled = client.delete(absolute(client, location))
        assert cancelled.status_code == 204, cancelled.text
        assert not upload_file(small_volume, location).exists()
        assert free_bytes(small_volume) > 24 * 1024 * 1024
        smaller = os.urandom(16 * 1024 * 1024)
        again = client.post(f"/v2/{repo}/blobs/uploads/")
        done = client.put(
            absolute(client, again.headers["location"]),
            params={"digest": sha256_digest(smaller)},
            content=smaller,
            headers={"content-type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        assert client.get(f"/v2/{repo}/blobs/{sha256_digest(smaller)}").content == smaller
    server.stop()
    assert "Traceback" not in server.log()


def test_full_disk_during_a_single_request_upload(
    own_airlock: StartServer, small_volume: Path
) -> None:
    """POST ?digest= with the whole body: the client never learns an upload id, so the
    server must not leave the partial data behind when the volume fills."""
    server, url = own_airlock(extra_env={"AIRLOCK_STORAGE_ROOT": str(small_volume)})
    repo = repo_name("full-disk-single")
    big = Pattern(chunks=64, seed=b"full-disk-single")
    free_before = free_bytes(small_volume)
    auth = admin_auth(server)
    auth.prefetch(url, repo, "push")  # the first request streams its body: no 401 and retry
    with httpx.Client(base_url=url, timeout=60, auth=auth) as client:
        answer = client.post(
            f"/v2/{repo}/blobs/uploads/",
            params={"digest": big.digest()},
            content=big.iter_from(0),
            headers={
                "content-type": "application/octet-stream",
                "content-length": str(big.size),
            },
        )
        assert answer.status_code == 507, answer.text
        assert answer.json()["errors"][0]["code"] == "STORAGE_FULL"
        assert client.get("/v2/").status_code == 200
        assert client.head(f"/v2/{repo}/blobs/{big.digest()}").status_code == 404
        leftovers = sorted(p.name for p in (small_volume / "uploads").glob("*"))
        # The space is free again: a 4 MiB blob fits on the 32 MiB volume.
        small = os.urandom(4 * 1024 * 1024)
        again = client.post(
            f"/v2/{repo}/blobs/uploads/",
            params={"digest": sha256_digest(small)},
            content=small,
            headers={"content-type": "application/octet-stream"},
        )
        assert again.status_code == 201, (
            f"{again.status_code} {again.text}; the failed upload still holds the space: "
            f"uploads/ has {leftovers}, {free_bytes(small_volume)} bytes free"
        )
    assert free_bytes(small_volume) > free_before - 6 * 1024 * 1024


def prefix(content: Pattern, size: int) -> bytes:
    out = bytearray()
    for data in content.iter_from(0):
        if len(out) >= size:
            break
        out += data
    return bytes(out[:size])


def send_until_answered(client: httpx.Client, location: str, content: Pattern) -> httpx.Response:
    """PATCH ``content``; the server may answer before it has read all of it."""
    return client.patch(
        location,
        content=content.iter_from(0),
        headers={
            "content-type": "application/octet-stream",
            "content-range": f"0-{content.size - 1}",
            "content-length": str(content.size),
        },
    )
