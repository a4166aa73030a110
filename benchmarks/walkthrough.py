"""Measure the walkthrough: ``airlock demo`` from a set-up machine, a commit of a new colour
to the page showing it, and whether the page ever stops answering while it is redeployed.

    .venv/bin/python benchmarks/walkthrough.py

Prints, in one run of this script (a server the demo starts, real git, podman and HTTP):

1. ``airlock demo --keep``: its total time and each phase's (target: under 3 minutes);
2. on what it kept running, one more commit (Purple) through node-public, the gate and
   hello-world: the time from ``git push`` to the page showing Purple, the time the three
   runs' steps took (the build and test containers' own time), and the rest, which is
   Airlock's (target: under 10 s);
3. the page polled every 50 ms from before that commit until after the redeploy: polls,
   failed polls (target: 0) and the longest time between two answers;

then ``airlock demo --clean``. Figures only; nothing here is asserted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.support.engine import reset_engine  # noqa: E402
from tests.support.servers import airlock_executable, free_port  # noqa: E402

from airlock.demo.console import strip_ansi  # noqa: E402

CHAIN = (("publicregistry", "node-public"), ("contosobaseartifacts", "base-import-node"),
         ("contoso", "hello-world"))  # fmt: skip
POLL_EVERY = 0.05


class Poller(threading.Thread):
    """GET the page every 50 ms; count answers, failures and the longest silence."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.polls = self.failures = 0
        self.longest_gap = 0.0
        self.colors: list[str] = []

    def run(self) -> None:
        last_answer = time.monotonic()
        while not self.stop.is_set():
            self.polls += 1
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    body = answer.read().decode()
                now = time.monotonic()
                self.longest_gap = max(self.longest_gap, now - last_answer)
                last_answer = now
                found = re.search(r'id="background-color">([A-Za-z]+)<', body)
                color = found.group(1) if found else "?"
                if not self.colors or self.colors[-1] != color:
                    self.colors.append(color)
            except OSError:
                self.failures += 1
            time.sleep(POLL_EVERY)


def airlock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*airlock_executable(), *args], env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip


def runs(env: dict[str, str], registry: str) -> list[dict[str, Any]]:
    done = airlock(env, "acr", "task", "list-runs", "-r", registry, "-o", "json")
    return list(json.loads(done.stdout))


def moment(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def step_seconds(env: dict[str, str], registry: str, run_id: str) -> float:
    """From the run's first step start to its last step end: the containers' own time."""
    done = airlock(env, "acr", "task", "show-run", "-r", registry, "--run-id", run_id, "-o", "json")
    steps = [
        s for s in json.loads(done.stdout)["steps"] if s.get("startTime") and s.get("finishTime")
    ]
    if not steps:
        return 0.0
    return max(moment(s["finishTime"]) for s in steps) - min(moment(s["startTime"]) for s in steps)


def git(cwd: Path, *args: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "Bench",
           "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.invalid"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="airlock-bench-walkthrough-"))
    port = free_port()
    env = {**os.environ, "AIRLOCK_HOME": str(scratch / "home"),
           "AIRLOCK_CONFIG_DIR": str(scratch / "config"),
           "AIRLOCK_URL": f"http://127.0.0.1:{port}", "TMPDIR": str(scratch)}  # fmt: skip
    try:
        started = time.monotonic()
        kept = airlock(env, "demo", "--keep")
        total = time.monotonic() - started
        out = strip_ansi(kept.stdout)
        if kept.returncode != 0:
            print(out[-3000:] + kept.stderr, file=sys.stderr)
            return 1
        summary = out[out.index("== Summary") :].split("\n== ", 1)[0].split("\n", 1)[1]
        url = re.findall(r"the app was at (http://\S+)", out)[-1]
        folder = next(scratch.glob("airlock-demo-*"))

        before = {registry: {r["runId"] for r in runs(env, registry)} for registry, _ in CHAIN}
        poller = Poller(url)
        poller.start()
        time.sleep(1.0)
        work = folder / "base-image-node"
        dockerfile = work / "Dockerfile"
        dockerfile.write_text(re.sub(r"ENV BACKGROUND_COLOR \w+", "ENV BACKGROUND_COLOR Purple",
                                     dockerfile.read_text()))  # fmt: skip
        git(work, "commit", "--quiet", "-am", "BACKGROUND_COLOR Purple")
        pushed = time.monotonic()
        git(work, "push", "--quiet", "origin", "main")
        deadline = pushed + 300
        while poller.colors[-1:] != ["Purple"] and time.monotonic() < deadline:
            time.sleep(0.01)
        shown = time.monotonic() - pushed
        time.sleep(1.0)
        poller.stop.set()
        poller.join()

        containers = 0.0
        for registry, task in CHAIN:
            fresh = [r for r in runs(env, registry)
                     if r["runId"] not in before[registry] and r["task"] == task]  # fmt: skip
            if fresh:
                containers += step_seconds(env, registry, fresh[0]["runId"])

        print("airlock demo (2 cores, from a set-up machine):")
        print(f"  total                                   {total:6.1f} s   (target < 180 s)")
        print("  " + summary.replace("\n", "\n  ").strip())
        print("one more commit (Purple) through node-public, the gate and hello-world:")
        print(f"  git push -> page shows Purple                  {shown:6.1f} s")
        print(f"  the three runs' steps (build/test/push/deploy) {containers:6.1f} s")
        rest = shown - containers
        print(f"  the rest (Airlock's: triggers, queueing)       {rest:6.1f} s   (target < 10 s)")
        print(f"page polled every {POLL_EVERY * 1000:.0f} ms through the redeploy:")
        print(f"  polls {poller.polls}, failed {poller.failures} (target 0), "
              f"longest time between answers {poller.longest_gap:.2f} s, "
              f"colours seen {' -> '.join(poller.colors)}")  # fmt: skip
        return 0
    finally:
        airlock(env, "demo", "--clean")
        reset_engine(scratch / "home")
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


if __name__ == "__main__":
    raise SystemExit(main())
