"""Task YAML -> :class:`TaskFile`, or a :class:`TaskFileError` naming file, line and column.

How ACR reads a task file (Azure/acr-builder): the whole file is first a Go template, rendered
with the run's values (``templating``), aliases (``$Registry``...) are expanded
(``graph/preprocessor.go``), and only then is the text YAML-decoded (``graph/task.go``
``NewTaskFromBytes``), validated (``Step.Validate``) and turned into a DAG (``graph/dag.go``).

So for a run the entry point is :func:`airlock.tasks.render.render_and_load` (render, then
:func:`load_task`). :func:`load_task` also accepts a raw, unrendered file so a task can be
linted without values: before YAML parsing each ``{{...}}`` action is replaced by a placeholder
of the same length (line and column stay true), and put back into the strings afterwards.
This is why ``- {{.Run.Registry}}/app`` (which YAML would read as a flow mapping) still lints.
Choice: lint accepts any action that sits inside what becomes a YAML scalar; an action that
produces YAML structure (``{{ toYaml .Values.x }}`` on its own line) is checked only after
rendering.

Where Airlock is stricter than ACR (documented in docs/task-yaml.md): a file with no steps,
more than one YAML document, duplicate keys, or a ``when`` naming a later step is refused.
Unknown keys, which ACR silently ignores, become warnings (errors with ``strict=True``).
"""

from __future__ import annotations

import re
from typing import Any, cast

import yaml

from airlock.tasks import graph
from airlock.tasks.errors import TaskFileError
from airlock.tasks.model import (
    DEFAULT_STEP_TIMEOUT,
    DEFAULT_VERSION,
    VALID_VERSIONS,
    Alias,
    Network,
    Secret,
    Step,
    TaskFile,
    Volume,
)
from airlock.tasks.nodes import Reader, line_of
from airlock.tasks.steps import read_step
from airlock.tasks.template import find_actions

TOP_LEVEL = (
    "version",
    "steps",
    "stepTimeout",
    "totalTimeout",
    "workingDirectory",
    "env",
    "secrets",
    "networks",
    "volumes",
    "alias",
)
_PLACEHOLDER = re.compile(r"Zq(\d+)_*q")


def load_task(text: str, *, source: str, strict: bool = False) -> TaskFile:
    """Parse and validate one task file; raise :class:`TaskFileError` when it is refused."""
    masked, actions = _mask(text)
    root = _compose(masked, source)
    reader = Reader(source, strict)
    fields = {k: (kn, v) for k, kn, v in reader.mapping(root, "a task file")}
    for key, (key_node, _) in fields.items():
        if key not in TOP_LEVEL:
            reader.unknown(key, key_node, "the task file", TOP_LEVEL)
    task = _task(reader, root, fields)
    task = cast(TaskFile, _unmask(task, actions))
    graph.TaskGraph.build(task)  # refuses unknown `when` ids and cycles, located
    return task


def _mask(text: str) -> tuple[str, dict[int, str]]:
    actions: dict[int, str] = {}
    parts, pos = [], 0
    for i, (start, end) in enumerate(find_actions(text)):
        action = text[start:end]
        actions[i] = action
        token = f"Zq{i}q"
        if "\n" not in action and len(action) >= len(token):
            token = f"Zq{i}" + "_" * (len(action) - len(token)) + "q"
        parts += [text[pos:start], token]
        pos = end
    parts.append(text[pos:])
    return "".join(parts), actions


