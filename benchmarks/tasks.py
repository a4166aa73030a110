"""Measure task runs: Airlock's overhead around podman, the time to the first step, throughput.

    .venv/bin/python benchmarks/tasks.py [--rounds 5] [--runs 20]

Prints, in one run of this script:

1. a 3-step run (build, cmd, push of a busybox image) through Airlock, against the same three
   podman commands run directly with Airlock's engine configuration (medians of --rounds);
   the difference is Airlock's overhead (target: at most 0.3 s);
2. the time from ``task run`` (the run queued) to its first step's container being launched,
   read from the run's record and log (target: under 0.2 s);
3. --runs short runs queued at once, taken by one worker (the server's own pool of one), then
   by two (the pool and an ``airlock worker`` process): runs per minute.

Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.support.servers import Airlock, airlock_executable, free_port, start_airlock  # noqa: E402

from airlock.engine import EnginePaths, engine_env  # noqa: E402

DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "echo", "hello from the benchmark"]
"""
TASK = """version: v1.1.0
steps:
  - id: build
    build: -t {{.Run.Registry}}/bench:{{.Run.ID}} .
  - id: test
    cmd: "{{.Run.Registry}}/bench:{{.Run.ID}}"
  - id: push
    push: ["{{.Run.Registry}}/bench:{{.Run.ID}}"]
"""
SHORT = {"kind": "cmd", "cmd": "bash echo short", "context": "/dev/null"}


def moment(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def wait_final(server: Airlock, registry: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, run = server.api("GET", f"/api/registries/{registry}/runs/{run_id}")
        assert status == 200, run
        if run["status"] not in ("Queued", "Running"):
            return dict(run)
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} did not end in {timeout} s")


def log_lines(server: Airlock, registry: str, run_id: str) -> list[dict[str, Any]]:
    status, page = server.api("GET", f"/api/registries/{registry}/runs/{run_id}/logs")
    assert status == 200, page
    return list(page["lines"])


def direct_podman(home: Path, context: Path, login_server: str, user: str, password: str) -> float:
    """The same three steps as podman commands, with Airlock's engine configuration."""
    auth = Path(tempfile.mkdtemp()) / "auth.json"
    env = {**os.environ, **engine_env(home, auth_file=auth, insecure_registries=[login_server])}
    image = f"{login_server}/bench:direct-{time.monotonic_ns()}"

    def podman(*args: str, stdin: str | None = None) -> None:
        subprocess.run(
            ["podman", *args], env=env, check=True, capture_output=True, input=stdin, text=True
        )

    podman("login", "-u", user, "--password-stdin", login_server, stdin=password)
    start = time.perf_counter()
    podman("build", "--layers=false", "-t", image, str(context))
    podman("run", "--rm", image)
    podman("push", image)
    elapsed = time.perf_counter() - start
    podman("rmi", image)
    shutil.rmtree(auth.parent, ignore_errors=True)
    return elapsed


def three_step(server: Airlock, registry: str, context: Path, rounds: int) -> None:
    status, created = server.api(
        "POST",
        f"/api/registries/{registry}/tasks",
        {"name": "benchtask", "kind": "file", "file": TASK, "context": str(context)},
    )
    assert status == 201, created
    record = server.api("GET", f"/api/registries/{registry}")[1]
    user, password = server.admin_credentials(registry)
    airlock_times, direct_times, first_step = [], [], []
    for _ in range(rounds):
        direct_times.append(
            direct_podman(server.home, context, record["loginServer"], user, password)
        )
        status, run = server.api("POST", f"/api/registries/{registry}/tasks/benchtask/runs", {})
        assert status == 202, run
        done = wait_final(server, registry, run["runId"])
        assert done["status"] == "Succeeded", done
        airlock_times.append(moment(done["finishTime"]) - moment(done["createTime"]))
        launched = next(
            line
            for line in log_lines(server, registry, run["runId"])
            if "Launching container with name" in line["text"]
        )
        first_step.append(moment(launched["time"]) - moment(done["createTime"]))
    airlock, direct = statistics.median(airlock_times), statistics.median(direct_times)
    print(f"3-step run (build, cmd, push), median of {rounds}:")
    print(f"  podman directly          {direct:6.2f} s")
    print(f"  through Airlock          {airlock:6.2f} s")
    print(f"  Airlock's overhead       {airlock - direct:6.2f} s   (target <= 0.30 s)")
    print(f"  ratio                    {airlock / direct:6.2f}x")
    print(
        f"time from task run to the first step's container: median "
        f"{statistics.median(first_step):.3f} s, best {min(first_step):.3f} s   (target < 0.2 s)"
    )


def throughput(server: Airlock, registry: str, count: int, label: str) -> float:
    queued = []
    for _ in range(count):
        status, run = server.api("POST", f"/api/registries/{registry}/runs", SHORT)
        assert status == 202, run
        queued.append(run)
    ended = [wait_final(server, registry, run["runId"]) for run in queued]
    assert all(run["status"] == "Succeeded" for run in ended), [r["status"] for r in ended]
    start = min(moment(run["createTime"]) for run in ended)
    end = max(moment(run["finishTime"]) for run in ended)
    workers = sorted({run["worker"].split("@")[0].rsplit("/", 1)[0] for run in ended})
    per_minute = count / (end - start) * 60
    print(
        f"{count} short runs queued at once, {label}: {end - start:5.1f} s, "
        f"{per_minute:5.1f} runs/minute (taken by {', '.join(workers)})"
    )
    return per_minute


def start_worker(server: Airlock, home: Path) -> subprocess.Popen[bytes]:
    owner = json.loads((server.home / "owner-credentials.json").read_text())
    env = {**os.environ, "AIRLOCK_HOME": str(home)}
    return subprocess.Popen(
        [
            *airlock_executable(),
            "worker",
            "--server",
            server.api_url,
            "--token",
            owner["token"],
            "--name",
            "bench-worker",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airlock-bench-tasks-") as folder:
        root = Path(folder)
        context = root / "context"
        context.mkdir()
        shutil.copy2("/bin/busybox", context / "busybox")
        (context / "Dockerfile").write_text(DOCKERFILE)
        home = root / "home"
        server = start_airlock(home, extra_env={"AIRLOCK_WORKERS": "1"})
        worker = None
        try:
            server.create_registry("benchreg", port=free_port())
            throughput(server, "benchreg", 2, "warming up (the bash image is built once)")
            three_step(server, "benchreg", context, args.rounds)
            one = throughput(server, "benchreg", args.runs, "1 worker (the server's pool)")
            worker = start_worker(server, root / "worker-home")
            two = throughput(
                server, "benchreg", args.runs, "2 workers (the pool and an airlock worker)"
            )
            print(f"two workers against one: {two / one:.2f}x the runs per minute")
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(60)
            server.stop()
            for state in (home, root / "worker-home"):
                shutil.rmtree(EnginePaths.of(state).run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
