"""Executing one step on the engine, with acr-builder's retry and repeat rules.

- ``build``: ``podman build`` in the step's working directory (inside the context).
- ``cmd``: ``podman run`` of the first word (after ACR's image aliases) with the context at
  ``/workspace``, the run's home at ``/acb/home`` and the run's network, where earlier
  detached steps answer by their step id. ``cmd: docker <verb> ...`` acts on the run's image
  store on the host instead of starting a container, as ACR's docker-CLI image does.
- ``push``: each image, three attempts with a growing pause (acr-builder ``pushWithRetries``).

Retries and repeats (acr-builder ``RunRepeatWithRetries``): the step is run ``repeat + 1``
times; each time, a failure is retried up to ``retries`` times after ``retryDelay`` seconds
(only when the output holds one of ``retryOnErrors``, if given). ``timeout`` bounds it all.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from airlock.engine.containers import ContainerEngine, Outcome
from airlock.runner.azcli import airlock_arguments, run_airlock
from airlock.runner.commands import (
    BuildCommand,
    RunLayout,
    build_command,
    container_name,
    run_command,
    split_words,
)
from airlock.runner.dockerfile import BaseImages, base_images, normalised
from airlock.runner.errors import StepError
from airlock.runner.images import alias_image
from airlock.runner.runlog import RunLog
from airlock.runs.baseimages import BUILDTIME, RUNTIME, BaseImage
from airlock.tasks.aliases import IMAGE_ALIASES
from airlock.tasks.model import Step, StepKind

PUSH_ATTEMPTS = 3
DEADLINE = "context deadline exceeded"  # what Go's context says, and ACR's log with it
CANCELED = "context canceled"
_DOCKER_VERBS = (
    "build",
    "images",
    "inspect",
    "kill",
    "login",
    "logs",
    "ps",
    "pull",
    "push",
    "rm",
    "rmi",
    "run",
    "stop",
    "tag",
    "version",
)


class StepFailedError(Exception):
    """A step did not succeed; ``str()`` is what ACR's log says after the step id."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class StepContext:
    """What every step of one run shares."""

    engine: ContainerEngine
    log: RunLog
    layout: RunLayout
    stop: threading.Event  # set when the run is cancelled, timed out or failed elsewhere
    arch: str
    az_env: dict[str, str] | None = None  # the `az` alias's environment (task identity)
    pushed: list[tuple[str, str]] = field(default_factory=list)
    dependencies: list[BaseImage] = field(default_factory=list)
    made: set[str] = field(default_factory=set)  # images this run built, pulled or tagged
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_push(self, image: str, digest: str) -> None:
        with self._lock:
            self.pushed.append((image, digest))

    def record_dependencies(self, found: list[BaseImage]) -> None:
        with self._lock:
            self.dependencies.extend(found)

    def record_made(self, *images: str) -> None:
        with self._lock:
            self.made.update(images)

    def has_made(self, image: str) -> bool:
        with self._lock:
            return image in self.made


@dataclass
class Attempt:
    """The state of one step while it runs: its deadline and what it produced."""

    step: Step
    deadline: float
    images: list[tuple[str, str]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)


def run_step(ctx: StepContext, step: Step) -> list[tuple[str, str]]:
    """Run ``step``; return the images it produced (reference, digest). Raises StepFailedError."""
    attempt = Attempt(step, time.monotonic() + step.timeout)
    if step.start_delay > 0:
        ctx.log.info(f"Waiting {step.start_delay} seconds before executing step ID: {step.id}")
        if ctx.stop.wait(min(step.start_delay, attempt.remaining())):
            raise StepFailedError(CANCELED)
    if step.kind is StepKind.PUSH:
        _push_all(ctx, attempt, step.push)
        return attempt.images
    launch = _launcher(ctx, attempt)
    errors: list[str] = []
    exit_code: int | None = None
    for _ in range(step.repeat + 1):
        try:
            _with_retries(ctx, attempt, launch)
        except StepFailedError as failure:
            errors.append(str(failure))
            exit_code = failure.exit_code
            if failure.exit_code is None:  # timed out or stopped: no point repeating
                break
    if errors:
        raise StepFailedError("; ".join(errors), exit_code)
    return attempt.images


def _with_retries(ctx: StepContext, attempt: Attempt, launch: Callable[[], Outcome]) -> None:
    step = attempt.step
    name = container_name(ctx.layout.run_key, step.id)
    for number in range(step.retries + 1):
        ctx.log.info(f"Launching container with name: {step.id}")
        attempt.output.clear()
        outcome = launch()
        if outcome.ok:
            ctx.log.info(f"Successfully executed container: {step.id}")
            return
        failure = _failure(outcome)
        retryable = not step.retry_on_errors or any(
            error in line for line in attempt.output for error in step.retry_on_errors
        )
        if number < step.retries and outcome.exit_code is not None and retryable:
            ctx.log.info(
                f"Container failed during run: {step.id}, waiting {step.retry_delay} seconds "
                "before retrying..."
            )
            if not step.keep:
                ctx.engine.capture(["rm", "--force", "--time", "0", name])
            if ctx.stop.wait(min(step.retry_delay, attempt.remaining())):
                raise StepFailedError(CANCELED)
            continue
        ctx.log.info(f"Container failed during run: {step.id}. No retries remaining.")
        raise failure


