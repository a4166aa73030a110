"""The step DAG: acr-builder's ordering, ready sets and failure propagation."""

from __future__ import annotations

from airlock.tasks import TaskGraph, load_task


def graph(text: str) -> TaskGraph:
    return TaskGraph.build(load_task(text, source="t"))


def ids(steps: list) -> list[str]:  # type: ignore[type-arg]
    return [s.id for s in steps]


SEQUENTIAL = "steps:\n  - cmd: a\n  - cmd: b\n  - cmd: c\n"
FAN = """steps:
  - id: a
    cmd: a
  - id: b
    cmd: b
    when: ['-']
  - id: c
    cmd: c
    when: [a]
  - id: d
    cmd: d
    when: [a]
  - id: e
    cmd: e
    when: [c, d]
"""


def test_sequential_default() -> None:
    g = graph(SEQUENTIAL)
    assert ids(g.ready(set(), set())) == ["acb_step_0"]
    assert ids(g.ready({"acb_step_0"}, set(), started={"acb_step_0"})) == ["acb_step_1"]
    assert ids(g.execution_order()) == ["acb_step_0", "acb_step_1", "acb_step_2"]


def test_dash_starts_at_once_and_fan_out_fan_in() -> None:
    g = graph(FAN)
    assert ids(g.ready(set(), set())) == ["a", "b"]
    assert ids(g.ready({"a"}, set(), started={"b"})) == ["c", "d"]
    assert ids(g.ready({"a", "c"}, set(), started={"b", "d"})) == []
    assert ids(g.ready({"a", "c", "d"}, set(), started={"b"})) == ["e"]


def test_step_without_when_follows_the_previous_even_after_a_dash_step() -> None:
    g = graph("steps:\n  - cmd: a\n  - cmd: b\n    when: ['-']\n  - cmd: c\n")
    assert g.parents == {"acb_step_0": (), "acb_step_1": (), "acb_step_2": ("acb_step_1",)}


def test_failure_stops_dependents_transitively_but_not_siblings() -> None:
    g = graph(FAN)
    assert g.blocked({"a"}) == {"c", "d", "e"}
    assert ids(g.ready(set(), {"a"}, started={"b"})) == []
    assert g.blocked({"c"}) == {"e"}


def test_ignore_errors_counts_as_done() -> None:
    g = graph("steps:\n  - cmd: a\n    ignoreErrors: true\n  - cmd: b\n")
    assert g.blocked({"acb_step_0"}) == set()
    assert ids(g.ready(set(), {"acb_step_0"})) == ["acb_step_1"]
