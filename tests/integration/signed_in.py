"""A test server whose REST calls carry the owner's session (the REST API wants a signed-in
caller; the CLI of the same Unix user reads ``owner-credentials.json`` by itself), and
direct writes to its database as another server process sharing it would make them."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import Airlock, start_airlock, wait_http


@dataclass
class SignedInAirlock(Airlock):
    def _request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        owner = json.loads((self.home / "owner-credentials.json").read_text())
        req = urllib.request.Request(
            f"{self.api_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {owner['token']}",
            },
            method=method,
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        return status, json.loads(payload) if payload else None

    def api(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        return self._request(method, path, body)

    def create_registry(self, name: str, port: int | None = None) -> str:
        body: dict[str, object] = {"name": name}
        if port is not None:
            body["port"] = port
        status, registry = self._request("POST", "/api/registries", body)
        assert status in (200, 201), registry
        url = f"http://{registry['loginServer']}"
        wait_http(f"{url}/v2/")
        self.registries[name] = url
        return url

    def admin_credentials(self, name: str) -> tuple[str, str]:
        status, credentials = self._request("GET", f"/api/registries/{name}/credentials")
        assert status == 200, credentials
        return str(credentials["username"]), str(credentials["passwords"][0]["value"])

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> None:
        """One change in its own transaction, moving the identity epoch as every store that
        changes who may do what does."""
        with sqlite3.connect(self.home / "airlock.db", timeout=30) as db:
            db.execute(statement, params)
            db.execute("UPDATE auth_epochs SET value = value + 1 WHERE name = 'identities'")
        db.close()

    def query(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.home / "airlock.db", timeout=30)
        try:
            return db.execute(statement, params).fetchall()
        finally:
            db.close()


def start_signed_in(home: Path, extra_env: dict[str, str] | None = None) -> SignedInAirlock:
    plain = start_airlock(home, extra_env=extra_env)
    return SignedInAirlock(
        proc=plain.proc, log_path=plain.log_path, home=plain.home, api_port=plain.api_port
    )
