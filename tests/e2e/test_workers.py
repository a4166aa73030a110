"""``airlock worker`` processes and the server's pool share the queue; lost workers and
stopped servers leave no run Running.

Real servers, real ``airlock worker`` processes (started as the CLI), real podman. Each
worker has a state folder of its own (engine configuration, image store, run folders), as a
worker on another machine would; everything a run or a killed worker left in a store is
removed at the end with that store's engine environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airlock.engine import engine_env
from tests.support.cli import api_ok
from tests.support.engine import unmount_store
from tests.support.servers import Airlock, airlock_executable, free_port, start_airlock
from tests.support.waiting import wait_for

pytestmark = pytest.mark.podman

REGISTRY = "workersregistry"
FINAL = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")
CONTRIBUTOR = "Contributor"
FAST_RECOVERY = {"AIRLOCK_RUN_STALE_SECONDS": "3", "AIRLOCK_RUN_RECOVERY_SECONDS": "0.5"}


# --- servers, workers and their stores ------------------------------------------------------


@dataclass
class Machine:
    """What a test started: servers, worker processes and the homes whose stores to clean."""

    base: Path
    servers: list[Airlock] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    homes: list[Path] = field(default_factory=list)

    def server(self, env: dict[str, str], home: Path | None = None) -> Airlock:
        home = home or self.base / f"server-{len(self.servers)}"
        server = start_airlock(home, extra_env=env)
        self.servers.append(server)
        if home not in self.homes:
            self.homes.append(home)
        return server

    def worker(
        self, server: Airlock, token: str, name: str, *, token_in_env: bool = False
    ) -> subprocess.Popen[bytes]:
        """``airlock worker`` with a home of its own (``--home``, or ``$AIRLOCK_HOME``); its
        log is ``<home>/worker.log``. The token goes in ``--token`` or, as the docs advise,
        in ``$AIRLOCK_WORKER_TOKEN``."""
        home = self.base / f"worker-{name}"
        home.mkdir(parents=True, exist_ok=True)
        self.homes.append(home)
        command = ["worker", "--server", server.api_url, "--name", name]
        env = {**server.env(), "AIRLOCK_HOME": str(home)}
        if token_in_env:
            env["AIRLOCK_WORKER_TOKEN"] = token
        else:
            command += ["--token", token, "--home", str(home)]
        with open(home / "worker.log", "wb") as log:
            proc = subprocess.Popen(
                [*airlock_executable(), *command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            # A killed worker's podman clients may still wait on their containers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for server in self.servers:
            server.stop()
        for home in self.homes:
            remove_containers(home)
            unmount_store(home)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    started = Machine(tmp_path)
    try:
        yield started
    finally:
        started.close()


def podman(home: Path, *args: str) -> str:
    done = subprocess.run(
        ["podman", *args],
        env={**os.environ, **engine_env(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout


def run_containers(home: Path) -> list[str]:
    """The run step containers (``acb-...``) running in ``home``'s store."""
    return podman(home, "ps", "-q", "--filter", "name=acb-").split()


def remove_containers(home: Path) -> None:
    """Remove every container a run (or a killed worker) left in ``home``'s store, and the
    run networks they were on (named per run: ``acb-<run key>-...``)."""
    left = podman(home, "ps", "-a", "--format", "{{.ID}} {{.Networks}}").split("\n")
    found = [line.split(" ", 1) for line in left if line.strip()]
    if not found:
        return
    podman(home, "rm", "-f", "-t", "0", *(ident for ident, *_ in found))
    networks = {n for _, *rest in found for n in ",".join(rest).split(",") if n.startswith("acb-")}
    if networks:
        podman(home, "network", "rm", "-f", *sorted(networks))


# --- the REST API ---------------------------------------------------------------------------


def prepare(server: Airlock) -> None:
    server.create_registry(REGISTRY, port=free_port())


def queue(server: Airlock, cmd: str) -> str:
    body = {"kind": "cmd", "cmd": cmd, "context": "/dev/null"}
    return str(api_ok(server, "POST", f"/api/registries/{REGISTRY}/runs", body)["runId"])


