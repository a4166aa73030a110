"""``airlock worker``: a worker in a process of its own, on this machine or another one with
podman, as GitLab Runner and Buildkite agents are.

It long-polls the server's worker API (``airlock.server.routes.workers``) for the next
queued run, executes its plan with this machine's engine (configuration and run folders in
``--home``), and reports the log, the steps and the end as the server's own pool does. It
never sees the server's database, vault or master key: the plan carries what one run needs.

- Connection errors (the server restarting) are retried with a pause; a run keeps going.
- Credentials: a service principal (``--service-principal APPID``, its secret in
  ``$AIRLOCK_WORKER_SECRET``), with which the worker signs in and signs in again whenever
  its session ends (sessions last ``$AIRLOCK_SESSION_HOURS``, 12 by default); or a session
  token (``--token``), which it cannot renew.
- A 401 that signing in again does not cure (a wrong secret, a revoked principal, an expired
  ``--token``) or a 403 (the principal lost its role) ends the worker with the server's
  message.
- SIGTERM or SIGINT stops it: no new claim; runs in progress are stopped and reported Failed
  as interrupted.

The principal must hold ``agentPools/write`` on the server (Contributor). A token is a
management session (``als_...``): ``airlock login --service-principal`` then ``airlock account
get-access-token``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from airlock.common.paths import default_home
from airlock.runner.dependencies import dependency_json
from airlock.runner.executor import RunResult, StepReport
from airlock.runner.plan import RunPlan
from airlock.runner.worker import HEARTBEAT_INTERVAL, WorkerPool

log = logging.getLogger("airlock.worker")

URL_ENV = "AIRLOCK_URL"
TOKEN_ENV = "AIRLOCK_WORKER_TOKEN"
SECRET_ENV = "AIRLOCK_WORKER_SECRET"  # a service principal's secret: never on a command line
CLAIM_WAIT = 5  # seconds one claim waits on the server for a run (and a stop for it)
RETRY_PAUSE = 2.0
RETRY_FOR = 120.0  # a report is retried this long while the server cannot be reached
LINES_PER_CALL = 1000
_NAME = re.compile(r"[A-Za-z0-9._-]{1,60}")  # the API takes 64, with '-<n>' added
INTERRUPTED = "the run was interrupted: its worker was stopped while it ran"


class WorkerRefusedError(Exception):
    """The server refused the worker's credentials (401) or role (403): no point retrying."""


class ServicePrincipal:
    """What the worker signs in with, again whenever its session ends."""

    def __init__(self, app_id: str, secret: str) -> None:
        self.app_id = app_id
        self._secret = secret

    def __repr__(self) -> str:
        return f"ServicePrincipal({self.app_id!r}, ***)"

    def body(self) -> dict[str, str]:
        return {"appId": self.app_id, "secret": self._secret}


