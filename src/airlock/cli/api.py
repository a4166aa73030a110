"""A small client of the Airlock REST API (docs/rest-api.md).

It uses ``http.client`` rather than httpx because the CLI must start fast: one request per
command does not need a connection pool, and httpx alone costs more import time than the
whole command is allowed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from airlock.cli.errors import ApiError, CLIError

if TYPE_CHECKING:
    import http.client

DEFAULT_URL = "http://127.0.0.1:5080"
TIMEOUT_SECONDS = 120.0

QueryValue = str | int | bool | None


def server_url() -> str:
    return os.environ.get("AIRLOCK_URL") or DEFAULT_URL


def segment(value: str) -> str:
    """Quote one path segment so a name can never change the path."""
    return quote(value, safe="")


class Client:
    """Sends JSON requests to one server and turns failures into ``CLIError``."""

    def __init__(
        self,
        base_url: str,
        debug: bool = False,
        log: IO[str] | None = None,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # The session to present (airlock.cli.signin); None sends no credentials.
        self.token = token
        self.debug = debug
        self.log = log if log is not None else sys.stderr
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CLIError(f"AIRLOCK_URL must be an http:// or https:// URL, not {base_url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")

    def get(self, path: str, query: Mapping[str, QueryValue] | None = None) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("POST", path, body=body)

    def delete(self, path: str, query: Mapping[str, QueryValue] | None = None) -> Any:
        return self.request("DELETE", path, query=query)

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        target = self._prefix + path + _query_string(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "User-Agent": "airlock-cli"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._debug(f"{method} {self.base_url}{path}{_query_string(query)}")
        if data is not None:
            self._debug(f"request body: {json.dumps(_redacted(body))}")
        started = time.monotonic()
        status, reason, payload = self._send(method, target, data, headers)
        elapsed_ms = (time.monotonic() - started) * 1000
        self._debug(f"response: {status} {reason} ({elapsed_ms:.0f} ms, {len(payload)} bytes)")
        if status >= 400:
            raise _api_error(status, reason, payload, self.base_url)
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise CLIError(
                f"the Airlock server at {self.base_url} answered {method} {path} with a body "
                "that is not JSON; is AIRLOCK_URL pointing at an Airlock server?"
            ) from None

    def _send(
        self, method: str, target: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        # Imported per request rather than at start-up: http.client pulls in the email
        # package, a fifth of the CLI's import time, which --help does not need.
        import http.client

        conn = self._connection()
        try:
            conn.request(method, target, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.reason, response.read()
        except ConnectionRefusedError:
            raise self._unreachable("connection refused") from None
        except TimeoutError:
            raise self._unreachable(f"no answer within {TIMEOUT_SECONDS:.0f} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(str(exc) or type(exc).__name__) from None
        finally:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        import http.client

        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)
        return http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)

    def _unreachable(self, reason: str) -> CLIError:
        return CLIError(
            f"cannot reach the Airlock server at {self.base_url} ({reason}); "
            "start it with 'airlock server' or set AIRLOCK_URL"
        )

    def _debug(self, line: str) -> None:
        if self.debug:
            print(f"DEBUG: {line}", file=self.log)


# Body fields that carry secrets (a key vault secret's value, a password): --debug shows
# that they were sent, never what they were.
_SECRET_FIELDS = frozenset(
    {"value", "password", "secret", "secretValues", "secretBuildArgs", "gitAccessToken"}
)


def _redacted(body: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: "***" if k in _SECRET_FIELDS else v for k, v in (body or {}).items()}


def _query_string(query: Mapping[str, QueryValue] | None) -> str:
    if not query:
        return ""
    pairs = [(k, _query_value(v)) for k, v in query.items() if v is not None]
    return "?" + urlencode(pairs) if pairs else ""


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _api_error(status: int, reason: str, payload: bytes, base_url: str = "") -> CLIError:
    try:
        error = json.loads(payload)["error"]
        message = str(error["message"])
        if status == 401 and base_url and "airlock login" not in message:
            message += f" (server {base_url}; sign in with 'airlock login')"
        return ApiError(status, str(error["code"]), message)
    except (ValueError, KeyError, TypeError):
        text = payload.decode(errors="replace").strip().replace("\n", " ")[:200]
        detail = f": {text}" if text else ""
        return ApiError(status, "", f"the Airlock server answered {status} {reason}{detail}")
