"""What a worker needs to execute one run, and nothing more: the plan.

The server prepares it when a worker claims the run (``airlock.runner.prepare``): the task's
definition and values, the key vault secrets its file names (resolved with the task's
identity), the registry logins (the run's own registry, and ``acr task credential``
entries), the context and its git token. A worker in the server's process gets the object;
an ``airlock worker`` process gets it as JSON over the worker API and never sees the
database, the vault or the master key.

Secret values travel in the plan (a worker cannot run a step without them) and are
registered with the worker's masker before anything is logged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KIND_FILE, KIND_CMD, KIND_DOCKERFILE = "file", "cmd", "dockerfile"


@dataclass(frozen=True, slots=True)
class RegistryLogin:
    server: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"RegistryLogin({self.server!r}, {self.username!r}, ***)"


@dataclass(frozen=True, slots=True)
class DockerfileBuild:
    """``acr build`` and Dockerfile tasks: build the file, tag it, push the tags."""

    dockerfile: str = "Dockerfile"
    images: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    secret_build_args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    push: bool = True


@dataclass(frozen=True, slots=True)
class RunPlan:
    run: str  # the run's uuid (runs.id)
    run_id: str  # what people see: ca1, ca2, ...
    registry: str  # the run's registry, as a login server (host:port)
    registry_name: str
    kind: str  # file | cmd | dockerfile
    definition: str  # the task file's text (file, cmd), unused for dockerfile
    source: str  # the file name errors name
    context: str
    created_at: str
    task_name: str = ""
    trigger: str = "Manual"
    platform: str = "linux"
    timeout: int = 3600
    values: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # .Secrets.x (key vault)
    masked: tuple[str, ...] = ()  # other values that must never show (secret values, args)
    git_token: str | None = None
    logins: tuple[RegistryLogin, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    dockerfile: DockerfileBuild | None = None
    commit: str = ""
    branch: str = ""
    identity_token: str | None = None  # a management session for `az` steps, if any
    server_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunPlan:
        fields = dict(data)
        fields["masked"] = tuple(fields.get("masked") or ())
        fields["logins"] = tuple(RegistryLogin(**entry) for entry in fields.get("logins") or ())
        fields["insecure_registries"] = tuple(fields.get("insecure_registries") or ())
        build = fields.get("dockerfile")
        if build is not None:
            fields["dockerfile"] = DockerfileBuild(
                dockerfile=build["dockerfile"],
                images=tuple(build["images"]),
                build_args=tuple((k, v) for k, v in build["build_args"]),
                secret_build_args=tuple((k, v) for k, v in build["secret_build_args"]),
                target=build.get("target"),
                push=bool(build.get("push", True)),
            )
        return cls(**fields)

    def secret_values(self) -> list[str]:
        """Everything the run's log must show as ``***``."""
        values = [*self.secrets.values(), *self.masked]
        values += [login.password for login in self.logins]
        if self.git_token:
            values.append(self.git_token)
        if self.identity_token:
            values.append(self.identity_token)
        if self.dockerfile is not None:
            values += [value for _, value in self.dockerfile.secret_build_args]
        return [v for v in values if v]

    def __repr__(self) -> str:
        return f"RunPlan({self.run_id!r}, registry={self.registry!r}, kind={self.kind!r})"
