"""The step DAG, with acr-builder's rules (``graph/dag.go`` ``NewDagFromTask``):

- a step without ``when`` runs after the step before it (the first one at once);
- ``when: ["-"]`` starts at once;
- ``when: [a, b]`` waits for ``a`` and ``b``;
- a step whose dependency failed never runs, nor anything downstream of it; a failure of a
  step with ``ignoreErrors: true`` counts as done.

acr-builder adds vertices in file order, so a ``when`` naming a later step is an error there
("does not exist as a vertex"); Airlock refuses it too, and reports a cycle as such first
because that is the clearer message.

The runner drives execution with :meth:`TaskGraph.ready` and :meth:`TaskGraph.blocked`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airlock.tasks.errors import TaskFileError
from airlock.tasks.model import Step, TaskFile


@dataclass(frozen=True)
class TaskGraph:
    steps: tuple[Step, ...]
    parents: dict[str, tuple[str, ...]]  # step id -> the ids it waits for

    @classmethod
    def build(cls, task: TaskFile) -> TaskGraph:
        _check_ids(task)
        parents = {s.id: _parents(task.steps, i) for i, s in enumerate(task.steps)}
        graph = cls(task.steps, parents)
        graph._check_references(task.source)
        return graph

    def children(self, step_id: str) -> list[str]:
        return [s.id for s in self.steps if step_id in self.parents[s.id]]

    def execution_order(self) -> list[Step]:
        """A topological order; among steps ready together, file order."""
        done: set[str] = set()
        order: list[Step] = []
        while len(order) < len(self.steps):
            wave = self.ready(done, set(), started={s.id for s in order})
            order += wave
            done |= {s.id for s in wave}
        return order

    def ready(
        self, done: Iterable[str], failed: Iterable[str], started: Iterable[str] = ()
    ) -> list[Step]:
        """Steps not yet started whose dependencies all succeeded (or failed but are ignored)."""
        satisfied = set(done) | {i for i in failed if self._by_id(i).ignore_errors}
        seen = set(done) | set(failed) | set(started)
        return [
            s
            for s in self.steps
            if s.id not in seen and all(p in satisfied for p in self.parents[s.id])
        ]

    def blocked(self, failed: Iterable[str]) -> set[str]:
        """Every step that can no longer run because of ``failed`` (transitively)."""
        stop = [i for i in failed if not self._by_id(i).ignore_errors]
        blocked: set[str] = set()
        while stop:
            for child in self.children(stop.pop()):
                if child not in blocked:
                    blocked.add(child)
                    stop.append(child)
        return blocked

    def _by_id(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def _check_references(self, source: str) -> None:
        position = {s.id: i for i, s in enumerate(self.steps)}
        for step in self.steps:
            for dep in step.when:
                if dep != "-" and dep not in position:
                    known = ", ".join(position) or "none"
                    raise _fail(source, step, f"when names unknown step '{dep}' (steps: {known})")
        cycle = self._find_cycle()
        if cycle:
            first = self._by_id(cycle[0])
            raise _fail(source, first, "steps wait for each other: " + " -> ".join(cycle))
        for i, step in enumerate(self.steps):
            for dep in step.when:
                if dep != "-" and position[dep] > i:
                    raise _fail(
                        source,
                        step,
                        f"when names '{dep}', a later step; ACR only lets a step wait for "
                        "steps above it",
                    )

    def _find_cycle(self) -> list[str]:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
        path: list[str] = []

        def visit(node: str) -> list[str]:
            state[node] = 1
            path.append(node)
            for parent in self.parents[node]:
                if state.get(parent) == 1:
                    return [*path[path.index(parent) :], parent]
                if parent not in state and (found := visit(parent)):
                    return found
            path.pop()
            state[node] = 2
            return []

        for step in self.steps:
            if step.id not in state and (found := visit(step.id)):
                return list(reversed(found))
        return []


def _parents(steps: tuple[Step, ...], index: int) -> tuple[str, ...]:
    step = steps[index]
    if step.starts_immediately:
        return ()
    if not step.when:
        return (steps[index - 1].id,) if index else ()
    return step.when


def _check_ids(task: TaskFile) -> None:
    seen: set[str] = set()
    for step in task.steps:
        if step.id in seen:
            raise _fail(task.source, step, f"duplicate step id '{step.id}'")
        seen.add(step.id)


def _fail(source: str, step: Step, message: str) -> TaskFileError:
    return TaskFileError(source, step.line, step.column, message)
