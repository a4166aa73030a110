"""Container instances end to end: a real server, real podman, the CLI as a subprocess.

A busybox httpd image is built with ``acr build`` into a registry of the server, run with
``airlock container create`` on the instance's own loopback address, replaced in place by
another image while a poller asks for the page every 50 ms (every answer must be the old or
the new page: the instance's address is served by a relay in the server that switches to the
new container once it answers, before the old one is removed), found again after the server
restarts with its container still running, brought back after the server restarts without
its container, and deleted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_task_runs import BUSYBOX, BUSYBOX_IMAGE
from tests.support.cli import ok
from tests.support.engine import podman_env_of, reset_engine
from tests.support.servers import Airlock, free_port, running_airlock

pytestmark = pytest.mark.podman

REGISTRY = "aciregistry"
GROUP = "aci-group"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("instances-home")
    with running_airlock(home) as running:
        running.create_registry(REGISTRY, port=free_port())
        ok(running, "group", "create", "-n", GROUP)
        yield running
    reset_engine(home)


def show(server: Airlock, name: str) -> Any:
    return json.loads(ok(server, "container", "show", "-g", GROUP, "-n", name, "-o", "json").stdout)


def build_page(server: Airlock, folder: Path, page: str) -> str:
    """A busybox httpd image serving ``page`` on port 80; returns its reference."""
    folder.mkdir(parents=True)
    shutil.copy2(BUSYBOX, folder / "busybox")
    (folder / "index.html").write_text(page)
    (folder / "Dockerfile").write_text(
        BUSYBOX_IMAGE + "COPY index.html /www/index.html\n"
        'CMD ["/bin/httpd", "-f", "-p", "80", "-h", "/www"]\n'
    )
    tag = folder.name
    ok(server, "acr", "build", "-r", REGISTRY, "--image", f"web:{tag}", str(folder))
    return f"{server.registries[REGISTRY].removeprefix('http://')}/web:{tag}"


def create(server: Airlock, name: str, image: str, *extra: str) -> Any:
    login = server.registries[REGISTRY].removeprefix("http://")
    user, password = server.admin_credentials(REGISTRY)
    done = ok(server, "container", "create", "-g", GROUP, "-n", name, "--image", image,
              "--registry-login-server", login, "--registry-username", user,
              "--registry-password", password, "--ports", "80", "--ip-address", "public",
              "-o", "json", *extra)  # fmt: skip
    return json.loads(done.stdout)


def page(url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return str(answer.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def containers_of(server: Airlock, name: str) -> list[str]:
    """The engine's containers of instance ``name`` (each is named aci-<name>-<suffix>)."""
    listed = subprocess.run(
        ["podman", "ps", "--all", "--quiet", "--filter", f"name=^aci-{name}-"],
        env=podman_env_of(server), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return listed.stdout.split()


def remove_container(server: Airlock, container: str) -> None:
    subprocess.run(
        ["podman", "rm", "--force", "--time", "0", container],
        env=podman_env_of(server), capture_output=True, timeout=60, check=True,
    )  # fmt: skip


class Poller(threading.Thread):
    """Asks for the page every 50 ms; keeps every answer's status and page, and every failure
    (no speed is asserted on: a slow answer is an answer)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.done, self.longest_gap = url, threading.Event(), 0.0
        self.answers: list[tuple[int, str]] = []
        self.failures: list[str] = []

    def run(self) -> None:
        last_answer: float | None = None
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:
                    self.answers.append((answer.status, answer.read().decode()))
                now = time.monotonic()
                if last_answer is not None:
                    self.longest_gap = max(self.longest_gap, now - last_answer)
                last_answer = now
            except OSError as exc:  # refused, reset, or an HTTP error status
                self.failures.append(repr(exc))
            time.sleep(0.05)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` more answers or failures came (or ``timeout`` passed)."""
        wanted = len(self.answers) + len(self.failures) + count
        deadline = time.monotonic() + timeout
        while len(self.answers) + len(self.failures) < wanted and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.done.set()
        self.join()


def test_create_replace_restart_and_delete(server: Airlock, tmp_path: Path) -> None:
    blue = build_page(server, tmp_path / "blue", "<body style='background:Blue'>blue</body>\n")
    green = build_page(server, tmp_path / "green", "<body style='background:Green'>green</body>\n")

    made = create(server, "hello-world", blue, "-e", "BACKGROUND_COLOR=Blue",
                  "--secure-environment-variables", "TOKEN=never-shown-Vq8")  # fmt: skip
    assert made["provisioningState"] == "Succeeded"
    address = made["ipAddress"]["ip"]
    assert address.startswith("127.0.0.") and int(address.rsplit(".", 1)[1]) >= 10
    assert made["containers"][0]["image"] == blue
    assert made["containers"][0]["imageDigest"].startswith("sha256:")
    assert made["instanceView"]["state"] == "Running"
    assert "never-shown-Vq8" not in json.dumps(made)
    url = made["url"]
    assert url.startswith(f"http://{address}")
    assert "blue" in page(url)
    assert ok(server, "container", "show", "-g", GROUP, "-n", "hello-world",
              "--query", "ipAddress.ip", "-o", "tsv").stdout.strip() == address  # fmt: skip
    listed = json.loads(ok(server, "container", "list", "-g", GROUP, "-o", "json").stdout)
    assert [i["name"] for i in listed] == ["hello-world"]

    # Create again with another image: same name, same address, the new page, and the page
    # answered every poll while the container was replaced.
    ident = "hello-world"
    (blue_container,) = containers_of(server, ident)
    poller = Poller(url)
    poller.start()
    poller.wait_for(3)
    replaced = create(server, "hello-world", green)
    poller.wait_for(5)
    poller.stop()
    print(
        f"replacement: {len(poller.answers)} answers, {len(poller.failures)} failures, "
        f"longest interval between two answers {poller.longest_gap:.2f} s"
    )
    assert poller.failures == []
    assert {status for status, _ in poller.answers} == {200}
    pages = ["blue" if "blue" in text else "green" if "green" in text else text
             for _, text in poller.answers]  # fmt: skip
    switched = pages.index("green")
    assert switched > 0 and set(pages[:switched]) == {"blue"}, pages
    assert set(pages[switched:]) == {"green"}, pages
    assert replaced["ipAddress"]["ip"] == address and replaced["url"] == url
    assert replaced["containers"][0]["image"] == green
    assert "green" in page(url)
    (green_container,) = containers_of(server, ident)
    assert green_container != blue_container

    ok(server, "container", "restart", "-g", GROUP, "-n", "hello-world")
    assert "green" in page(url)
    ok(server, "container", "logs", "-g", GROUP, "-n", "hello-world")

    # The server restarts while the container runs: the same container answers again.
    server.restart()
    assert "green" in page(url, timeout=60)
    assert containers_of(server, ident) == [green_container]
    shown = show(server, "hello-world")
    assert shown["instanceView"]["state"] == "Running" and shown["url"] == url

    # The server restarts after its container was removed: the instance comes back.
    server.stop()
    for container in containers_of(server, ident):
        remove_container(server, container)
    server.restart()
    assert "green" in page(url, timeout=60)
    shown = show(server, "hello-world")
    assert shown["ipAddress"]["ip"] == address and shown["url"] == url

    ok(server, "container", "delete", "-g", GROUP, "-n", "hello-world", "--yes")
    deadline = time.monotonic() + 30
    while containers_of(server, ident) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers_of(server, ident) == []
    gone = server.cli("container", "show", "-g", GROUP, "-n", "hello-world", check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-g", GROUP, "-n", "Bad_Name", "--image", "x/y:1"], "invalid container group name"),
        (["-g", GROUP, "-n", "badport", "--image", "x/y:1", "--ports", "99999"], "invalid port"),
        (["-g", "no-such-group", "-n", "nogroup", "--image", "x/y:1"], "no-such-group"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    server: Airlock, args: list[str], message: str
) -> None:
    done = server.cli("container", "create", *args, check=False)
    assert done.returncode != 0 and message in done.stderr, done.stderr
    listed = json.loads(ok(server, "container", "list", "-o", "json").stdout)
    assert [i["name"] for i in listed if i["name"] in ("bad_name", "badport", "nogroup")] == []


def test_group_delete_removes_its_instances(server: Airlock, tmp_path: Path) -> None:
    image = build_page(server, tmp_path / "doomed", "<html>doomed</html>")
    ok(server, "group", "create", "-n", "aci-doomed")
    login = server.registries[REGISTRY].removeprefix("http://")
    user, password = server.admin_credentials(REGISTRY)
    made = json.loads(ok(server, "container", "create", "-g", "aci-doomed", "-n", "doomed",
                         "--image", image, "--registry-login-server", login,
                         "--registry-username", user, "--registry-password", password,
                         "--ports", "80", "-o", "json").stdout)  # fmt: skip
    assert "doomed" in page(made["url"])
    ident = "doomed"

    status, deleted = server.api("DELETE", "/api/groups/aci-doomed")
    assert status == 200 and isinstance(deleted, dict), deleted
    assert deleted["deleted"]["containerGroups"] == ["doomed"], deleted
    listed = json.loads(ok(server, "container", "list", "-o", "json").stdout)
    assert all(i["name"] != "doomed" for i in listed), listed
    deadline = time.monotonic() + 30
    while containers_of(server, ident) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers_of(server, ident) == []


# Writes the platform's variables (AIRLOCK_*) into the page, and to the container's output.
ENV_PAGE = """#!/bin/sh
mkdir -p /www
env | grep '^AIRLOCK_' | sort | tee /www/index.html
exec httpd -f -p 80 -h /www
"""


def build_image(server: Airlock, folder: Path, repository_tag: str, dockerfile: str) -> str:
    """``acr build`` of ``dockerfile`` with busybox and env.sh in the context; the reference."""
    folder.mkdir(parents=True)
    shutil.copy2(BUSYBOX, folder / "busybox")
    (folder / "env.sh").write_text(ENV_PAGE)
    (folder / "Dockerfile").write_text(dockerfile)
    ok(server, "acr", "build", "-r", REGISTRY, "--image", repository_tag, str(folder))
    return f"{server.registries[REGISTRY].removeprefix('http://')}/{repository_tag}"


def variables_on(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line.startswith("AIRLOCK_"))


def test_an_instance_knows_the_base_its_image_was_built_on(server: Airlock, tmp_path: Path) -> None:
    base = build_image(server, tmp_path / "base", "envbase:1", BUSYBOX_IMAGE
                       + 'COPY env.sh /env.sh\nCMD ["/bin/sh", "/env.sh"]\n')  # fmt: skip
    derived = build_image(server, tmp_path / "derived", "envapp:1",
                          f"FROM {base}\nENV DERIVED=yes\n")  # fmt: skip
    manifests = json.loads(ok(server, "acr", "repository", "show-manifests", "-n", REGISTRY,
                              "--repository", "envbase", "-o", "json").stdout)  # fmt: skip
    (base_digest,) = [m["digest"] for m in manifests if "1" in (m.get("tags") or [])]
    assert base_digest.startswith("sha256:")

    made = create(server, "built-on-base", derived)
    container = made["containers"][0]
    assert container["baseImage"] == base, container
    assert container["baseImageDigest"] == base_digest, container
    assert container["imageDigest"].startswith("sha256:")
    assert container["imageDigest"] != base_digest
    assert show(server, "built-on-base")["containers"][0]["baseImageDigest"] == base_digest
    seen = variables_on(page(made["url"]))
    assert seen == {
        "AIRLOCK_BASE_IMAGE": base,
        "AIRLOCK_BASE_IMAGE_DIGEST": base_digest,
        "AIRLOCK_IMAGE": derived,
        "AIRLOCK_IMAGE_DIGEST": container["imageDigest"],
    }
    logs = ok(server, "container", "logs", "-g", GROUP, "-n", "built-on-base").stdout
    assert f"AIRLOCK_BASE_IMAGE_DIGEST={base_digest}" in logs

    # An image FROM scratch names no base; a variable the user set wins over the platform's.
    scratch = create(server, "from-scratch", base, "-e", "AIRLOCK_IMAGE=mine")
    container = scratch["containers"][0]
    assert container["baseImage"] is None and container["baseImageDigest"] is None, container
    seen = variables_on(page(scratch["url"]))
    assert seen == {"AIRLOCK_IMAGE": "mine", "AIRLOCK_IMAGE_DIGEST": container["imageDigest"]}

    for name in ("built-on-base", "from-scratch"):
        ok(server, "container", "delete", "-g", GROUP, "-n", name, "--yes")


def test_secure_variables_stay_masked_in_logs_after_a_restart(
    server: Airlock, tmp_path: Path
) -> None:
    """The container prints its secure variable; ``container logs`` shows it masked, also
    from a server process that was not the one told the value at create."""
    image = build_image(server, tmp_path / "secretlog", "secretlog:1", BUSYBOX_IMAGE
                        + 'COPY env.sh /env.sh\nCMD ["/bin/sh", "/env.sh"]\n')  # fmt: skip
    secret = "tok-" + "9f3a61c0d2e84b7f"
    create(server, "secret-log", image, "--secure-environment-variables",
           f"AIRLOCK_TOKEN={secret}")  # fmt: skip

    def logs() -> str:
        return ok(server, "container", "logs", "-g", GROUP, "-n", "secret-log").stdout

    before = logs()
    assert "AIRLOCK_TOKEN=***" in before and secret not in before, before
    server.restart()
    after = logs()
    assert "AIRLOCK_TOKEN=***" in after and secret not in after, after
    ok(server, "container", "delete", "-g", GROUP, "-n", "secret-log", "--yes")
