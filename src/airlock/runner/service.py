"""The server's side of runs: queue them, prepare a plan for the worker that claims one, take
what workers report.

Queueing snapshots what the run will do (the task's definition, context and values at that
moment, merged with the run's ``--set`` values) into ``runs.definition``, so a task updated
after ``task run`` does not change the run. Secrets are not in the snapshot: the task's are
read from the task when the run is claimed, a quick run's are sealed in the snapshot with the
master key.

Claiming prepares the plan (``RunPreparer``): the key vault secrets the task file names,
read with the task's identity and its access policies; the registry logins (the run's own
registry with a token only this run holds, and the task's ``credential add`` entries); the
git token. A run that cannot be prepared (a secret it may not read, a registry its identity
has no role on) ends Failed with that reason in its log, before any step.

Every method here touches the database and runs on the server's event loop thread (the
in-process pool calls them through ``LocalHost``).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import secrets as random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from airlock.auth.issuer import REFRESH_USERNAME, AuthenticationError
from airlock.auth.service import AuthService
from airlock.crypto import MasterKey
from airlock.errors import AirlockError, InvalidArgumentError
from airlock.identity.sessions import SessionStore
from airlock.registry.registries import RegistryCatalog, RegistryRecord
from airlock.runner.executor import RunResult, StepReport
from airlock.runner.plan import (
    KIND_CMD,
    KIND_DOCKERFILE,
    KIND_FILE,
    DockerfileBuild,
    RegistryLogin,
    RunPlan,
)
from airlock.runner.runlog import go_log_time
from airlock.runs.baseimages import BaseImageStore
from airlock.runs.credentials import TaskCredentialStore, is_secret_uri
from airlock.runs.logs import LogStore
from airlock.runs.store import FAILED, MANUAL, SUCCEEDED, Run, RunStore
from airlock.runs.tasks import Task, TaskStore
from airlock.tasks.errors import TaskFileError
from airlock.tasks.render import RunContext, render_and_load
from airlock.vault import KeyVault
from airlock.vault.masking import MASKER

log = logging.getLogger(__name__)

QUICK_RUN = "QuickRun"
QUICK_BUILD = "QuickBuild"
TASK_RUN = "AutoRun"


@dataclass(frozen=True)
class RunRequest:
    """What to run, as a task or ``acr run`` / ``acr build`` describes it."""

    kind: str
    definition: str
    source: str
    context: str
    values: dict[str, Any]
    timeout: int
    platform: str = "linux"
    dockerfile: DockerfileBuild | None = None
    secret_values: dict[str, str] | None = None  # quick runs: sealed into the snapshot
    git_token: str | None = None  # quick runs only; a task's stays in the task


class RunService:
    def __init__(
        self,
        *,
        runs: RunStore,
        logs: LogStore,
        tasks: TaskStore,
        credentials: TaskCredentialStore,
        registries: RegistryCatalog,
        vault: KeyVault,
        auth: AuthService,
        master_key: MasterKey,
        sessions: SessionStore,
        base_images: BaseImageStore,
    ) -> None:
        self.runs = runs
        self.logs = logs
        self.tasks = tasks
        self.credentials = credentials
        self.registries = registries
        self.vault = vault
        self.auth = auth
        self.key = master_key
        self.sessions = sessions
        self.base_images = base_images
        # The management API's address, for `az` steps (set once the server listens).
        self.server_url: str | None = None
        self._waiters: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # --- queueing ------------------------------------------------------------------------

    def on_queued(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from any thread) whenever a run is queued."""
        with self._lock:
            self._waiters.append(wake)

    def queue_task(
        self,
        registry: RegistryRecord,
        task: Task,
        values: dict[str, Any] | None = None,
        *,
        trigger: str = MANUAL,
        commit: str = "",
        branch: str = "",
        cause: dict[str, Any] | None = None,
    ) -> Run:
        """Queue a run of ``task``; ``cause`` says what triggered it (shown by show-run)."""
        snapshot: dict[str, Any] = {
            "runType": TASK_RUN,
            "taskId": task.id,
            "kind": task.kind,
            "source": task.file_name or ("Dockerfile" if task.kind == KIND_DOCKERFILE else "cmd"),
            "context": task.context,
            "values": {**task.values, **(values or {})},
            "timeout": task.timeout,
            "commit": commit,
            "branch": branch,
            "cause": cause,
        }
        if task.kind == KIND_DOCKERFILE:
            snapshot["dockerfile"] = json.loads(task.definition)
            snapshot["definition"] = ""
        else:
            snapshot["definition"] = task.definition
        run = self.runs.queue(
            registry.id,
            json.dumps(snapshot),
            task=task.name,
            trigger=trigger,
            platform=task.platform,
        )
        self._wake()
        return run

    def queue_quick(self, registry: RegistryRecord, request: RunRequest) -> Run:
        nonce = random.token_hex(16)
        snapshot: dict[str, Any] = {
            "runType": QUICK_BUILD if request.kind == KIND_DOCKERFILE else QUICK_RUN,
            "taskId": None,
            "kind": request.kind,
            "definition": request.definition,
            "source": request.source,
            "context": request.context,
            "values": request.values,
            "timeout": request.timeout,
            "nonce": nonce,
        }
        if request.dockerfile is not None:
            snapshot["dockerfile"] = dockerfile_json(request.dockerfile)
        hidden = {
            "values": request.secret_values or {},
            "gitToken": request.git_token,
        }
        if request.secret_values or request.git_token:
            sealed = self.key.seal(json.dumps(hidden).encode(), _aad(registry.id, nonce))
            snapshot["sealed"] = base64.b64encode(sealed).decode("ascii")
        run = self.runs.queue(
            registry.id, json.dumps(snapshot), task=None, platform=request.platform
        )
        self._wake()
        return run

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for wake in waiters:
            wake()

    # --- what workers do -----------------------------------------------------------------

    def claim(self, worker: str) -> RunPlan | None:
        """The next run's plan, claimed for ``worker``; None when nothing is queued. A run
        that cannot be prepared is failed here and the next one is tried."""
        while True:
            run = self.runs.claim(worker)
            if run is None:
                return None
            try:
                return self.prepare(run)
            except (AirlockError, AuthenticationError, TaskFileError, ValueError) as exc:
                message = str(exc)
            except Exception as exc:  # a fault of Airlock's: the run ends, never loops
                log.exception("run %s could not be prepared", run.run_id)
                message = f"internal error while preparing the run: {type(exc).__name__}"
            self.server_log(run.id, [message, f"Run ID: {run.run_id} failed. Error: {message}"])
            self.runs.finish(run.id, worker, FAILED, message)

    def heartbeat(self, run: str, worker: str) -> bool:
        return self.runs.heartbeat(run, worker)

    def append_log(self, run: str, worker: str, lines: Sequence[tuple[str, str]]) -> bool:
        return self.logs.append(run, worker, lines)

    def record_step(self, run: str, worker: str, report: StepReport) -> bool:
        return self.runs.record_step(run, worker, report)

    def finish(self, run: str, worker: str, result: RunResult) -> bool:
        ended = self.runs.finish(run, worker, result.status, result.error)
        # Also when the run was taken away meanwhile (cancelled): its steps are over.
        self.end_identity_session(run)
        if ended and result.status == SUCCEEDED:
            task_id = json.loads(self.runs.by_id(run).definition).get("taskId")
            if task_id:
                # What base-image triggers watch: the bases of the task's last good run.
                self.base_images.replace(task_id, result.dependencies)
        return ended

    def end_identity_session(self, run: str) -> None:
        """Revoke the session the run's `az` steps used (a run's, never the task's others)."""
        self.sessions.revoke_source(_session_source(run))

    def server_log(self, run: str, messages: Sequence[str]) -> None:
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="microseconds")
        lines = [(stamp, MASKER.mask(f"{go_log_time(now)} {m}")) for m in messages]
        self.logs.append(run, None, lines)

    # --- preparing a plan ----------------------------------------------------------------

    def prepare(self, run: Run) -> RunPlan:
        snapshot: dict[str, Any] = json.loads(run.definition)
        registry = self.registries.get_by_id(run.registry_id)
        task = None
        if snapshot.get("taskId"):
            task = self.tasks.get(run.registry_id, run.task or "")
        values: dict[str, Any] = dict(snapshot.get("values") or {})
        masked: list[str] = []
        git_token = None
        if task is not None:
            task_secrets = self.tasks.secrets(task)
            values.update(task_secrets)  # --set-secret values are .Values, masked
            masked += task_secrets.values()
            git_token = self.tasks.git_token(task)
        elif snapshot.get("sealed"):
            hidden = json.loads(
                self.key.open(
                    base64.b64decode(snapshot["sealed"]), _aad(run.registry_id, snapshot["nonce"])
                )
            )
            values.update(hidden["values"])
            masked += hidden["values"].values()
            git_token = hidden.get("gitToken")
        identity = task.identity if task is not None else None
        plan = RunPlan(
            run=run.id,
            run_id=run.run_id,
            registry=registry.login_server,
            registry_name=registry.name,
            kind=snapshot["kind"],
            definition=snapshot.get("definition") or "",
            source=snapshot.get("source") or "acb.yaml",
            context=snapshot["context"],
            created_at=run.created_at,
            task_name=run.task or "",
            trigger=run.trigger,
            platform=run.platform,
            timeout=int(snapshot.get("timeout") or 3600),
            values=values,
            masked=tuple(masked),
            git_token=git_token,
            insecure_registries=(
                *(r.login_server for r in self.registries.all()),
                *loopback_allowed_registries(),
            ),
            commit=snapshot.get("commit") or "",
            branch=snapshot.get("branch") or "",
        )
        if snapshot.get("dockerfile") is not None:
            plan = _with_dockerfile(plan, snapshot["dockerfile"], values)
        secrets = self._vault_secrets(plan, identity)
        logins = [self._own_login(registry, run)]
        if task is not None:
            logins += self._task_logins(task, identity, registry)
        token = None
        if identity is not None and self.server_url is not None:
            _, token = self.sessions.open(identity, source=_session_source(run.id))
        return _replace(
            plan,
            secrets=secrets,
            logins=tuple(logins),
            identity_token=token,
            server_url=self.server_url if token else None,
        )

    def _vault_secrets(self, plan: RunPlan, identity: str | None) -> dict[str, str]:
        """The file's ``secrets:``, each read with the task's identity."""
        if plan.kind not in (KIND_FILE, KIND_CMD):
            return {}
        run = RunContext(id=plan.run_id, registry=plan.registry, registry_name=plan.registry_name)
        task, _ = render_and_load(plan.definition, source=plan.source, run=run, values=plan.values)
        found: dict[str, str] = {}
        for secret in task.secrets:
            if identity is None:
                raise InvalidArgumentError(
                    f"secret {secret.id!r} is read from a key vault with the task's identity, "
                    "and this run has none; create the task with --assign-identity and grant "
                    "it with 'airlock keyvault set-policy --secret-permissions get'"
                )
            found[secret.id] = self.vault.resolver.resolve(secret.keyvault, identity)
        return found

    def _own_login(self, registry: RegistryRecord, run: Run) -> RegistryLogin:
        realm = self.auth.realm(registry.id, registry.name, registry.login_server)
        lifetime = 28800 + 600
        token = self.auth.token_service.issue_refresh_for_run(realm, run.id, lifetime)
        return RegistryLogin(registry.login_server, REFRESH_USERNAME, token.token)

    def _task_logins(
        self, task: Task, identity: str | None, own: RegistryRecord
    ) -> list[RegistryLogin]:
        logins = []
        for entry in self.credentials.for_run(task.id):
            if entry.login_server == own.login_server:
                continue  # the run's own login covers it
            if entry.use_identity and identity is None:
                raise InvalidArgumentError(
                    f"the credential for {entry.login_server} uses the task's identity, and "
                    "the task has none; assign one with 'airlock acr task identity assign'"
                )
            username = entry.username
            password = entry.password
            identity_alone = username is None and entry.password_ref is None
            if entry.use_identity and identity is not None and identity_alone:
                logins.append(self._identity_login(entry.login_server, identity))
                continue
            if username is not None and is_secret_uri(username):
                username = self._resolve(username, identity, entry.login_server)
            if entry.password_ref is not None:
                password = self._resolve(entry.password_ref, identity, entry.login_server)
            if username is None or password is None:
                raise InvalidArgumentError(
                    f"the credential for {entry.login_server} has no user name or password; "
                    "update it with 'airlock acr task credential update'"
                )
            logins.append(RegistryLogin(entry.login_server, username, password))
        return logins

    def _resolve(self, uri: str, identity: str | None, server: str) -> str:
        if identity is None:
            raise InvalidArgumentError(
                f"the credential for {server} names a key vault secret, which only the task's "
                "identity can read; add --use-identity [system] to the credential"
            )
        return self.vault.resolver.resolve(uri, identity)

    def _identity_login(self, server: str, identity: str) -> RegistryLogin:
        """The identity signs in to one of this server's registries with what its role
        assignments there allow."""
        for record in self.registries.all():
            if record.login_server == server:
                realm = self.auth.realm(record.id, record.name, record.login_server)
                token = self.auth.token_service.issue_refresh_for_principal(realm, identity)
                return RegistryLogin(server, REFRESH_USERNAME, token.token)
        raise InvalidArgumentError(
            f"{server} is not a registry of this Airlock server, so the task's identity cannot "
            "sign in to it; give -u and -p (vault secret URIs) with the credential"
        )


