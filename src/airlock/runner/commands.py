"""From a step to the engine's arguments (pure: no I/O, so every rule is unit-tested).

acr-builder hands a step to a shell: ``/bin/sh -c "docker run ... <cmd>"``. Airlock runs no
shell on the host: a ``cmd`` or ``build`` string is split into words as a POSIX shell would
split them (quotes and backslashes honoured, no variable expansion or globbing, since the
host's environment means nothing to a step) and the words go to podman as arguments.

What a step may ask of the engine is an allowlist: the ``docker build`` and ``docker run``
options that need nothing from the host. Anything that would reach outside the run (a host
path mounted, the host's network or its loopback, a build context or ``-f`` file outside the
context) is refused with the option named and what to write instead.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from airlock.runner.errors import ContextError, StepError
from airlock.runner.paths import resolve_inside
from airlock.tasks.model import Step

WORKSPACE = "/workspace"  # where a cmd step sees the run's context (acr-builder)
HOME = "/acb/home"  # the home folder shared by the run's steps (acr-builder homeWorkDir)
DEFAULT_NETWORK = "acb_default_network"

# docker build options a step may use: name -> takes a value
_BUILD_OPTIONS: dict[str, bool] = {
    "-t": True,
    "--tag": True,
    "-f": True,
    "--file": True,
    "--build-arg": True,
    "--target": True,
    "--label": True,
    "--platform": True,
    "--cache-from": True,
    "--add-host": True,
    "--network": True,
    "--isolation": True,
    "--secret": True,
    "-m": True,
    "--memory": True,
    "--shm-size": True,
    "--no-cache": False,
    "--pull": False,
    "--rm": False,
    "--force-rm": False,
    "-q": False,
    "--quiet": False,
    "--squash": False,
}
# docker run options that may come before the image in a cmd step (acr-builder appends the
# cmd after its own options, so `cmd: -t image` is valid ACR).
_RUN_OPTIONS: dict[str, bool] = {
    "-t": False,
    "--tty": False,
    "-i": False,
    "--interactive": False,
    "--rm": False,
    "-e": True,
    "--env": True,
    "--entrypoint": True,
    "-u": True,
    "--user": True,
    "-w": True,
    "--workdir": True,
    "--init": False,
}
_NAME = re.compile(r"[^a-zA-Z0-9_.-]")


def split_words(text: str, what: str) -> list[str]:
    """``text`` split as a POSIX shell splits words, without expansion."""
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:
        raise StepError(f"{what} cannot be read: {exc} (check its quotes)") from None


def container_name(run_key: str, step_id: str) -> str:
    """The engine's name for a step's container: unique per run, readable."""
    return f"acb-{run_key}-{_NAME.sub('_', step_id)}"[:120]


@dataclass(frozen=True)
class RunLayout:
    """Where one run's things are, on the host and in the containers."""

    run_key: str  # unique per run; part of every container and network name
    source: Path  # the context, mounted at /workspace
    home: Path  # mounted at /acb/home
    networks: Mapping[str, str]  # task network name -> engine network name
    volumes: Mapping[str, Path] = field(default_factory=dict)  # secret volumes
    step_ids: tuple[str, ...] = ()

    @property
    def default_network(self) -> str:
        return self.networks[DEFAULT_NETWORK]

    def name_of(self, word: str) -> str:
        """A step id used where docker wants a container: the step's container."""
        return container_name(self.run_key, word) if word in self.step_ids else word


def working_directory(step: Step) -> str:
    """acr-builder ``normalizeWorkDir``: relative to /workspace unless absolute."""
    wd = step.working_directory or ""
    if posixpath.isabs(wd):
        return posixpath.normpath(wd)
    return posixpath.normpath(posixpath.join(WORKSPACE, wd))


def host_directory(layout: RunLayout, step: Step) -> Path:
    """The host folder a build step runs in: its working directory inside the context."""
    inside = PurePosixPath(working_directory(step))
    try:
        relative = inside.relative_to(WORKSPACE)
    except ValueError:
        raise StepError(
            f"step {step.id}: a build step's workingDirectory must be inside {WORKSPACE} "
            f"(the context), not {inside}"
        ) from None
    folder = resolve_inside(layout.source, str(relative) or ".", what="the working directory")
    if not folder.is_dir():
        raise StepError(f"step {step.id}: the working directory {inside} does not exist")
    return folder


# --- build ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildCommand:
    args: list[str]  # for `podman build`
    cwd: Path
    tags: tuple[str, ...]
    dockerfile: Path


