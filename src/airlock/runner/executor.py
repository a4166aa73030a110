"""One run, start to end, on this machine's engine: what a worker does with a plan.

1. The context is fetched into a private folder (``RunWorkspace``), removed at the end.
2. The task is rendered and loaded (a Dockerfile build becomes a build step and a push step).
3. The run's network (``acb_default_network``, and the task's own ``networks``) is created,
   secret volumes are written, and the run's registry logins go to an auth file of its own.
4. Steps start as the ``when`` graph allows, each in its own thread; the first failure that
   nothing tolerates stops the run (running steps are stopped, the rest are skipped), as
   acr-builder does. ``exitedWith``/``exitedWithout`` make a step wait for its dependencies'
   exit codes: with ``exitedWith`` it runs when each dependency ended with one of the codes
   (a non-zero one listed there does not fail the run), with ``exitedWithout`` only when none
   ended with one of those; otherwise it is skipped.
5. Containers (detached and kept ones included) and networks are removed, whatever happened.

The log reads as ACR's (see ``airlock.runner.runlog``); step results are reported as they
happen through ``report``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import platform
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from airlock.common.clock import now_iso
from airlock.engine import EngineError, EnginePaths, engine_env
from airlock.engine.containers import ContainerEngine
from airlock.engine.naming import NamingLockEngine
from airlock.errors import AirlockError
from airlock.runner.azcli import az_environment
from airlock.runner.commands import DEFAULT_NETWORK, RunLayout, container_name
from airlock.runner.contexts import head_commit, materialize, parse_context
from airlock.runner.dependencies import dependency_report
from airlock.runner.errors import ContextError, StepError
from airlock.runner.plan import KIND_DOCKERFILE, RunPlan
from airlock.runner.runlog import RunLog
from airlock.runner.steps import CANCELED, DEADLINE, StepContext, StepFailedError, run_step
from airlock.runner.support import check_task, dockerfile_task
from airlock.runner.workspace import RunWorkspace
from airlock.runs.baseimages import BaseImage
from airlock.runs.store import StepRecord
from airlock.tasks.errors import TaskFileError
from airlock.tasks.graph import TaskGraph
from airlock.tasks.model import Step, TaskFile
from airlock.tasks.render import RunContext, render_and_load, run_date

log = logging.getLogger(__name__)

SUCCEEDED, FAILED, SKIPPED, RUNNING = "Succeeded", "Failed", "Skipped", "Running"
CANCELED_STATUS, TIMEOUT_STATUS, ERROR_STATUS = "Canceled", "Timeout", "Error"
_ACR_STATUS = {SUCCEEDED: "successful", FAILED: "failed", SKIPPED: "skipped"}
_TICK = 0.1
NETWORK_ATTEMPTS = 3


# What a worker reports of a step is what the run store keeps of it.
StepReport = StepRecord


@dataclass(frozen=True)
class RunResult:
    status: str
    error: str | None = None
    output_images: tuple[tuple[str, str], ...] = ()
    dependencies: tuple[BaseImage, ...] = ()  # the bases of what the run's builds produced


Report = Callable[[StepReport], None]
AzRunner = Callable[[Step, list[str], float], "object"]


def host_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


class RunExecutor:
    def __init__(
        self,
        plan: RunPlan,
        *,
        home: Path,
        log: RunLog,
        report: Report,
        cancel: threading.Event,
        binary: str = "podman",
    ) -> None:
        self.plan = plan
        self.home = home
        self.log = log
        self.report = report
        self.cancel = cancel
        self.binary = binary
        self.run_key = uuid.UUID(plan.run).hex[:10]
        self.deadline = time.monotonic() + plan.timeout
        self.commit = plan.commit  # the context's commit, once fetched
        self._networks: list[str] = []
        self._engine: ContainerEngine | None = None

    def execute(self) -> RunResult:
        started = time.monotonic()
        try:
            with RunWorkspace(self.home / "runs", self.plan.run_id) as folder:
                try:
                    result = self._execute_in(folder)
                finally:
                    self._clean_up()
        except (ContextError, TaskFileError, StepError, EngineError, AirlockError) as exc:
            result = RunResult(FAILED, str(exc))
            self.log.plain(str(exc))
        except Exception as exc:  # the run ends Error, with the reason
            log.exception("run %s failed inside Airlock", self.plan.run_id)
            result = RunResult(ERROR_STATUS, f"internal error: {type(exc).__name__}: {exc}")
            self.log.plain(result.error or "")
        self._summary(result, time.monotonic() - started)
        return result

    # --- the stages ------------------------------------------------------------------------

    def _execute_in(self, folder: Path) -> RunResult:
        source = self._fetch(folder)
        task = self._load(folder)
        check_task(task)
        home = folder / "home"
        home.mkdir(mode=0o700)
        engine = self._engine_for(folder)
        layout = RunLayout(
            run_key=self.run_key,
            source=source,
            home=home,
            networks=self._create_networks(engine, task),
            volumes=self._write_volumes(folder, task),
            step_ids=tuple(s.id for s in task.steps),
        )
        self._log_in(engine)
        az_env = None
        if self.plan.identity_token and self.plan.server_url:
            az_env = az_environment(folder, self.plan.server_url, self.plan.identity_token)
        ctx = StepContext(
            engine=engine,
            log=self.log,
            layout=layout,
            stop=threading.Event(),
            arch=host_arch(),
            az_env=az_env,
        )
        return Scheduler(task, ctx, self).run()

    def _fetch(self, folder: Path) -> Path:
        spec = parse_context(self.plan.context)
        if spec.location:
            self.log.info("Downloading source code...")
        # A context on this machine never reads the worker's own state (its keys, its store).
        source = materialize(spec, folder, self.plan.git_token, protected=(self.home,))
        if spec.location:
            self.log.info("Finished downloading source code")
        return source

    def _load(self, folder: Path) -> TaskFile:
        plan = self.plan
        self.commit = plan.commit or head_commit(folder) or ""
        run = RunContext(
            id=plan.run_id,
            registry=plan.registry,
            registry_name=plan.registry_name,
            date=run_date(datetime.fromisoformat(plan.created_at).astimezone(UTC)),
            commit=self.commit,
            branch=plan.branch,
            task_name=plan.task_name,
            triggered_by=plan.trigger,
        )
        if plan.kind == KIND_DOCKERFILE and plan.dockerfile is not None:
            return dockerfile_task(plan.dockerfile, run)
        task, _ = render_and_load(
            plan.definition,
            source=plan.source,
            run=run,
            values=plan.values,
            secrets=plan.secrets,
        )
        return task

    def _engine_for(self, folder: Path) -> ContainerEngine:
        env = engine_env(
            self.home,
            auth_file=folder / "auth.json",
            insecure_registries=self.plan.insecure_registries,
        )
        lock = EnginePaths.of(self.home).root / "image-names.lock"
        self._engine = NamingLockEngine(env, self.binary, lock=lock)
        return self._engine

    def _create_networks(self, engine: ContainerEngine, task: TaskFile) -> dict[str, str]:
        wanted = [(DEFAULT_NETWORK, "bridge")]
        wanted += [(n.name, n.driver or "bridge") for n in task.networks if not n.is_default]
        networks: dict[str, str] = {}
        for name, driver in wanted:
            if driver != "bridge":
                raise StepError(
                    f"network {name!r}: driver {driver!r} is not available; Airlock creates "
                    "bridge networks only"
                )
            engine_name = f"acb-{self.run_key}-{name}"[:60]
            self.log.info(f"Creating Docker network: {name}, driver: '{driver}'")
            created = engine.capture(["network", "create", "--driver", driver, engine_name])
            for _ in range(NETWORK_ATTEMPTS - 1):
                # netavark reads the host's interfaces while choosing a subnet; one removed
                # meanwhile (another home's run ending) fails the create: try again.
                if created.ok:
                    break
                time.sleep(0.2)
                created = engine.capture(["network", "create", "--driver", driver, engine_name])
            if not created.ok:
                raise StepError(f"failed to create network: {name}, err: {created.reason()}")
            self._networks.append(engine_name)
            networks[name] = engine_name
            self.log.info(f"Successfully set up Docker network: {name}")
        return networks

    def _write_volumes(self, folder: Path, task: TaskFile) -> dict[str, Path]:
        volumes: dict[str, Path] = {}
        for volume in task.volumes:
            target = folder / "volumes" / volume.name
            target.mkdir(parents=True, mode=0o700)
            for file_name, encoded in volume.secret:
                try:
                    value = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    raise StepError(
                        f"volume {volume.name!r}: the value of {file_name!r} is not base64; "
                        "encode it with base64 (or b64enc in the template)"
                    ) from None
                path = target / file_name
                path.write_bytes(value)
                path.chmod(0o644)  # read by the step's user, inside the container only
            volumes[volume.name] = target
            self.log.info(f"Volume source {volume.name} successfully created")
        return volumes

    def _log_in(self, engine: ContainerEngine) -> None:
        self.log.info("Setting up Docker configuration...")
        self.log.info("Successfully set up Docker configuration")
        for login in self.plan.logins:
            self.log.info(f"Logging in to registry: {login.server}")
            done = engine.capture(
                ["login", "--username", login.username, "--password-stdin", login.server],
                stdin=login.password.encode(),
                timeout=60,
            )
            if not done.ok:
                raise StepError(f"failed to login to registry {login.server}: {done.reason()}")
            self.log.info(f"Successfully logged into {login.server}")

    def _clean_up(self) -> None:
        engine = self._engine
        if engine is None:
            return
        prefix = container_name(self.run_key, "")  # every container of this run
        found = engine.capture(
            ["ps", "--all", "--quiet", "--filter", f"name=^{prefix}"], timeout=60
        )
        ids = found.stdout.split() if found.ok else []
        if ids:
            engine.capture(["rm", "--force", "--time", "0", *ids], timeout=120)
        for network in self._networks:
            engine.capture(["network", "rm", "--force", network], timeout=60)

    def _summary(self, result: RunResult, elapsed: float) -> None:
        spent = _duration(elapsed)
        if result.status == SUCCEEDED:
            self.log.plain("")
            self.log.plain(f"Run ID: {self.plan.run_id} was successful after {spent}")
        else:
            reason = result.error or result.status
            self.log.plain(
                f"Run ID: {self.plan.run_id} failed after {spent}. Error: {reason}"
                if result.status != CANCELED_STATUS
                else f"Run ID: {self.plan.run_id} was canceled after {spent}"
            )


def _duration(seconds: float) -> str:
    """Go's time.Duration rounded to seconds: ``17s``, ``1m5s``, ``1h2m3s``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs}s"
    if minutes or hours:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