def dockerfile_json(build: DockerfileBuild) -> dict[str, Any]:
    """The non-secret part of a Dockerfile build, as stored in a task or a run."""
    return {
        "dockerfile": build.dockerfile,
        "images": list(build.images),
        "buildArgs": dict(build.build_args),
        "secretBuildArgNames": [name for name, _ in build.secret_build_args],
        "target": build.target,
        "noPush": not build.push,
    }


def _with_dockerfile(plan: RunPlan, data: dict[str, Any], values: dict[str, Any]) -> RunPlan:
    # Secret build arguments are stored with the task's (or the run's) secret values.
    secret_args = tuple((name, str(values[name])) for name in data.get("secretBuildArgNames") or ())
    build = DockerfileBuild(
        dockerfile=data.get("dockerfile") or "Dockerfile",
        images=tuple(data.get("images") or ()),
        build_args=tuple((k, str(v)) for k, v in (data.get("buildArgs") or {}).items()),
        secret_build_args=secret_args,
        target=data.get("target"),
        push=not data.get("noPush"),
    )
    return _replace(plan, dockerfile=build)


def _replace(plan: RunPlan, **changes: Any) -> RunPlan:
    return replace(plan, **changes)


# The importer's allowlist (airlock.importer.guard, a sibling layer): its exact host:port
# entries on loopback are registries of this machine served over plain HTTP, as this server's.
ALLOWED_REGISTRIES_SETTING = "AIRLOCK_IMPORT_ALLOWED_REGISTRIES"


def loopback_allowed_registries() -> tuple[str, ...]:
    """Registries on this machine (loopback ``host:port``) that runs may reach over HTTP."""
    found = []
    for entry in os.environ.get(ALLOWED_REGISTRIES_SETTING, "").split(","):
        entry = entry.strip().lower()
        host, sep, port = entry.rpartition(":")
        if not sep or not port.isdigit():
            continue
        host = host.strip("[]")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            found.append(entry)
    return tuple(found)


def _session_source(run: str) -> str:
    return f"run:{run}"


def _aad(registry_id: int, nonce: str) -> str:
    return f"run-secrets:{registry_id}:{nonce}"
