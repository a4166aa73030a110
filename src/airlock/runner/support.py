"""What Airlock can run, checked before anything runs, and tasks made from a Dockerfile.

``check_task`` refuses, with the file and line, any step property or command this machine
cannot honour (a Windows isolation, a docker verb Airlock does not provide, a build option
that would reach outside the context, a port off loopback): at ``task create`` and again
when a run starts, never silently ignored. ``dockerfile_task`` is what ``acr build`` and a
Dockerfile task run: a build step tagging each image, then a push step.
"""

from __future__ import annotations

import posixpath
import shlex

from airlock.runner.commands import (
    WORKSPACE,
    check_run_words,
    loopback_port,
    split_words,
    working_directory,
)
from airlock.runner.errors import StepError
from airlock.runner.plan import DockerfileBuild
from airlock.runner.steps import check_docker_verb
from airlock.tasks.errors import TaskFileError
from airlock.tasks.model import Step, StepKind, TaskFile
from airlock.tasks.render import RunContext, render

_BUILD_FLAGS_WITH_VALUES = frozenset(
    {"-t", "--tag", "-f", "--file", "--build-arg", "--target", "--label", "--platform"}
    | {"--cache-from", "--add-host", "--network", "--isolation", "--secret", "-m"}
    | {"--memory", "--shm-size"}
)
_BUILD_FLAGS = frozenset({"--no-cache", "--pull", "--rm", "--force-rm", "-q", "--quiet"}) | {
    "--squash"
}


def check_task(task: TaskFile) -> None:
    """Raise TaskFileError (file:line:column) for the first thing Airlock cannot run."""
    for step in task.steps:
        try:
            _check_step(step)
        except StepError as exc:
            raise TaskFileError(task.source, step.line, step.column, str(exc)) from None
    for network in task.networks:
        if network.driver not in (None, "bridge"):
            raise TaskFileError(
                task.source,
                network.line,
                1,
                f"network {network.name!r}: driver {network.driver!r} is not available; "
                "Airlock creates bridge networks only",
            )
        if network.skip_creation:
            raise TaskFileError(
                task.source,
                network.line,
                1,
                f"network {network.name!r}: skipCreation needs a network made outside the "
                "run, which steps may not join here; remove skipCreation",
            )


def _check_step(step: Step) -> None:
    if step.isolation not in (None, "", "default"):
        raise StepError(
            f"step {step.id}: isolation {step.isolation!r} is a Windows option; "
            "Linux containers take only 'default'"
        )
    if step.network == "host":
        raise StepError(
            f"step {step.id}: network 'host' would give the step this machine's network "
            "(and its loopback); use the run's network (leave 'network' out)"
        )
    for port in step.ports:
        loopback_port(step, port)
    if step.kind is StepKind.BUILD:
        _check_build_words(step, split_words(step.build or "", f"step {step.id}'s build"))
    if step.kind is StepKind.CMD:
        words = split_words(step.cmd or "", f"step {step.id}'s cmd")
        if words and words[0] == "docker":
            check_docker_verb(words[1:], step.id)
            if len(words) > 1 and words[1] == "build":
                _check_build_words(step, words[2:])
            if len(words) > 1 and words[1] == "run":
                check_run_words(step, words[2:])
        elif words and words[0] not in ("az", "acr"):
            check_run_words(step, words)


def _check_build_words(step: Step, words: list[str]) -> None:
    skip = ""
    for word in words:
        if skip:
            _check_value(step, skip, word)
            skip = ""
            continue
        if not word.startswith("-"):
            if "://" in word or word.endswith(".git"):
                raise StepError(
                    f"step {step.id}: build context {word!r} is not a folder of the run; "
                    "a step builds from the task's context (e.g. '.')"
                )
            _check_inside_context(step, word, "build context")
            continue
        name, has_value, value = word.partition("=")
        if name in _BUILD_FLAGS_WITH_VALUES:
            skip = "" if has_value else name
            if has_value:
                _check_value(step, name, value)
        elif name not in _BUILD_FLAGS:
            raise StepError(f"step {step.id}: build option {name!r} is not supported by Airlock")


def _check_value(step: Step, name: str, value: str) -> None:
    if name in ("-f", "--file"):
        _check_inside_context(step, value, "-f file")
    elif name == "--secret":
        parts = dict(part.partition("=")[::2] for part in value.split(","))
        for key in ("src", "source"):
            if key in parts:
                _check_inside_context(step, parts[key], "--secret src")


def _check_inside_context(step: Step, path: str, what: str) -> None:
    """A path that leaves the context by its spelling (``../x``, ``/etc/x``) is refused
    here, before the run; links out of it are refused when the run resolves them."""
    full = posixpath.normpath(posixpath.join(working_directory(step), path))
    if full != WORKSPACE and not full.startswith(WORKSPACE + "/"):
        raise StepError(
            f"step {step.id}: the {what} {path!r} is outside the context; give a path "
            "inside it, relative to the working directory"
        )


def dockerfile_task(build: DockerfileBuild, run: RunContext) -> TaskFile:
    """``acr build`` as steps: ``build`` (every image tagged) and ``push`` (unless
    ``--no-push``). Image names are templates (``hello:{{.Run.ID}}``) and go to the run's
    registry unless they name another one; build argument values are passed as given,
    never rendered."""
    images = [
        _image_name(render(image, source="--image", run=run).text, run) for image in build.images
    ]
    words: list[str] = []
    for image in images:
        words += ["-t", image]
    words += ["-f", build.dockerfile]
    for name, value in (*build.build_args, *build.secret_build_args):
        words += ["--build-arg", f"{name}={value}"]
    if build.target:
        words += ["--target", build.target]
    words.append(".")
    steps = [
        Step(
            id="build",
            kind=StepKind.BUILD,
            line=1,
            column=1,
            build=" ".join(shlex.quote(w) for w in words),
            tags=tuple(images),
            timeout=28800,
        )
    ]
    if build.push and images:
        steps.append(
            Step(
                id="push",
                kind=StepKind.PUSH,
                line=1,
                column=1,
                push=tuple(images),
                when=("build",),
                timeout=28800,
            )
        )
    return TaskFile(source=build.dockerfile, steps=tuple(steps))


def _image_name(image: str, run: RunContext) -> str:
    image = image.strip()
    if not image:
        raise StepError("--image is empty; give REPOSITORY:TAG")
    first = image.split("/", 1)[0]
    names_registry = "/" in image and ("." in first or ":" in first or first == "localhost")
    return image if names_registry else f"{run.registry}/{image}"
