"""What a task or a quick run runs, read from a request body and checked whole.

Three kinds (the CLI says which in ``kind``):

- ``file``: a task file (``file`` holds its text, ``fileName`` its name for error messages);
- ``cmd``: one command (``cmd``), run as a one-step task;
- ``dockerfile``: a Dockerfile of the context (``fileName``, relative to the context) built and
  pushed as ``images`` (``--image``, templated), with ``buildArgs``, ``secretBuildArgs``,
  ``target`` and ``noPush``.

A file or command is loaded and its step graph built (``acr task validate``), and whatever
Airlock cannot run on this machine is refused (``check_task``), before anything is stored or
queued. The context is parsed and, when asked, checked to answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airlock.errors import InvalidArgumentError
from airlock.runner import ContextKind, ContextSpec, parse_context
from airlock.runner.paths import check_relative
from airlock.runner.plan import KIND_CMD, KIND_DOCKERFILE, KIND_FILE, DockerfileBuild
from airlock.runner.service import dockerfile_json
from airlock.runner.support import check_task
from airlock.server.routes.common import boolean, strings, text
from airlock.tasks.errors import TaskFileError
from airlock.tasks.validate import validate
from airlock.vault.masking import MASKER

KINDS = (KIND_FILE, KIND_CMD, KIND_DOCKERFILE)
DEFINITION_FIELDS = (
    "kind",
    "file",
    "fileName",
    "cmd",
    "images",
    "buildArgs",
    "secretBuildArgs",
    "target",
    "noPush",
)
MAX_IMAGES = 32


@dataclass(frozen=True)
class Definition:
    kind: str
    definition: str  # a file's or command task's YAML; a Dockerfile build's JSON
    source: str  # the file name errors name
    dockerfile: DockerfileBuild | None = None

    @property
    def secret_build_args(self) -> dict[str, str]:
        return dict(self.dockerfile.secret_build_args) if self.dockerfile else {}


def kind_of(body: dict[str, Any]) -> str | None:
    kind = text(body, "kind")
    if kind is None:
        if body.get("file") is not None:
            return KIND_FILE
        if body.get("cmd") is not None:
            return KIND_CMD
        return None
    if kind not in KINDS:
        raise InvalidArgumentError(f"'kind' must be one of {', '.join(KINDS)}, not {kind[:20]!r}")
    return kind


def read_definition(body: dict[str, Any], values: dict[str, Any]) -> Definition:
    """The definition the body gives (``kind`` required, or implied by ``file``/``cmd``),
    checked with ``values`` as a run would render it."""
    kind = kind_of(body)
    if kind is None:
        raise InvalidArgumentError("give a task file (--file) or a command (--cmd)")
    if kind == KIND_DOCKERFILE:
        return Definition(KIND_DOCKERFILE, "", "", read_dockerfile(body, {}))
    file, cmd = text(body, "file"), text(body, "cmd")
    if kind == KIND_FILE and (file is None or cmd is not None):
        raise InvalidArgumentError("a task file needs 'file' (and no 'cmd')")
    if kind == KIND_CMD and (cmd is None or file is not None):
        raise InvalidArgumentError("a command task needs 'cmd' (and no 'file')")
    source = (text(body, "fileName", limit=255) or "acb.yaml") if kind == KIND_FILE else "cmd"
    definition = file if file is not None else cmd_task(cmd or "")
    check_definition(definition, source, values)
    return Definition(kind, definition, source)


def check_definition(definition: str, source: str, values: dict[str, Any]) -> None:
    try:
        loaded = validate(definition, source=source, values=values or None)
        check_task(loaded.task)
    except TaskFileError as exc:
        raise InvalidArgumentError(str(exc), "InvalidTaskFile") from None


def read_dockerfile(body: dict[str, Any], current: dict[str, Any]) -> DockerfileBuild:
    """A Dockerfile build from the body, over ``current`` (a stored task's) for an update."""
    merged = {**current, **{k: v for k, v in body.items() if v is not None}}
    dockerfile = text(merged, "fileName", limit=255) or merged.get("dockerfile") or "Dockerfile"
    check_relative(str(dockerfile), f"the Dockerfile '{dockerfile}'")
    images = strings(merged, "images")
    if len(images) > MAX_IMAGES:
        raise InvalidArgumentError(f"at most {MAX_IMAGES} --image values")
    build_args = _pairs(merged, "buildArgs")
    secret_args = _pairs(merged, "secretBuildArgs")
    MASKER.add_many(secret_args.values())
    no_push = boolean(merged, "noPush") or False
    if not images and not no_push:
        raise InvalidArgumentError(
            "a Dockerfile build needs --image REPOSITORY:TAG (or --no-push to build only)"
        )
    return DockerfileBuild(
        dockerfile=str(dockerfile),
        images=images,
        build_args=tuple(build_args.items()),
        secret_build_args=tuple(secret_args.items()),
        target=text(merged, "target", limit=128),
        push=not no_push,
    )


def stored_dockerfile(definition: str) -> dict[str, Any]:
    """A stored Dockerfile task's fields, as the body names them (for an update)."""
    data: dict[str, Any] = json.loads(definition)
    return {
        "fileName": data.get("dockerfile"),
        "images": data.get("images") or [],
        "buildArgs": data.get("buildArgs") or {},
        "target": data.get("target"),
        "noPush": bool(data.get("noPush")),
    }


def dockerfile_definition(build: DockerfileBuild) -> str:
    return json.dumps(dockerfile_json(build), sort_keys=True)


def read_context(body: dict[str, Any]) -> ContextSpec:
    # A relative path means nothing to the server: the CLI sends absolute ones.
    return parse_context(text(body, "context") or "/dev/null")


def on_this_machine(context: ContextSpec) -> bool:
    """A context the server reads with its own rights: a folder or a local repository."""
    return context.kind is ContextKind.LOCAL or (
        context.kind is ContextKind.GIT
        and not (context.is_http or context.location.startswith("git://"))
    )


def cmd_task(cmd: str) -> str:
    """``--cmd``: a one-step task running the command."""
    if "\n" in cmd or not cmd.strip():
        raise InvalidArgumentError("--cmd is one command line")
    escaped = cmd.replace("\\", "\\\\").replace('"', '\\"')
    return f'version: v1.1.0\nsteps:\n  - cmd: "{escaped}"\n'


def mapping(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidArgumentError(f"{key!r} must be an object of names to values")
    return value


def _pairs(body: dict[str, Any], key: str) -> dict[str, str]:
    found = mapping(body, key)
    for name, value in found.items():
        if not name or "=" in name or not isinstance(value, str):
            raise InvalidArgumentError(f"{key!r} must map argument names to string values")
    return {name: str(value) for name, value in found.items()}
