"""One step of a task file: a YAML mapping -> :class:`Step` (acr-builder ``graph/step.go``)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import yaml

from airlock.tasks.model import IMMEDIATE, ROOT_ID, Step, StepKind, VolumeMount
from airlock.tasks.nodes import Reader, column_of, line_of

Convert = Callable[[Reader, yaml.Node, str], Any]


def _mounts(reader: Reader, node: yaml.Node, what: str) -> tuple[VolumeMount, ...]:
    mounts = []
    for item in reader.sequence(node, what):
        fields = {k: (kn, v) for k, kn, v in reader.mapping(item, "a volume mount")}
        for key, (key_node, _) in fields.items():
            if key not in ("name", "mountPath"):
                reader.unknown(key, key_node, "a volume mount", ("name", "mountPath"))
        for need in ("name", "mountPath"):
            if need not in fields:
                raise reader.fail(item, f"a volume mount needs '{need}'")
        name = reader.string(fields["name"][1], "name")
        path = reader.string(fields["mountPath"][1], "mountPath")
        mounts.append(VolumeMount(name, path, line_of(item), column_of(item)))
    return tuple(mounts)


# YAML key -> (Step field, conversion). The keys are acr-builder's Step yaml tags; `tags` is the
# lower-cased Go field name yaml.v2 falls back to.
PROPERTIES: dict[str, tuple[str, Convert]] = {
    "id": ("id", Reader.string),
    "cmd": ("cmd", Reader.string),
    "build": ("build", Reader.string),
    "push": ("push", Reader.strings),
    "when": ("when", Reader.strings),
    "env": ("env", Reader.strings),
    "timeout": ("timeout", Reader.seconds),
    "retries": ("retries", Reader.integer),
    "retryDelay": ("retry_delay", Reader.seconds),
    "retryOnErrors": ("retry_on_errors", Reader.strings),
    "repeat": ("repeat", Reader.integer),
    "startDelay": ("start_delay", Reader.seconds),
    "ignoreErrors": ("ignore_errors", Reader.boolean),
    "detach": ("detach", Reader.boolean),
    "keep": ("keep", Reader.boolean),
    "privileged": ("privileged", Reader.boolean),
    "pull": ("pull", Reader.boolean),
    "disableWorkingDirectoryOverride": ("disable_working_directory_override", Reader.boolean),
    "workingDirectory": ("working_directory", Reader.string),
    "entryPoint": ("entry_point", Reader.string),
    "user": ("user", Reader.string),
    "network": ("network", Reader.string),
    "isolation": ("isolation", Reader.string),
    "cpus": ("cpus", Reader.string),
    "cache": ("cache", Reader.string),
    "ports": ("ports", Reader.strings),
    "expose": ("expose", Reader.strings),
    "exitedWith": ("exited_with", Reader.integers),
    "exitedWithout": ("exited_without", Reader.integers),
    "volumeMounts": ("volume_mounts", _mounts),
    "tags": ("tags", Reader.strings),
}
KNOWN = tuple(PROPERTIES)


def read_step(reader: Reader, node: yaml.Node, index: int, defaults: dict[str, Any]) -> Step:
    """Read step number ``index`` (0-based); ``defaults`` are the task-level stamps."""
    fields: dict[str, Any] = {}
    for key, key_node, value_node in reader.mapping(node, f"step {index + 1}"):
        if key not in PROPERTIES:
            reader.unknown(key, key_node, "a step", KNOWN)
            continue
        name, convert = PROPERTIES[key]
        fields[name] = convert(reader, value_node, f"'{key}'")
    kind = _kind(reader, node, fields)
    _check(reader, node, fields, kind)
    return _assemble(node, index, fields, kind, defaults)


def _kind(reader: Reader, node: yaml.Node, fields: dict[str, Any]) -> StepKind:
    # acr-builder: a kind counts only when non-empty (IsCmdStep: Cmd != "").
    kinds = [k for k in StepKind if fields.get(k.value)]
    if not kinds:
        raise reader.fail(node, "step has no 'build', 'cmd' or 'push'; each step needs one")
    if len(kinds) > 1:
        names = " and ".join(f"'{k.value}'" for k in kinds)
        raise reader.fail(node, f"step has {names}; a step is exactly one of build, cmd, push")
    return kinds[0]


def _check(reader: Reader, node: yaml.Node, fields: dict[str, Any], kind: StepKind) -> None:
    step_id = fields.get("id", "")
    if " " in step_id or "\t" in step_id:
        raise reader.fail(node, f"step id '{step_id}' contains a space; ids cannot")
    if step_id == ROOT_ID:
        raise reader.fail(node, f"step id '{ROOT_ID}' is reserved")
    when = fields.get("when", ())
    if IMMEDIATE in when and len(when) > 1:
        raise reader.fail(node, "when: '-' (start at once) cannot be combined with step ids")
    if step_id and step_id in when:
        raise reader.fail(node, f"step '{step_id}' names itself in 'when'")
    for entry in fields.get("env", ()):
        if "=" not in entry:
            raise reader.fail(node, f"env entry {entry!r} is not NAME=value")
    cache = fields.get("cache")
    if cache is not None and cache.lower() not in ("enabled", "disabled"):
        raise reader.fail(node, f"cache must be 'enabled' or 'disabled', not {cache!r}")
    if fields.get("volume_mounts") and kind is not StepKind.CMD:
        raise reader.fail(node, "volumeMounts are only allowed on cmd steps")
    paths = [m.mount_path for m in fields.get("volume_mounts", ())]
    if len(paths) != len(set(paths)):
        raise reader.fail(node, "volumeMounts has two mounts on the same mountPath")


def _assemble(
    node: yaml.Node, index: int, fields: dict[str, Any], kind: StepKind, defaults: dict[str, Any]
) -> Step:
    explicit = bool(fields.get("id"))
    fields["id"] = fields.get("id") or f"acb_step_{index}"
    # acr-builder stamps the task's stepTimeout on steps with timeout <= 0, and retryDelay 5.
    if not fields.get("timeout"):
        fields["timeout"] = defaults["timeout"]
    if not fields.get("retry_delay"):
        fields.pop("retry_delay", None)
    if not fields.get("working_directory") and defaults.get("working_directory"):
        fields["working_directory"] = defaults["working_directory"]
    fields["env"] = merge_env(fields.get("env", ()), defaults.get("env", ()))
    if kind is StepKind.BUILD:
        words = _words(fields["build"])
        fields["tags"] = fields.get("tags") or _flag_values(words, ("-t", "--tag"))
        fields["build_args"] = _flag_values(words, ("--build-arg",))
    return Step(
        kind=kind, line=line_of(node), column=column_of(node), explicit_id=explicit, **fields
    )


def merge_env(step_env: tuple[str, ...], task_env: tuple[str, ...]) -> tuple[str, ...]:
    """The step's env, then each task env entry whose name the step did not set (mergeEnvs)."""
    names = {entry.split("=", 1)[0] for entry in step_env}
    return step_env + tuple(e for e in task_env if e.split("=", 1)[0] not in names)


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # an unbalanced quote: fall back to spaces, as util.ParseTags does
        return command.split()


def _flag_values(words: list[str], flags: tuple[str, ...]) -> tuple[str, ...]:
    values = []
    for i, word in enumerate(words):
        if word in flags and i + 1 < len(words):
            values.append(words[i + 1])
        for flag in flags:
            if flag.startswith("--") and word.startswith(flag + "="):
                values.append(word[len(flag) + 1 :])
    return tuple(values)
