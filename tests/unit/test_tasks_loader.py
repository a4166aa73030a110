"""load_task: structure, types, defaults, and one test per error class with file:line:col."""

from __future__ import annotations

import pytest

from airlock.tasks import StepKind, TaskFileError, load_task


def refused(text: str) -> str:
    with pytest.raises(TaskFileError) as caught:
        load_task(text, source="t.yaml")
    return str(caught.value)


def test_defaults_follow_acr_builder() -> None:
    task = load_task(
        "steps:\n  - cmd: bash echo\n  - build: -t a:1 -t b --build-arg X=1 .\n", source="t"
    )
    assert task.version == "v1.0.0"
    first, second = task.steps
    assert (first.id, first.kind, first.timeout, first.retry_delay) == ("acb_step_0", "cmd", 600, 5)
    assert not first.explicit_id
    assert second.tags == ("a:1", "b") and second.build_args == ("X=1",)


def test_task_level_stamps_and_env_merge() -> None:
    text = "stepTimeout: 30\nenv: [A=1, B=2]\nsteps:\n  - cmd: x\n    env: [A=9]\n"
    step = load_task(text, source="t").steps[0]
    assert step.timeout == 30
    assert step.env == ("A=9", "B=2")


def test_template_actions_in_scalars_lint_without_values() -> None:
    text = "steps:\n  - push:\n    - {{.Run.Registry}}/app:{{.Run.ID}}\n"
    step = load_task(text, source="t").steps[0]
    assert step.kind is StepKind.PUSH
    assert step.push == ("{{.Run.Registry}}/app:{{.Run.ID}}",)


def test_bad_yaml_is_located() -> None:
    assert refused("steps:\n  - cmd: [unclosed\n").startswith("t.yaml:3:1: not valid YAML")


def test_wrong_type_is_located() -> None:
    assert refused("steps:\n  - cmd: x\n    retries: many\n") == (
        "t.yaml:3:14: 'retries' must be a whole number, not 'many'"
    )


def test_bad_duration() -> None:
    assert refused("steps:\n  - cmd: x\n    timeout: 10m\n") == (
        "t.yaml:3:14: 'timeout' must be a whole number of seconds, not '10m'"
    )


def test_missing_step_kind() -> None:
    assert refused("steps:\n  - id: a\n") == (
        "t.yaml:2:5: step has no 'build', 'cmd' or 'push'; each step needs one"
    )


def test_two_kinds_in_one_step() -> None:
    message = refused("steps:\n  - cmd: x\n    build: .\n")
    assert message == (
        "t.yaml:2:5: step has 'build' and 'cmd'; a step is exactly one of build, cmd, push"
    )


def test_unknown_property_warns_like_acr_or_fails_when_strict() -> None:
    text = "steps:\n  - cmd: x\n    whne: [a]\n"
    (warning,) = load_task(text, source="t").warnings
    assert (warning.line, warning.column) == (3, 5)
    assert "unknown property 'whne'" in warning.message and "when" in warning.message
    with pytest.raises(TaskFileError, match=r"^t:3:5: unknown property 'whne' in a step"):
        load_task(text, source="t", strict=True)


def test_duplicate_step_id() -> None:
    assert refused("steps:\n  - id: a\n    cmd: x\n  - id: a\n    cmd: y\n") == (
        "t.yaml:4:5: duplicate step id 'a'"
    )


def test_when_unknown_id() -> None:
    assert refused("steps:\n  - cmd: x\n    when: [nope]\n") == (
        "t.yaml:2:5: when names unknown step 'nope' (steps: acb_step_0)"
    )


def test_when_later_step_is_refused_like_acr() -> None:
    message = refused(
        "steps:\n  - id: a\n    cmd: x\n    when: [b]\n  - id: b\n    cmd: y\n    when: ['-']\n"
    )
    assert message.startswith("t.yaml:2:5: when names 'b', a later step")


def test_cycle() -> None:
    text = "steps:\n  - id: a\n    cmd: x\n    when: [b]\n  - id: b\n    cmd: y\n    when: [a]\n"
    assert refused(text) == "t.yaml:2:5: steps wait for each other: a -> b -> a"


def test_self_reference_and_dash_mixing() -> None:
    assert refused("steps:\n  - id: a\n    cmd: x\n    when: [a]\n").endswith(
        "step 'a' names itself in 'when'"
    )
    assert "cannot be combined" in refused(
        "steps:\n  - id: a\n    cmd: x\n  - cmd: y\n    when: ['-', a]\n"
    )


def test_version_and_empty_and_no_steps() -> None:
    assert refused("version: v2\nsteps:\n  - cmd: x\n").startswith(
        "t.yaml:1:10: invalid version 'v2'"
    )
    assert refused("") == "t.yaml:1:1: empty task file: it needs a 'steps' list"
    assert refused("version: v1.1.0\n").startswith("t.yaml:1:1: no 'steps'")


def test_volume_mount_needs_a_declared_volume() -> None:
    text = "steps:\n  - cmd: x\n    volumeMounts:\n      - name: v\n        mountPath: /m\n"
    assert refused(text) == "t.yaml:4:9: volume mount names unknown volume 'v'"


def test_secrets_are_read_and_checked() -> None:
    text = (
        "secrets:\n  - id: s\n    keyvault: https://v/secrets/s\n    clientID: c\n"
        "steps:\n  - cmd: x\n"
    )
    (secret,) = load_task(text, source="t").secrets
    assert (secret.id, secret.keyvault, secret.client_id, secret.line) == (
        "s",
        "https://v/secrets/s",
        "c",
        2,
    )
    assert (
        refused("secrets:\n  - id: s\nsteps:\n  - cmd: x\n")
        == "t.yaml:2:5: a secret needs 'keyvault'"
    )