@dataclass
class _State:
    status: str = "Pending"
    exit_code: int | None = None
    started: float = 0.0
    finished: float = 0.0
    started_at: str | None = None
    error: str | None = None
    images: tuple[tuple[str, str], ...] = ()
    thread: threading.Thread | None = field(default=None, repr=False)


class Scheduler:
    """Starts steps as the ``when`` graph allows; stops everything on the first failure."""

    def __init__(self, task: TaskFile, ctx: StepContext, run: RunExecutor) -> None:
        self.task = task
        self.graph = TaskGraph.build(task)
        self.ctx = ctx
        self.run_ = run
        self.states = {s.id: _State() for s in task.steps}
        self.cond = threading.Condition()
        self.failure: str | None = None
        self.ending: str | None = None  # Canceled / Timeout

    def run(self) -> RunResult:
        with self.cond:
            while True:
                self._check_stop()
                if self.failure is None and self.ending is None:
                    self._start_ready()
                running = [s for s in self.states.values() if s.status == RUNNING]
                if not running and (self.failure or self.ending or not self._startable()):
                    break
                self.cond.wait(_TICK)
        for step_id, state in self.states.items():
            if state.status == "Pending":
                state.status = SKIPPED
                self.run_.report(StepReport(step_id, SKIPPED))
        return self._result()

    def _check_stop(self) -> None:
        if self.ending is not None:
            return
        if self.run_.cancel.is_set():
            self.ending = CANCELED_STATUS
        elif time.monotonic() >= self.run_.deadline:
            self.ending = TIMEOUT_STATUS
        if self.ending is not None:
            self.ctx.stop.set()

    def _startable(self) -> bool:
        return any(s.status == "Pending" for s in self.states.values()) and bool(
            self._ready() or any(s.status == RUNNING for s in self.states.values())
        )

    def _ready(self) -> list[Step]:
        ready = []
        for step in self.task.steps:
            state = self.states[step.id]
            if state.status != "Pending":
                continue
            parents = [self.states[p] for p in self.graph.parents[step.id]]
            if any(p.status in ("Pending", RUNNING) for p in parents):
                continue
            if self._may_run(step):
                ready.append(step)
            else:
                state.status = SKIPPED
                self.run_.report(StepReport(step.id, SKIPPED))
        return ready

    def _may_run(self, step: Step) -> bool:
        for parent_id in self.graph.parents[step.id]:
            parent = self.states[parent_id]
            parent_step = self.task.step(parent_id)
            code = parent.exit_code
            if parent.status == SKIPPED:
                return False
            if step.exited_without and code in step.exited_without:
                return False
            if step.exited_with:
                if code not in step.exited_with:
                    return False
            elif parent.status != SUCCEEDED and not parent_step.ignore_errors:
                return False
        return True

    def _start_ready(self) -> None:
        for step in self._ready():
            state = self.states[step.id]
            state.status = RUNNING
            state.started = time.monotonic()
            state.started_at = now_iso()
            self.run_.report(StepReport(step.id, RUNNING, started_at=state.started_at))
            thread = threading.Thread(
                target=self._step_thread, args=(step,), name=f"step-{step.id}", daemon=True
            )
            state.thread = thread
            thread.start()

    def _step_thread(self, step: Step) -> None:
        network = step.network or DEFAULT_NETWORK
        self.ctx.log.info(
            f"Executing step ID: {step.id}. Timeout(sec): {step.timeout}, Working directory: "
            f"'{step.working_directory or ''}', Network: '{network}'"
        )
        error: str | None = None
        exit_code: int | None = 0
        images: tuple[tuple[str, str], ...] = ()
        try:
            images = tuple(run_step(self.ctx, step))
        except StepFailedError as failure:
            error, exit_code = str(failure), failure.exit_code
        except (StepError, EngineError, ContextError, AirlockError) as exc:
            error, exit_code = str(exc), None
        except Exception as exc:  # reported as the step's failure
            log.exception("step %s failed inside Airlock", step.id)
            error, exit_code = f"internal error: {type(exc).__name__}: {exc}", None
        self._finished(step, error, exit_code, images)

    def _finished(
        self,
        step: Step,
        error: str | None,
        exit_code: int | None,
        images: tuple[tuple[str, str], ...],
    ) -> None:
        with self.cond:
            state = self.states[step.id]
            state.finished = time.monotonic()
            state.exit_code = exit_code
            state.images = images
            state.error = error
            state.status = SUCCEEDED if error is None else FAILED
            if error is not None and self.ending is not None:
                state.status = self.ending  # stopped by the run's cancel or timeout
            if error is not None:
                if step.ignore_errors:
                    self.ctx.log.info(
                        f"Step ID: {step.id} encountered an error: {error}, but is set to "
                        "ignore errors. Continuing..."
                    )
                elif not self._expected(step, exit_code) and self.failure is None:
                    if self.ending is None:
                        self.failure = f"failed to run step ID: {step.id}: {error}"
                        self.ctx.log.plain(self.failure)
                    self.ctx.stop.set()
            self.run_.report(
                StepReport(
                    step.id,
                    state.status,
                    exit_code,
                    state.started_at,
                    now_iso(),
                    images,
                    error,
                )
            )
            self.cond.notify_all()

    def _expected(self, step: Step, exit_code: int | None) -> bool:
        """A non-zero exit a dependent step waits for (``exitedWith``) is no failure."""
        if exit_code is None:
            return False
        return any(
            exit_code in self.task.step(child).exited_with for child in self.graph.children(step.id)
        )

    def _result(self) -> RunResult:
        pushed = tuple(self.ctx.pushed)
        if self.ending == CANCELED_STATUS:
            return RunResult(CANCELED_STATUS, "canceled by request", pushed)
        if self.ending == TIMEOUT_STATUS:
            return RunResult(
                TIMEOUT_STATUS,
                f"the run did not finish within its timeout ({self.run_.plan.timeout} s): "
                f"{DEADLINE}",
                pushed,
            )
        if self.failure is not None:
            return RunResult(FAILED, self.failure, pushed)
        for step in self.task.steps:
            state = self.states[step.id]
            elapsed = max(state.finished - state.started, 0.0) if state.started else 0.0
            self.ctx.log.info(
                f"Step ID: {step.id} marked as {_ACR_STATUS.get(state.status, state.status)} "
                f"(elapsed time in seconds: {elapsed:f})"
            )
        dependencies = tuple(self.ctx.dependencies)
        if dependencies:
            self.ctx.log.info("The following dependencies were found:")
            for line in dependency_report(dependencies, self.run_.commit).split("\n"):
                self.ctx.log.plain(line)
        return RunResult(SUCCEEDED, None, pushed, dependencies)


__all__ = ["CANCELED", "RunExecutor", "RunResult", "StepReport"]
