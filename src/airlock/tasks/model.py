"""Value types of an ACR task file, as Azure/acr-builder reads them (``graph/task.go``,
``graph/step.go``, ``secretmgmt``, ``pkg/volume``).

Frozen, I/O-free, and each keeps the ``line``/``column`` it came from so later stages (graph,
runner) can report located errors. Defaults are stamped by the loader the way acr-builder's
``Task.initialize`` does: a step without ``timeout`` gets the task's ``stepTimeout``, a step
without ``retryDelay`` gets 5 seconds, a step without ``id`` is ``acb_step_<index>``, and the
task's ``env`` is merged under each step's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# acr-builder graph/task.go: validTaskVersions (compared lower-cased); "" means currentTaskVersion.
VALID_VERSIONS = ("1.0-preview-1", "v1.0.0", "v1.1.0")
DEFAULT_VERSION = "v1.0.0"
DEFAULT_STEP_TIMEOUT = 600  # defaultStepTimeoutInSeconds
DEFAULT_RETRY_DELAY = 5  # defaultStepRetryDelayInSeconds
IMMEDIATE = "-"  # ImmediateExecutionToken: `when: ["-"]` starts at once
ROOT_ID = "acb_root"  # reserved by the DAG


class StepKind(StrEnum):
    BUILD = "build"
    CMD = "cmd"
    PUSH = "push"


@dataclass(frozen=True)
class TaskWarning:
    """Something ACR silently accepts but Airlock wants the author to see (e.g. an unknown key)."""

    line: int
    column: int
    message: str


@dataclass(frozen=True)
class Secret:
    id: str
    keyvault: str
    client_id: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Network:
    name: str
    driver: str | None = None
    ipv6: bool = False
    skip_creation: bool = False
    is_default: bool = False
    line: int = 0


@dataclass(frozen=True)
class Volume:
    """A named volume; ``secret`` maps file names to base64 contents (acr-builder pkg/volume)."""

    name: str
    secret: tuple[tuple[str, str], ...] = ()
    line: int = 0


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Alias:
    values: tuple[tuple[str, str], ...] = ()
    src: tuple[str, ...] = ()
    directive: str = "$"


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    line: int
    column: int
    build: str | None = None
    cmd: str | None = None
    push: tuple[str, ...] = ()
    explicit_id: bool = True
    when: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int = DEFAULT_STEP_TIMEOUT
    retries: int = 0
    retry_delay: int = DEFAULT_RETRY_DELAY
    retry_on_errors: tuple[str, ...] = ()
    repeat: int = 0
    start_delay: int = 0
    ignore_errors: bool = False
    detach: bool = False
    keep: bool = False
    privileged: bool = False
    pull: bool = False
    disable_working_directory_override: bool = False
    working_directory: str | None = None
    entry_point: str | None = None
    user: str | None = None
    network: str | None = None
    isolation: str | None = None
    cpus: str | None = None
    cache: str | None = None
    ports: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    exited_with: tuple[int, ...] = ()
    exited_without: tuple[int, ...] = ()
    volume_mounts: tuple[VolumeMount, ...] = ()
    tags: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()

    @property
    def starts_immediately(self) -> bool:
        return self.when == (IMMEDIATE,)


@dataclass(frozen=True)
class TaskFile:
    source: str
    steps: tuple[Step, ...]
    version: str = DEFAULT_VERSION
    step_timeout: int = DEFAULT_STEP_TIMEOUT
    total_timeout: int | None = None
    working_directory: str | None = None
    env: tuple[str, ...] = ()
    secrets: tuple[Secret, ...] = ()
    networks: tuple[Network, ...] = ()
    volumes: tuple[Volume, ...] = ()
    alias: Alias = field(default_factory=Alias)
    warnings: tuple[TaskWarning, ...] = ()

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)