class RemoteHost:
    """``RunHost`` over the worker API; ``refused`` is set when the server refuses the
    worker's credentials, with the reason in ``refusal``.

    Give it a ``token``, or a ``principal`` it signs in with (at the first call, and again
    after a 401: the session ended). Worker threads share one session; the first thread to
    meet a 401 signs in again, the others use its new session.
    """

    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        principal: ServicePrincipal | None = None,
        retry_pause: float = RETRY_PAUSE,
        retry_for: float = RETRY_FOR,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (token is None) == (principal is None):
            raise ValueError("give a token or a service principal")
        self.retry_pause = retry_pause
        self.retry_for = retry_for
        self.refused = threading.Event()
        self.refusal = ""
        self.heartbeat_interval = HEARTBEAT_INTERVAL
        self.sign_ins = 0
        self._principal = principal
        self._token = token
        self._token_lock = threading.Lock()
        self._client = httpx.Client(
            base_url=server.rstrip("/"),
            headers={"User-Agent": "airlock-worker"},
            timeout=httpx.Timeout(30.0, read=CLAIM_WAIT + 30.0),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    # --- RunHost ---------------------------------------------------------------------------

    def claim(self, worker: str, wait: float) -> RunPlan | None:
        # Not retried here: the pool pauses and claims again.
        answer = self._post("/api/workers/claim", {"worker": worker, "wait": round(wait)}, 0)
        if answer is None:
            return None
        seconds = answer.get("heartbeatSeconds")
        if isinstance(seconds, int | float) and seconds > 0:
            self.heartbeat_interval = float(seconds)
        return RunPlan.from_json(answer["plan"])

    def heartbeat(self, run: str, worker: str) -> bool:
        answer = self._post(f"/api/workers/runs/{run}/heartbeat", {"worker": worker}, 0)
        return bool(answer and answer.get("continue"))

    def append_log(self, run: str, worker: str, lines: Sequence[tuple[str, str]]) -> bool:
        accepted = True
        for start in range(0, len(lines), LINES_PER_CALL):
            part = lines[start : start + LINES_PER_CALL]
            body = {"worker": worker, "lines": [{"time": at, "text": text} for at, text in part]}
            answer = self._post(f"/api/workers/runs/{run}/logs", body)
            accepted = accepted and bool(answer and answer.get("accepted"))
        return accepted

    def record_step(self, run: str, worker: str, report: StepReport) -> bool:
        body: dict[str, Any] = {"worker": worker, **asdict(report)}
        body["images"] = [list(pair) for pair in report.images]
        answer = self._post(f"/api/workers/runs/{run}/steps", body)
        return bool(answer and answer.get("accepted"))

    def finish(self, run: str, worker: str, result: RunResult) -> bool:
        body = {
            "worker": worker,
            "status": result.status,
            "error": result.error,
            "dependencies": [dependency_json(base) for base in result.dependencies],
        }
        answer = self._post(f"/api/workers/runs/{run}/finish", body)
        return bool(answer and answer.get("accepted"))

    # --- HTTP ------------------------------------------------------------------------------

    def _post(
        self, path: str, body: dict[str, Any], retry_for: float | None = None
    ) -> dict[str, Any] | None:
        """The JSON answer, None for 204. Connection errors are retried for ``retry_for``
        seconds (the server may be restarting)."""
        give_up = time.monotonic() + (self.retry_for if retry_for is None else retry_for)
        response = self._send(path, body, give_up)
        if response.status_code == 401 and self._principal is not None:
            # The session ended (or was revoked): sign in again once, and retry the call.
            self._sign_in(stale=response.request.headers.get("Authorization", ""))
            response = self._send(path, body, give_up)
        if response.status_code in (401, 403):
            self.refusal = _refusal(response)
            self.refused.set()
            raise WorkerRefusedError(self.refusal)
        if response.status_code == 204:
            return None
        if response.status_code >= 400:
            raise RuntimeError(f"{path}: {response.status_code} {_message(response)}")
        answer: dict[str, Any] = response.json()
        return answer

    def _send(self, path: str, body: dict[str, Any], give_up: float) -> httpx.Response:
        while True:
            if self.refused.is_set():
                raise WorkerRefusedError(self.refusal)
            try:
                return self._client.post(
                    path, json=body, headers={"Authorization": f"Bearer {self._session()}"}
                )
            except httpx.TransportError as exc:
                if time.monotonic() >= give_up:
                    raise
                log.warning("cannot reach the server (%s); trying again", exc)
                time.sleep(self.retry_pause)

    def _session(self) -> str:
        with self._token_lock:
            token = self._token
        if token is None:
            return self._sign_in(stale="")
        return token

    def _sign_in(self, stale: str) -> str:
        """A new session for the principal; ``stale`` is the authorization the 401 answered
        (another thread may have signed in meanwhile: its session is used then)."""
        assert self._principal is not None
        with self._token_lock:
            if self._token is not None and f"Bearer {self._token}" != stale:
                return self._token
            response = self._client.post("/api/login", json=self._principal.body())
            if response.status_code != 200:
                self.refusal = (
                    f"the server refused the worker's service principal "
                    f"{self._principal.app_id} ({_message(response).rstrip('.')}); check its "
                    f"secret in ${SECRET_ENV} and that it still exists"
                )
                self.refused.set()
                raise WorkerRefusedError(self.refusal)
            token = str(response.json()["accessToken"])
            self._token = token
            self.sign_ins += 1
            log.info("signed in as %s (session %d)", self._principal.app_id, self.sign_ins)
            return token


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def _refusal(response: httpx.Response) -> str:
    message = _message(response)
    if response.status_code == 401:
        return (
            f"the server refused the worker's credentials ({message.rstrip('.')}); a --token "
            "session ends after $AIRLOCK_SESSION_HOURS: start the worker with "
            f"--service-principal APPID and ${SECRET_ENV}, and it signs in again by itself"
        )
    return f"the server refused the worker ({message})"


class RemotePool(WorkerPool):
    """The pool of an ``airlock worker`` process: heart-beats as often as the server asks."""

    host: RemoteHost

    def worker_name(self, number: int) -> str:
        # The worker API takes names without '/'; the server adds '@<principal id>'.
        return f"{self.name}-{number}"

    def interval(self) -> float:
        return self.host.heartbeat_interval


# --- the process -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="airlock worker")
    add_arguments(parser)
    return parser.parse_args(argv)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=os.environ.get(URL_ENV), help="The server's URL.")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV), help="A session token.")
    parser.add_argument("--service-principal", dest="service_principal", default=None)
    parser.add_argument("--name", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a worker until SIGTERM or SIGINT (0), or until the server refuses it (1)."""
    return serve(parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=os.environ.get("AIRLOCK_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # One line per run start and end, not one per request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    problem = _check(args)
    if problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return 2
    home: Path = args.home or default_home()
    if args.service_principal:
        principal = ServicePrincipal(args.service_principal, os.environ[SECRET_ENV])
        host = RemoteHost(args.server, principal=principal)
    else:
        host = RemoteHost(args.server, args.token)
    pool = RemotePool(
        host,
        home,
        args.concurrency,
        args.name,
        claim_wait=CLAIM_WAIT,
        interrupted=INTERRUPTED,
    )
    stop = threading.Event()
    restore = _on_signals(lambda: stop.set())
    log.info(
        "worker %s: %d run(s) at a time from %s (home %s)",
        args.name,
        args.concurrency,
        args.server,
        home,
    )
    pool.start()
    try:
        while not stop.wait(0.2) and not host.refused.is_set():
            pass
    finally:
        log.info("worker %s stopping", args.name)
        pool.stop()
        host.close()
        restore()
        log.info("worker %s stopped", args.name)
    if host.refused.is_set():
        print(f"ERROR: {host.refusal}", file=sys.stderr)
        return 1
    return 0


def _check(args: argparse.Namespace) -> str | None:
    if not args.server:
        return f"give --server (or set ${URL_ENV}): the Airlock server's URL"
    if not str(args.server).startswith(("http://", "https://")):
        return f"--server must be an http:// or https:// URL, not {args.server!r}"
    if args.service_principal and args.token:
        return "give --service-principal or --token, not both"
    if args.service_principal and not os.environ.get(SECRET_ENV):
        return (
            f"set ${SECRET_ENV} to the service principal's secret (it is read from the "
            "environment only, never from the command line)"
        )
    if not args.service_principal and not args.token:
        return (
            f"give --service-principal APPID (its secret in ${SECRET_ENV}), or --token (or "
            f"${TOKEN_ENV}): a principal with Contributor on the server"
        )
    if not 1 <= args.concurrency <= 64:
        return "--concurrency must be from 1 to 64"
    if not _NAME.fullmatch(str(args.name)):
        return f"--name {str(args.name)[:64]!r}: use 1 to 60 letters, digits, '.', '_' or '-'"
    return None


def _on_signals(handler: Callable[[], None]) -> Callable[[], None]:
    """Call ``handler`` on SIGTERM and SIGINT; returns what puts the old handlers back."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