def build_command(
    step: Step, text: str, layout: RunLayout, env: Mapping[str, str], *, platform_arch: str
) -> BuildCommand:
    """``podman build`` arguments for a build step (or ``docker build`` in a cmd step)."""
    cwd = host_directory(layout, step)
    words = split_words(text, f"step {step.id}'s build")
    args: list[str] = []
    tags: list[str] = []
    context: str | None = None
    dockerfile: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-") or word == "-":
            if context is not None:
                raise StepError(
                    f"step {step.id}: build has two contexts ({context!r} and {word!r}); "
                    "give one folder, e.g. '.'"
                )
            context = word
            i += 1
            continue
        name, has_value, value = word.partition("=")
        if name not in _BUILD_OPTIONS:
            raise StepError(
                f"step {step.id}: build option {name!r} is not supported by Airlock "
                f"(supported: {', '.join(sorted(_BUILD_OPTIONS))})"
            )
        if not _BUILD_OPTIONS[name]:
            args.append(name)
            i += 1
            continue
        if not has_value:
            if i + 1 >= len(words):
                raise StepError(f"step {step.id}: build option {name} needs a value")
            value = words[i + 1]
            i += 1
        i += 1
        args += _build_option(step, name, value, cwd, layout, env, platform_arch)
        if name in ("-t", "--tag"):
            tags.append(value)
        if name in ("-f", "--file"):
            dockerfile = value
    context_dir = _build_context(step, context or ".", cwd, layout)
    file_path = (
        _inside(layout, cwd, dockerfile, step, "-f file")
        if dockerfile is not None
        else _default_dockerfile(context_dir)
    )
    if not file_path.is_file():
        raise StepError(
            f"step {step.id}: the Dockerfile {dockerfile or 'Dockerfile'} is not in the context"
        )
    return BuildCommand(
        args=[*args, str(context_dir)], cwd=cwd, tags=tuple(tags), dockerfile=file_path
    )


def _build_option(
    step: Step,
    name: str,
    value: str,
    cwd: Path,
    layout: RunLayout,
    env: Mapping[str, str],
    platform_arch: str,
) -> list[str]:
    if name in ("-f", "--file"):
        return ["--file", str(_inside(layout, cwd, value, step, "-f file"))]
    if name == "--build-arg" and "=" not in value:
        # docker takes a bare --build-arg NAME from its environment: the step's env.
        return ["--build-arg", f"{value}={env[value]}"] if value in env else []
    if name == "--network":
        if value not in ("none", "default", "bridge"):
            raise StepError(
                f"step {step.id}: build --network {value!r} is not allowed; use 'none' or "
                "leave it out (a build never joins the host's or the run's network)"
            )
        return [] if value in ("default", "bridge") else ["--network", "none"]
    if name == "--isolation":
        if value != "default":
            raise StepError(
                f"step {step.id}: --isolation {value!r} is a Windows option; "
                "Linux builds take only 'default'"
            )
        return []
    if name == "--platform":
        if value not in ("linux", f"linux/{platform_arch}"):
            raise StepError(
                f"step {step.id}: this machine builds linux/{platform_arch} only, not {value!r}"
            )
        return []
    if name == "--secret":
        return ["--secret", _build_secret(step, value, cwd, layout)]
    return [name, value]


def _build_secret(step: Step, value: str, cwd: Path, layout: RunLayout) -> str:
    parts = dict(p.partition("=")[::2] for p in value.split(","))
    if "src" in parts or "source" in parts:
        key = "src" if "src" in parts else "source"
        parts[key] = str(_inside(layout, cwd, parts[key], step, "--secret src"))
    return ",".join(f"{k}={v}" for k, v in parts.items())


def _build_context(step: Step, context: str, cwd: Path, layout: RunLayout) -> Path:
    if "://" in context or context.endswith(".git") or context == "-":
        raise StepError(
            f"step {step.id}: build context {context!r} is not a folder of the run; a step "
            "builds from the task's context (give the folder inside it, e.g. '.')"
        )
    folder = _inside(layout, cwd, context, step, "build context")
    if not folder.is_dir():
        raise StepError(f"step {step.id}: the build context {context!r} is not a folder")
    return folder


def _inside(layout: RunLayout, cwd: Path, path: str, step: Step, what: str) -> Path:
    if path.startswith(WORKSPACE + "/") or path == WORKSPACE:
        base, relative = layout.source, path[len(WORKSPACE) :].lstrip("/") or "."
    elif posixpath.isabs(path):
        raise StepError(
            f"step {step.id}: the {what} {path!r} is outside the context; give a path "
            "relative to the working directory"
        )
    else:
        base, relative = cwd, path
    try:
        found = resolve_inside(base, relative, what=f"step {step.id}'s {what}")
    except ContextError as exc:
        raise StepError(str(exc)) from None
    if not found.is_relative_to(layout.source.resolve()):
        raise StepError(f"step {step.id}: the {what} {path!r} is outside the context")
    return found


