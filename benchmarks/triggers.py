"""Measure triggers: base push to dependent run, fan-out to many dependents, webhook to run.

    .venv/bin/python benchmarks/triggers.py [--dependents 50]

Prints, in one run of this script (a real server and podman, images built from busybox):

1. the delay from a base image's push (the moment the registry stored the tag) to its one
   dependent task's run being queued and started (target: under 1 s);
2. with --dependents tasks built on one base image: the time from the base push until all of
   their runs are queued (target: under 1 s) and until all have finished, with the core count;
3. the delay from a commit webhook call to its run being queued (target: under 1 s).

Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.support.servers import Airlock, free_port, start_airlock  # noqa: E402

from airlock.engine import EnginePaths  # noqa: E402

BASE_FILE = "FROM scratch\nCOPY busybox /bin/busybox\nENV COLOR={color}\n"
APP_FILE = 'ARG BASE\nFROM ${BASE}\nCMD ["/bin/busybox", "echo", "app"]\n'


def moment(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def api(server: Airlock, method: str, path: str, body: object = None) -> Any:
    status, answer = server.api(method, path, body)
    assert status < 300, (method, path, status, answer)
    return answer


def wait_final(server: Airlock, registry: str, run_id: str) -> dict[str, Any]:
    while True:
        run = api(server, "GET", f"/api/registries/{registry}/runs/{run_id}")
        if run["status"] not in ("Queued", "Running"):
            assert run["status"] == "Succeeded", run
            return dict(run)
        time.sleep(0.05)


def build_base(server: Airlock, folder: Path, color: str) -> float:
    """Push a new base image; the time the registry stored its tag."""
    (folder / "Dockerfile").write_text(BASE_FILE.format(color=color))
    run = api(server, "POST", "/api/registries/benchbase/runs", {
        "kind": "dockerfile", "fileName": "Dockerfile", "context": str(folder),
        "images": ["base:1"]})  # fmt: skip
    wait_final(server, "benchbase", run["runId"])
    # When the registry stored the tag: the moment the push happened (the event).
    tag = api(server, "GET", "/api/registries/benchbase/repository?repository=base&reference=1")
    return moment(tag["tag"]["lastUpdateTime"])


def app_tasks(server: Airlock, folder: Path, count: int, prefix: str) -> list[str]:
    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text(APP_FILE)
    base = api(server, "GET", "/api/registries/benchbase")["loginServer"] + "/base:1"
    names = []
    for number in range(count):
        name = f"{prefix}{number:03d}"
        api(server, "POST", "/api/registries/benchapp/tasks", {
            "name": name, "kind": "dockerfile", "fileName": "Dockerfile",
            "context": str(folder), "images": [f"{name}:v1"], "noPush": True,
            "buildArgs": {"BASE": base}})  # fmt: skip
        names.append(name)
    # A first run of each records what it builds on.
    runs = [api(server, "POST", f"/api/registries/benchapp/tasks/{n}/runs", {}) for n in names]
    for run in runs:
        wait_final(server, "benchapp", run["runId"])
    return names


def triggered(server: Airlock, names: list[str], after: float) -> list[dict[str, Any]]:
    found = api(server, "GET", "/api/registries/benchapp/runs?top=1000&trigger=Image%20Update")
    return [r for r in found if r["task"] in names and moment(r["createTime"]) >= after - 1]


def fan_out(server: Airlock, base: Path, names: list[str], color: str) -> None:
    pushed = build_base(server, base, color)
    deadline = time.monotonic() + 600
    while len(runs := triggered(server, names, pushed)) < len(names):
        assert time.monotonic() < deadline, "the dependents were not all queued"
        time.sleep(0.05)
    queued = max(moment(r["createTime"]) for r in runs) - pushed
    ended = [wait_final(server, "benchapp", r["runId"]) for r in runs]
    started = min(moment(r["startTime"]) for r in ended) - pushed
    finished = max(moment(r["finishTime"]) for r in ended) - pushed
    if len(names) == 1:
        print(f"base push -> dependent run queued   {queued:6.3f} s   (target < 1 s)")
        print(f"base push -> dependent run started  {started:6.3f} s")
        return
    print(f"{len(names)} dependents of one base, {os.cpu_count()} cores:")
    print(f"  all {len(names)} runs queued after     {queued:6.3f} s   (target < 1 s)")
    print(f"  all {len(names)} runs finished after   {finished:6.1f} s")


def webhook(server: Airlock, folder: Path) -> None:
    repo = folder / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
    work = folder / "work"
    subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True, capture_output=True)
    (work / "f").write_text("1")
    git = ["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@x"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "main"], check=True, capture_output=True)
    task = api(server, "POST", "/api/registries/benchapp/tasks", {
        "name": "hooked", "kind": "cmd", "cmd": "bash echo {{.Run.Commit}}",
        "context": f"file://{repo}#main"})  # fmt: skip
    hook = api(server, "GET", "/api/registries/benchapp/tasks/hooked/webhook")
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    body = json.dumps({"ref": "refs/heads/main", "after": head.strip(),
                       "repository": {"name": "repo"}}).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(hook["url"], data=body, method="POST", headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature})  # fmt: skip
    sent = time.time()
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    run = api(server, "GET", f"/api/registries/benchapp/runs/{answer['queued']}")
    assert task["name"] == "hooked"
    print(f"commit webhook -> run queued        {moment(run['createTime']) - sent:6.3f} s   "
          "(target < 1 s)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dependents", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airlock-bench-triggers-") as folder:
        root = Path(folder)
        base = root / "base"
        base.mkdir()
        shutil.copy2("/bin/busybox", base / "busybox")
        home = root / "home"
        server = start_airlock(home)
        try:
            server.create_registry("benchbase", port=free_port())
            server.create_registry("benchapp", port=free_port())
            # The dependents pull their base anonymously (a task has no identity here).
            api(server, "PATCH", "/api/registries/benchbase", {"anonymousPullEnabled": True})
            build_base(server, base, "seed")
            one = app_tasks(server, root / "one", 1, "single")
            fan_out(server, base, one, "one")
            api(server, "PATCH", f"/api/registries/benchapp/tasks/{one[0]}",
                {"baseImageTriggerEnabled": False})  # fmt: skip
            many = app_tasks(server, root / "many", args.dependents, "fan")
            fan_out(server, base, many, "many")
            webhook(server, root)
        finally:
            server.stop()
            shutil.rmtree(EnginePaths.of(home).run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