def show(server: Airlock, run: str) -> dict[str, Any]:
    answer: dict[str, Any] = api_ok(server, "GET", f"/api/registries/{REGISTRY}/runs/{run}")
    return answer


def log_lines(server: Airlock, run: str) -> list[str]:
    answer = api_ok(server, "GET", f"/api/registries/{REGISTRY}/runs/{run}/logs?after=0")
    return [str(line["text"]) for line in answer["lines"]]


def all_final(server: Airlock, runs: list[str]) -> bool:
    return all(show(server, run)["status"] in FINAL for run in runs)


def sleeping(server: Airlock, run: str, home: Path) -> None:
    """Wait until the run's step container runs in ``home``'s store. The store is looked at
    only once the run launches its container: a first podman command in a fresh store while
    the worker sets it up once made the run's network vanish."""
    launched = "Launching container with name: acb_step_0"
    wait_for(
        lambda: any(launched in line for line in log_lines(server, run)),
        what=f"run {run} to launch its container",
        timeout=60,
    )
    wait_for(lambda: bool(run_containers(home)), what=f"the container of run {run}", timeout=30)


def worker_token(server: Airlock) -> str:
    """A service principal with Contributor on the server, signed in with the CLI, and its
    token as ``airlock account get-access-token`` prints it."""
    made = api_ok(server, "POST", "/api/ad/sps", {"name": "ci-worker"})
    assignment = {"assignee": made["appId"], "role": CONTRIBUTOR, "scope": "/subscriptions/local"}
    api_ok(server, "POST", "/api/role-assignments", assignment)
    server.cli("login", "--service-principal", "-u", made["appId"], "-p", made["password"])
    done = server.cli("account", "get-access-token", "--query", "accessToken", "-o", "tsv")
    token = done.stdout.strip()
    assert token.startswith("als_"), done
    return token


def worker_log(machine: Machine, name: str) -> str:
    return (machine.base / f"worker-{name}" / "worker.log").read_text(errors="replace")


# --- the tests --------------------------------------------------------------------------------


def test_worker_processes_and_the_pool_share_the_queue(machine: Machine) -> None:
    server = machine.server({"AIRLOCK_WORKERS": "1"})
    prepare(server)
    token = worker_token(server)
    machine.worker(server, token, "alpha")
    machine.worker(server, token, "beta", token_in_env=True)
    runs = {queue(server, f"bash echo run-{n}"): n for n in range(20)}

    try:
        wait_for(
            lambda: all_final(server, list(runs)), what="20 runs to end", timeout=120, every=0.5
        )
    except AssertionError:
        raise AssertionError(worker_log(machine, "alpha") + server.log()) from None
    workers = []
    for run, number in runs.items():
        shown = show(server, run)
        assert shown["status"] == "Succeeded", shown
        lines = log_lines(server, run)
        assert sum("was successful" in line for line in lines) == 1, lines
        assert lines.count(f"run-{number}") == 1, lines
        workers.append(str(shown["worker"]))
    remote = [w for w in workers if "@" in w]
    assert any(w.startswith("server-") for w in workers), workers
    assert {w.split("@")[0] for w in remote} >= {"alpha-0", "beta-0"}, workers
    assert worker_log(machine, "alpha").count("ended ca") >= 1


