"""Start real registry servers for tests and benchmarks: Airlock and CNCF Distribution.

Both bind to 127.0.0.1 on free ports, keep their state in a folder the caller owns, and are
stopped by ``stop()`` (or the context manager) even when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def airlock_executable() -> list[str]:
    """The installed ``airlock`` next to this interpreter, else ``python -m airlock``."""
    candidate = Path(sys.executable).with_name("airlock")
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", "airlock"]


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                resp.read()
                return
        except urllib.error.HTTPError:
            return  # it answered: 401 and friends mean it is up
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {last}")


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Airlock(ServerProcess):
    home: Path
    api_port: int
    registries: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["AIRLOCK_HOME"] = str(self.home)
        env["AIRLOCK_URL"] = self.api_url
        # Sign-ins stored by 'airlock login' stay with this server's test, not the machine.
        env["AIRLOCK_CONFIG_DIR"] = str(self.home / "cli-config")
        return env

    @property
    def owner_token(self) -> str:
        """The owner's session, as the server wrote it for the CLI of its Unix user."""
        document = json.loads((self.home / "owner-credentials.json").read_text())
        return str(document["token"])

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if token is None:
            token = self.owner_token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the ``airlock`` CLI against this server."""
        return subprocess.run(
            [*airlock_executable(), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def create_registry(self, name: str, port: int | None = None) -> str:
        """Create a registry through the REST API; returns its base URL (http://127.0.0.1:P)."""
        body: dict[str, object] = {"name": name}
        if port is not None:
            body["port"] = port
        req = urllib.request.Request(
            f"{self.api_url}/api/registries",
            data=json.dumps(body).encode(),
            headers=self._headers(None),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            registry = json.loads(resp.read())
        url = f"http://{registry['loginServer']}"
        wait_http(f"{url}/v2/")
        self.registries[name] = url
        return url

    def admin_credentials(self, name: str) -> tuple[str, str]:
        """The admin user of registry ``name``: (username, first password)."""
        req = urllib.request.Request(
            f"{self.api_url}/api/registries/{name}/credentials", headers=self._headers(None)
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            credentials = json.loads(resp.read())
        return str(credentials["username"]), str(credentials["passwords"][0]["value"])

    def api(
        self, method: str, path: str, body: object = None, token: str | None = None
    ) -> tuple[int, object]:
        """One REST API call: (status, decoded JSON body or None); errors are returned.
        Made as the owner unless ``token`` names another session ("" sends none)."""
        req = urllib.request.Request(
            f"{self.api_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers=self._headers(token),
            method=method,
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        return status, json.loads(payload) if payload else None

    def restart(self) -> None:
        """Start the server again on the same state folder and API port."""
        self.stop()
        fresh = start_airlock(self.home, api_port=self.api_port)
        self.proc, self.log_path = fresh.proc, fresh.log_path


def start_airlock(
    home: Path, api_port: int | None = None, extra_env: dict[str, str] | None = None
) -> Airlock:
    home.mkdir(parents=True, exist_ok=True)
    port = api_port or free_port()
    log_path = home / f"server-{int(time.time() * 1000)}.log"
    env = dict(os.environ)
    env["AIRLOCK_HOME"] = str(home)
    env.update(extra_env or {})
    # Kept in the state folder, as private as the server's own files.
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
        proc = subprocess.Popen(
            [*airlock_executable(), "server", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Airlock(proc=proc, log_path=log_path, home=home, api_port=port)
    try:
        wait_http(f"{server.api_url}/api/health", proc=proc)
    except Exception:
        server.stop()
        raise RuntimeError(f"airlock server did not start:\n{server.log()}") from None
    return server


@dataclass
class Distribution(ServerProcess):
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
"""


def distribution_binary() -> str | None:
    return shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )


def start_distribution(root: Path) -> Distribution:
    """Start Debian's ``docker-registry`` (CNCF Distribution 2.8) on a free loopback port."""
    binary = distribution_binary()
    if binary is None:
        raise RuntimeError("docker-registry is not installed; run scripts/bootstrap")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=root / "data", port=port))
    log_path = root / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Distribution(proc=proc, log_path=log_path, root=root, port=port)
    try:
        wait_http(f"{server.url}/v2/", proc=proc)
    except Exception:
        server.stop()
        raise RuntimeError(f"docker-registry did not start:\n{server.log()}") from None
    return server


@contextmanager
def running_airlock(home: Path) -> Iterator[Airlock]:
    server = start_airlock(home)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_distribution(root: Path) -> Iterator[Distribution]:
    server = start_distribution(root)
    try:
        yield server
    finally:
        server.stop()