def _failure(outcome: Outcome) -> StepFailedError:
    if outcome.timed_out:
        return StepFailedError(DEADLINE)
    if outcome.canceled:
        return StepFailedError(CANCELED)
    return StepFailedError(f"exit status {outcome.exit_code}", outcome.exit_code)


def _launcher(ctx: StepContext, attempt: Attempt) -> Callable[[], Outcome]:
    """A function that starts the step once and waits for it."""
    step = attempt.step
    if step.kind is StepKind.BUILD:
        return lambda: _build(ctx, attempt, step.build or "")
    words = split_words(step.cmd or "", f"step {step.id}'s cmd")
    if not words:
        raise StepFailedError("cmd is empty")
    first = words[0]
    if first == "docker":
        return lambda: _docker(ctx, attempt, words[1:])
    if first in ("az", "acr"):
        if ctx.az_env is None:
            raise StepFailedError(
                f"the {first} alias signs in as the task's identity, and this run has none: "
                "create the task with --assign-identity (quick runs have no identity)"
            )
        args, keep = airlock_arguments(step, words)
        return lambda: _az(ctx, attempt, args, keep)
    if first in IMAGE_ALIASES:
        words = [alias_image(first, ctx.engine), *words[1:]]
    if step.pull:
        ctx.log.info("Step specified pull. Performing an explicit pull...")
        pulled = _stream(ctx, attempt, ["pull", _image_word(step, words)])
        if not pulled.ok:
            raise _failure(pulled)
    return lambda: _run(ctx, attempt, words)


def _image_word(step: Step, words: Sequence[str]) -> str:
    return run_command(step, words, _NO_LAYOUT).image


_NO_LAYOUT = RunLayout("x", Path("/"), Path("/"), {"acb_default_network": "x"})


def _stream(
    ctx: StepContext, attempt: Attempt, args: list[str], *, stop_container: str | None = None
) -> Outcome:
    def on_line(text: str) -> None:
        attempt.output.append(text)
        ctx.log.output(text)

    def on_stop() -> None:
        if stop_container is not None:
            ctx.engine.capture(["rm", "--force", "--time", "0", stop_container], timeout=30)

    return ctx.engine.stream(
        args, on_line, timeout=attempt.remaining(), cancel=ctx.stop, on_stop=on_stop
    )


def _build(ctx: StepContext, attempt: Attempt, text: str) -> Outcome:
    step = attempt.step
    env = dict(entry.split("=", 1) for entry in step.env)
    command = build_command(step, text, ctx.layout, env, platform_arch=ctx.arch)
    ctx.log.info("Scanning for dependencies...")
    ctx.log.info("Successfully scanned dependencies")
    # As on ACR, where every run builds on a fresh machine, a build uses no layer cache
    # unless the step asks for it with `cache: enabled` (podman 4.3 also reuses a cached
    # layer whose build argument changed, which would test yesterday's image).
    layers = "--layers" if (step.cache or "").lower() == "enabled" else "--layers=false"
    # Every path in the arguments is absolute (checked inside the context), so the build
    # does not depend on the worker's own working directory.
    for base in _bases(command).all():
        _ensure_pulled(ctx, attempt, base)
    outcome = _stream(ctx, attempt, ["build", layers, *command.args])
    if outcome.ok:
        ctx.record_made(*command.tags)
        _record_dependencies(ctx, command)
    return outcome


def _bases(command: BuildCommand) -> BaseImages:
    args = dict(
        command.args[i + 1].split("=", 1)
        for i, word in enumerate(command.args[:-1])
        if word == "--build-arg" and "=" in command.args[i + 1]
    )
    try:
        return base_images(command.dockerfile.read_text(encoding="utf-8"), args)
    except (OSError, UnicodeDecodeError):
        return BaseImages(None, ())


def names_a_registry(image: str) -> bool:
    """``host[:port]/repository...``: an image of a registry, not a local or short name."""
    first, sep, _ = image.partition("/")
    return bool(sep) and ("." in first or ":" in first) and first != "localhost"


def _ensure_pulled(ctx: StepContext, attempt: Attempt, image: str) -> None:
    """Runs share one image store, but not their rights: an image of a registry that this run
    did not build, pull or tag is pulled with the run's own credentials before it is used (as
    on ACR, where every run starts on a fresh machine), so a task cannot use what another
    task's identity pulled. Layers already in the store are not downloaded again."""
    if not names_a_registry(image) or ctx.has_made(image):
        return
    pulled = _stream(ctx, attempt, ["pull", "--quiet", image])
    if not pulled.ok:
        if pulled.exit_code is None:
            raise _failure(pulled)
        reason = next((line for line in reversed(attempt.output) if line.strip()), "")
        raise StepFailedError(f"could not pull {image}: {reason or _failure(pulled)}")
    ctx.record_made(image)