def test_a_killed_worker_fails_its_run_and_another_takes_the_queue(machine: Machine) -> None:
    """Then the stops a worker makes itself: SIGTERM, and a revoked token."""
    server = machine.server({"AIRLOCK_WORKERS": "0", **FAST_RECOVERY})
    prepare(server)
    token = worker_token(server)
    doomed = machine.worker(server, token, "doomed")
    sleeper = queue(server, "bash sleep 60")
    doomed_home = machine.base / "worker-doomed"
    sleeping(server, sleeper, doomed_home)
    others = [queue(server, f"bash echo after-{n}") for n in range(3)]

    doomed.kill()
    doomed.wait(5)
    machine.worker(server, token, "rescuer")

    wait_for(lambda: all_final(server, [sleeper, *others]), what="the runs to end", timeout=60)
    lost = show(server, sleeper)
    assert lost["status"] == "Failed", lost
    assert "stopped answering" in str(lost["runErrorMessage"]), lost
    assert str(lost["worker"]).startswith("doomed-0@"), lost
    for run in others:
        shown = show(server, run)
        assert shown["status"] == "Succeeded", shown
        assert str(shown["worker"]).startswith("rescuer-0@"), shown
    remove_containers(doomed_home)
    assert run_containers(doomed_home) == []

    # SIGTERM: the run in progress ends Failed as interrupted, reported by the worker.
    rescuer = machine.workers[-1]
    stopped = queue(server, "bash sleep 60")
    rescuer_home = machine.base / "worker-rescuer"
    sleeping(server, stopped, rescuer_home)
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0, worker_log(machine, "rescuer")
    shown = show(server, stopped)
    assert shown["status"] == "Failed", shown
    assert "its worker was stopped" in str(shown["runErrorMessage"]), shown
    assert run_containers(rescuer_home) == []

    # A revoked token ends the worker with what to do.
    orphan = machine.worker(server, token, "orphan", token_in_env=True)
    server.cli("logout")
    assert orphan.wait(30) == 1
    assert "start the worker with --service-principal" in worker_log(machine, "orphan")


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_server_stopped_during_a_run_leaves_none_running(machine: Machine, stop: str) -> None:
    env = {"AIRLOCK_WORKERS": "1"}
    server = machine.server(env)
    prepare(server)
    run = queue(server, "bash sleep 60")
    sleeping(server, run, server.home)

    if stop == "SIGTERM":
        assert server.stop(signal.SIGTERM) == 0, server.log()
    else:
        server.kill9()
    remove_containers(server.home)  # what a killed server's run left
    again = start_airlock(server.home, api_port=server.api_port, extra_env=env)
    machine.servers.append(again)

    shown = show(again, run)
    assert shown["status"] == "Failed", shown
    assert "interrupted" in str(shown["runErrorMessage"]), shown
    status, running = again.api("GET", f"/api/registries/{REGISTRY}/runs?status=Running")
    assert status == 200 and running == [], running


def test_a_service_principal_worker_signs_in_again_when_its_session_ends(
    machine: Machine,
) -> None:
    """Sessions last 36 s here (the shortest the server allows): a worker started with
    --service-principal runs one run, its session ends, and it signs in again by itself to
    run the next; its secret is on no command line and in no log."""
    server = machine.server({"AIRLOCK_WORKERS": "0", "AIRLOCK_SESSION_HOURS": "0.01"})
    prepare(server)
    made = api_ok(server, "POST", "/api/ad/sps", {"name": "long-lived-worker"})
    assignment = {"assignee": made["appId"], "role": CONTRIBUTOR, "scope": "/subscriptions/local"}
    api_ok(server, "POST", "/api/role-assignments", assignment)

    home = machine.base / "worker-renewing"
    home.mkdir()
    machine.homes.append(home)
    env = {**server.env(), "AIRLOCK_HOME": str(home), "AIRLOCK_WORKER_SECRET": made["password"]}
    command = ["worker", "--server", server.api_url, "--name", "renewing",
               "--service-principal", made["appId"]]  # fmt: skip
    started = time.monotonic()
    with open(home / "worker.log", "wb") as log:
        worker = subprocess.Popen([*airlock_executable(), *command], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    machine.workers.append(worker)

    first = queue(server, "bash echo first")
    wait_for(lambda: all_final(server, [first]), what="the first run", timeout=120)
    assert show(server, first)["status"] == "Succeeded"
    time.sleep(max(0.0, started + 40 - time.monotonic()))  # past the first session's end
    second = queue(server, "bash echo second")
    wait_for(lambda: all_final(server, [second]), what="the second run", timeout=120)
    assert show(server, second)["status"] == "Succeeded", show(server, second)

    assert worker.poll() is None, worker_log(machine, "renewing")
    text = worker_log(machine, "renewing")
    assert f"signed in as {made['appId']} (session 2)" in text, text
    assert made["password"] not in text
    cmdline = Path(f"/proc/{worker.pid}/cmdline").read_bytes().decode(errors="replace")
    assert made["password"] not in cmdline and made["appId"] in cmdline