def _unmask(value: Any, actions: dict[int, str]) -> Any:
    if not actions:
        return value
    if type(value) is str:  # not StepKind, which is a str too
        return _PLACEHOLDER.sub(lambda m: actions[int(m.group(1))], value)
    if isinstance(value, tuple):
        return tuple(_unmask(v, actions) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        changes = {n: _unmask(getattr(value, n), actions) for n in value.__dataclass_fields__}
        return type(value)(**changes)
    return value


def _compose(text: str, source: str) -> yaml.Node:
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise TaskFileError(source, line, col, f"not valid YAML: {err.problem}") from None
    if not documents or documents[0] is None:
        raise TaskFileError(source, 1, 1, "empty task file: it needs a 'steps' list")
    if len(documents) > 1:
        second = documents[1]
        raise TaskFileError(
            source,
            line_of(second),
            1,
            "a task file is one YAML document; a second one starts here "
            "(is this a Kubernetes manifest?)",
        )
    root: yaml.Node = documents[0]
    return root


def _task(reader: Reader, root: yaml.Node, fields: dict[str, Any]) -> TaskFile:
    def get(key: str) -> yaml.Node | None:
        return fields[key][1] if key in fields else None

    version = _version(reader, get("version"))
    timeout = reader.seconds(n, "'stepTimeout'") if (n := get("stepTimeout")) else 0
    total = reader.seconds(n, "'totalTimeout'") if (n := get("totalTimeout")) else None
    workdir = reader.string(n, "'workingDirectory'") if (n := get("workingDirectory")) else None
    env = reader.strings(n, "'env'") if (n := get("env")) else ()
    for entry in env:
        if "=" not in entry:
            raise reader.fail(fields["env"][1], f"env entry {entry!r} is not NAME=value")
    step_timeout = timeout or DEFAULT_STEP_TIMEOUT
    defaults = {
        "timeout": step_timeout,
        "working_directory": workdir,
        "env": env,
    }
    steps_node = get("steps")
    if steps_node is None:
        raise reader.fail(root, "no 'steps': a task file needs a list of build, cmd or push steps")
    items = reader.sequence(steps_node, "'steps'")
    if not items:
        raise reader.fail(steps_node, "'steps' is empty: a task needs at least one step")
    steps = tuple(read_step(reader, node, i, defaults) for i, node in enumerate(items))
    volumes = _volumes(reader, get("volumes"))
    _check_mounts(reader, steps, volumes)
    return TaskFile(
        source=reader.source,
        steps=steps,
        version=version,
        step_timeout=step_timeout,
        total_timeout=total,
        working_directory=workdir,
        env=env,
        secrets=_secrets(reader, get("secrets")),
        networks=_networks(reader, get("networks")),
        volumes=volumes,
        alias=_alias(reader, get("alias")),
        warnings=tuple(reader.warnings),
    )


def _version(reader: Reader, node: yaml.Node | None) -> str:
    if node is None:
        return DEFAULT_VERSION
    version = reader.string(node, "'version'")
    if version.lower() not in VALID_VERSIONS:
        raise reader.fail(
            node, f"invalid version {version!r}; ACR accepts {', '.join(VALID_VERSIONS)}"
        )
    return version


def _entries(
    reader: Reader, node: yaml.Node | None, what: str, known: tuple[str, ...]
) -> list[tuple[yaml.Node, dict[str, yaml.Node]]]:
    """Each item of a list of mappings, with its keys checked against ``known``."""
    if node is None:
        return []
    result = []
    for item in reader.sequence(node, f"'{what}'"):
        fields = {}
        for key, key_node, value in reader.mapping(item, f"an item of '{what}'"):
            if key not in known:
                reader.unknown(key, key_node, f"an item of '{what}'", known)
            fields[key] = value
        result.append((item, fields))
    return result


def _secrets(reader: Reader, node: yaml.Node | None) -> tuple[Secret, ...]:
    secrets: list[Secret] = []
    for item, f in _entries(reader, node, "secrets", ("id", "keyvault", "clientID")):
        for need in ("id", "keyvault"):
            if need not in f or not reader.string(f[need], need):
                raise reader.fail(item, f"a secret needs '{need}'")
        secret_id = reader.string(f["id"], "id")
        if any(s.id == secret_id for s in secrets):
            raise reader.fail(item, f"duplicate secret id '{secret_id}'")
        client = reader.string(f["clientID"], "clientID") if "clientID" in f else None
        keyvault = reader.string(f["keyvault"], "keyvault")
        secrets.append(Secret(secret_id, keyvault, client, line_of(item)))
    return tuple(secrets)


def _networks(reader: Reader, node: yaml.Node | None) -> tuple[Network, ...]:
    known = ("name", "driver", "ipv6", "skipCreation", "isDefault")
    networks = []
    for item, f in _entries(reader, node, "networks", known):
        if "name" not in f:
            raise reader.fail(item, "a network needs 'name'")
        networks.append(
            Network(
                name=reader.string(f["name"], "name"),
                driver=reader.string(f["driver"], "driver") if "driver" in f else None,
                ipv6=reader.boolean(f["ipv6"], "ipv6") if "ipv6" in f else False,
                skip_creation="skipCreation" in f and reader.boolean(f["skipCreation"], "x"),
                is_default="isDefault" in f and reader.boolean(f["isDefault"], "isDefault"),
                line=line_of(item),
            )
        )
    return tuple(networks)


def _volumes(reader: Reader, node: yaml.Node | None) -> tuple[Volume, ...]:
    volumes: list[Volume] = []
    for item, f in _entries(reader, node, "volumes", ("name", "secret")):
        if "name" not in f or "secret" not in f:
            raise reader.fail(item, "a volume needs 'name' and 'secret'")
        name = reader.string(f["name"], "name")
        if any(v.name == name for v in volumes):
            raise reader.fail(item, f"duplicate volume name '{name}'")
        files = tuple(
            (key, reader.string(value, f"secret file '{key}'"))
            for key, _, value in reader.mapping(f["secret"], "a volume's 'secret'")
        )
        volumes.append(Volume(name, files, line_of(item)))
    return tuple(volumes)


def _check_mounts(reader: Reader, steps: tuple[Step, ...], volumes: tuple[Volume, ...]) -> None:
    names = {v.name for v in volumes}
    for step in steps:
        for mount in step.volume_mounts:
            if mount.name not in names:
                message = f"volume mount names unknown volume '{mount.name}'"
                raise TaskFileError(reader.source, mount.line, mount.column, message)


def _alias(reader: Reader, node: yaml.Node | None) -> Alias:
    if node is None:
        return Alias()
    fields = {k: v for k, _, v in reader.mapping(node, "'alias'")}
    values: tuple[tuple[str, str], ...] = ()
    if "values" in fields:
        pairs = reader.mapping(fields["values"], "'alias.values'")
        values = tuple((k, reader.string(v, f"alias '{k}'")) for k, _, v in pairs)
    src = reader.strings(fields["src"], "'alias.src'") if "src" in fields else ()
    directive = reader.string(fields["directive"], "directive") if "directive" in fields else "$"
    return Alias(values, src, directive)
