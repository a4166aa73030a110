"""Watching task runs as the seed's ``watch -n1 az acr task list-runs`` does: until the run
the walkthrough expects has ended, with its status changes as progress lines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from airlock.demo.commands import AirlockCLI
from airlock.demo.console import Console
from airlock.demo.errors import DemoError

ENDED = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")


@dataclass(frozen=True)
class Expected:
    """One row of a run table: which task, started by what, ending how."""

    task: str
    trigger: str
    status: str


class RunWatcher:
    def __init__(self, cli: AirlockCLI, console: Console) -> None:
        self.cli = cli
        self.console = console

    def runs(self, registry: str) -> list[dict[str, Any]]:
        """Every run of the registry, oldest first."""
        found = self.cli.json("acr", "task", "list-runs", "-r", registry, "--top", "1000")
        return list(reversed(found or []))

    def seen(self, registry: str) -> set[str]:
        return {str(run["runId"]) for run in self.runs(registry)}

    def wait(
        self, registry: str, expected: Expected, since: set[str], timeout: float = 300.0
    ) -> dict[str, Any]:
        """The first run of ``expected.task`` not in ``since``, once it has ended with the
        expected trigger and status (else a DemoError naming what happened instead)."""
        deadline = time.monotonic() + timeout
        last_status = ""
        started = time.monotonic()
        while time.monotonic() < deadline:
            fresh = [
                run
                for run in self.runs(registry)
                if str(run["runId"]) not in since and run.get("task") == expected.task
            ]
            if fresh:
                run = fresh[0]
                status = str(run["status"])
                if status != last_status:
                    self.console.progress(
                        f"{registry}: run {run['runId']} of {expected.task} "
                        f"({run.get('trigger')}): {status}"
                    )
                    last_status = status
                if status in ENDED:
                    return self._check(registry, run, expected)
            time.sleep(0.5)
        waited = time.monotonic() - started
        raise DemoError(
            f"no {expected.trigger} run of {expected.task} in {registry} ended within "
            f"{waited:.0f} s (last status: {last_status or 'no run started'}); see "
            f"'airlock acr task list-runs -r {registry} -o table'"
        )

    def _check(self, registry: str, run: dict[str, Any], expected: Expected) -> dict[str, Any]:
        got = (run.get("trigger"), run.get("status"))
        if got != (expected.trigger, expected.status):
            raise DemoError(
                f"run {run['runId']} of {expected.task} in {registry} was {got[0]} / {got[1]}, "
                f"expected {expected.trigger} / {expected.status}; see "
                f"'airlock acr task logs -r {registry} --run-id {run['runId']}'"
            )
        return run

    def check_table(self, registry: str, expected: list[Expected]) -> None:
        """The registry's runs are exactly ``expected``, in order, and nothing else."""
        rows = [
            Expected(str(r.get("task")), str(r.get("trigger")), str(r.get("status")))
            for r in self.runs(registry)
        ]
        if rows != expected:
            listed = "; ".join(f"{r.task} {r.trigger} {r.status}" for r in rows)
            wanted = "; ".join(f"{r.task} {r.trigger} {r.status}" for r in expected)
            raise DemoError(f"the runs of {registry} are [{listed}], expected [{wanted}]")