def _default_dockerfile(context_dir: Path) -> Path:
    for name in ("Dockerfile", "Containerfile"):
        if (context_dir / name).is_file():
            return context_dir / name
    return context_dir / "Dockerfile"


# --- run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCommand:
    args: list[str]  # for `podman run`
    name: str
    image: str


def run_command(
    step: Step, words: Sequence[str], layout: RunLayout, *, remove: bool | None = None
) -> RunCommand:
    """``podman run`` arguments for a cmd step whose words are ``[options...] image args``."""
    name = container_name(layout.run_key, step.id)
    pre, image, rest = _split_run_words(step, words)
    args = ["run", "--name", name]
    if remove if remove is not None else not step.keep:
        args.append("--rm")
    if step.detach:
        args.append("--detach")
    args += _network_args(step, layout)
    for port in step.ports:
        args += ["--publish", loopback_port(step, port)]
    for port in step.expose:
        args += ["--expose", port]
    if step.privileged:
        args.append("--privileged")
    if step.user:
        args += ["--user", step.user]
    if step.cpus:
        args += ["--cpus", step.cpus]
    if step.entry_point:
        args += ["--entrypoint", step.entry_point]
    args += ["--volume", f"{layout.source}:{WORKSPACE}", "--volume", f"{layout.home}:{HOME}"]
    for mount in step.volume_mounts:
        folder = layout.volumes.get(mount.name)
        if folder is None:
            raise StepError(f"step {step.id}: volume {mount.name!r} is not defined")
        args += ["--volume", f"{folder}:{mount.mount_path}:ro"]
    args += ["--env", f"HOME={HOME}"]
    for entry in step.env:
        args += ["--env", entry]
    if not step.disable_working_directory_override:
        args += ["--workdir", working_directory(step)]
    args += pre
    return RunCommand(args=[*args, image, *rest], name=name, image=image)


def check_run_words(step: Step, words: Sequence[str]) -> None:
    """Refuse, before the run starts, what a cmd step (or its ``docker run``) may not ask."""
    _split_run_words(step, words)


def _split_run_words(step: Step, words: Sequence[str]) -> tuple[list[str], str, list[str]]:
    pre: list[str] = []
    i = 0
    while i < len(words) and words[i].startswith("-"):
        name, has_value, value = words[i].partition("=")
        if name not in _RUN_OPTIONS:
            raise StepError(
                f"step {step.id}: run option {name!r} before the image is not supported "
                f"(supported: {', '.join(sorted(_RUN_OPTIONS))}); use the step's properties "
                "(env, ports, user, workingDirectory, ...) instead"
            )
        if _RUN_OPTIONS[name]:
            if not has_value:
                if i + 1 >= len(words):
                    raise StepError(f"step {step.id}: {name} needs a value")
                i += 1
                value = words[i]
            pre += [_long(name), value]
        elif name in ("--init",):
            pre.append(name)
        # -t/-i/--rm: a step has no terminal and no input; its container is removed anyway.
        i += 1
    if i >= len(words):
        raise StepError(f"step {step.id}: cmd names no image to run")
    return pre, words[i], list(words[i + 1 :])


def _long(name: str) -> str:
    return {"-e": "--env", "-u": "--user", "-w": "--workdir"}.get(name, name)


def _network_args(step: Step, layout: RunLayout) -> list[str]:
    wanted = step.network or DEFAULT_NETWORK
    if wanted == "none":
        return ["--network", "none"]
    if wanted not in layout.networks:
        known = ", ".join(sorted(layout.networks))
        raise StepError(
            f"step {step.id}: network {wanted!r} is not one of the task's networks ({known}); "
            "declare it under 'networks:' (the host's network is not available to steps)"
        )
    return ["--network", layout.networks[wanted], "--network-alias", step.id]


def loopback_port(step: Step, port: str) -> str:
    """A published port, bound to 127.0.0.1 unless the step names another loopback
    address: nothing a step runs is reachable from another machine."""
    parts = port.split(":")
    if len(parts) == 3:
        address = parts[0].strip("[]")
        try:
            loopback = ipaddress.ip_address(address).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise StepError(
                f"step {step.id}: port {port!r} binds {address}; Airlock publishes ports "
                "on loopback addresses only (write 127.0.0.1:HOST:CONTAINER or HOST:CONTAINER)"
            )
        return port
    if len(parts) == 2:
        return f"127.0.0.1:{port}"
    if len(parts) == 1:
        return f"127.0.0.1::{port}"
    raise StepError(f"step {step.id}: port {port!r} is not HOST:CONTAINER")