def _record_dependencies(ctx: StepContext, command: BuildCommand) -> None:
    """The base of every stage of what was built, with the digest the build used, for each
    image it tagged (what base-image triggers watch)."""
    bases = _bases(command)
    found: list[BaseImage] = []
    written_bases = [(RUNTIME, bases.runtime), *((BUILDTIME, b) for b in bases.buildtime)]
    for kind, written in written_bases:
        reference = normalised(written) if written else None
        if written is None or reference is None or reference.tag is None:
            continue
        inspected = ctx.engine.capture(["image", "inspect", "--format", "{{.Digest}}", written])
        digest = inspected.stdout.strip() if inspected.ok else ""
        for tag in command.tags:
            image = normalised(tag)
            found.append(
                BaseImage(
                    image=str(image) if image is not None else tag,
                    registry=reference.registry,
                    repository=reference.repository,
                    tag=reference.tag,
                    digest=digest if digest.startswith("sha256:") else None,
                    kind=kind,
                )
            )
    ctx.record_dependencies(found)


def _az(ctx: StepContext, attempt: Attempt, args: list[str], keep_output: bool) -> Outcome:
    assert ctx.az_env is not None

    def on_line(text: str) -> None:
        attempt.output.append(text)
        # Output sent to /dev/null is dropped; an error still shows.
        if keep_output or text.startswith("ERROR:"):
            ctx.log.output(text)

    return run_airlock(
        ctx.az_env,
        ctx.layout.source,
        args,
        on_line,
        timeout=attempt.remaining(),
        cancel=ctx.stop,
    )


def _run(ctx: StepContext, attempt: Attempt, words: Sequence[str]) -> Outcome:
    command = run_command(attempt.step, words, ctx.layout)
    _ensure_pulled(ctx, attempt, command.image)
    return _stream(ctx, attempt, command.args, stop_container=command.name)


def _push_all(ctx: StepContext, attempt: Attempt, images: Sequence[str]) -> None:
    for image in images:
        digest = _push(ctx, attempt, image)
        attempt.images.append((image, digest))
        ctx.record_push(image, digest)


def _push(ctx: StepContext, attempt: Attempt, image: str) -> str:
    if not ctx.has_made(image):
        raise StepFailedError(
            f"{image} was not built, pulled or tagged by this run; a run pushes only images it "
            "made (build it, or 'docker pull' and 'docker tag' it, in an earlier step)"
        )
    digest_file = ctx.layout.home.parent / f"digest-{time.monotonic_ns()}"
    try:
        for number in range(PUSH_ATTEMPTS):
            ctx.log.info(f"Pushing image: {image}, attempt {number + 1}")
            outcome = _stream(ctx, attempt, ["push", "--digestfile", str(digest_file), image])
            if outcome.ok:
                ctx.log.info(f"Successfully pushed image: {image}")
                return digest_file.read_text().strip()
            if outcome.exit_code is None:
                raise _failure(outcome)
            if ctx.stop.wait(min(2.0**number, attempt.remaining())):
                raise StepFailedError(CANCELED)
        raise StepFailedError("failed to push images successfully")
    finally:
        digest_file.unlink(missing_ok=True)


# --- cmd: docker <verb> --------------------------------------------------------------------


def check_docker_verb(words: Sequence[str], step_id: str) -> None:
    """Refuse what the docker pseudo-image cannot do, before anything runs."""
    verb = words[0] if words else ""
    if verb not in _DOCKER_VERBS:
        raise StepError(
            f"step {step_id}: 'docker {verb}' is not supported by Airlock "
            f"(supported: {', '.join(_DOCKER_VERBS)})"
        )


def _docker(ctx: StepContext, attempt: Attempt, words: list[str]) -> Outcome:
    step = attempt.step
    try:
        check_docker_verb(words, step.id)
    except StepError as exc:
        raise StepFailedError(str(exc)) from None
    verb, rest = words[0], words[1:]
    layout = ctx.layout
    if verb == "build":
        return _build(ctx, attempt, " ".join(shlex.quote(w) for w in rest))
    if verb == "run":
        return _run(ctx, attempt, rest)
    if verb == "push":
        for image in [w for w in rest if not w.startswith("-")]:
            digest = _push(ctx, attempt, image)
            attempt.images.append((image, digest))
            ctx.record_push(image, digest)
        return Outcome(0)
    images = [w for w in rest if not w.startswith("-")]
    if verb == "tag" and len(images) == 2:
        _ensure_pulled(ctx, attempt, images[0])
        outcome = _stream(ctx, attempt, [verb, *rest])
        if outcome.ok:
            ctx.record_made(images[1])
        return outcome
    if verb == "pull":
        outcome = _stream(ctx, attempt, [verb, *rest])
        if outcome.ok:
            ctx.record_made(*images)
        return outcome
    if verb == "ps":
        return _stream(ctx, attempt, ["ps", "--all", "--filter", f"name=acb-{layout.run_key}-"])
    if verb in ("stop", "rm", "kill", "logs", "inspect"):
        rest = [layout.name_of(w) for w in rest]
    if verb == "login":
        rest = [w for w in rest if w != "--password-stdin"]
    return _stream(ctx, attempt, [verb, *rest])
