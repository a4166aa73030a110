"""The route table, called route by route: no endpoint of the REST API escapes the access check.

The table comes from the code itself: ``build_api`` is built on a scratch state folder and
every (method, path) of every route is collected with its ``Rule``. Each one is then called on
a real ``airlock server``

1. without credentials: 401 (the public routes, /api/health and /api/login, answer instead);
2. as a fresh service principal holding no role at all: 403 naming the action, the principal
   and the scope (routes that any signed-in principal may call answer; ``filtered`` lists
   answer 200 without the item the example made);
3. as a fresh service principal given exactly ``least_role(rule.action)`` at the example's
   scope, the narrowest one that holds the resource: a 2xx answer (lists include the item).

How to call a route is written once in ``EXAMPLES``; each example makes what its call needs as
the owner (fresh, uniquely named resources, so destructive calls never touch shared state).
A route without an example fails, and so does an example whose route is gone: adding an
endpoint without saying how it is protected cannot go unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import tempfile
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.auth import roles
from airlock.server.api import build_api
from airlock.server.authz import GuardedRoute, Rule
from airlock.server.http import HttpServer
from airlock.server.listeners import RegistryListeners
from airlock.server.services import Services
from tests.e2e.helpers import push_base_blobs, push_manifest
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import Airlock, start_airlock

RouteKey = tuple[str, str]  # (method, path template)

# --- the route table, from the code -------------------------------------------------------


@dataclass(frozen=True)
class RouteEntry:
    method: str
    path: str
    rule: Rule

    @property
    def key(self) -> RouteKey:
        return self.method, self.path


def route_table() -> tuple[list[RouteEntry], list[str]]:
    """Every (method, path, rule) that ``build_api`` serves, and the routes that are not
    ``GuardedRoute`` (described), from a server assembled on a scratch state folder."""
    entries: list[RouteEntry] = []
    unguarded: list[str] = []
    with tempfile.TemporaryDirectory(prefix="airlock-route-table-") as folder:
        services = Services.open(Path(folder))
        try:
            app = build_api(services, RegistryListeners(HttpServer(), services))
            for route in app.routes:
                path = str(getattr(route, "path", route))
                if not isinstance(route, GuardedRoute):
                    unguarded.append(f"{type(route).__name__} {path}")
                    continue
                methods = set(route.methods or ())
                if "GET" in methods:
                    methods.discard("HEAD")  # Starlette answers HEAD for every GET
                entries.extend(RouteEntry(m, route.path, route.rule) for m in sorted(methods))
        finally:
            services.close()
    return entries, unguarded


ROUTES, UNGUARDED = route_table()

# --- the running server and what the examples make on it ----------------------------------

SUCCESS = range(200, 300)


@dataclass(frozen=True)
class Principal:
    app_id: str
    principal_id: str
    token: str


@dataclass(frozen=True)
class Registry:
    name: str
    group: str
    login_server: str

    @property
    def scope(self) -> str:
        return roles.registry_scope(self.group, self.name)


class Context:
    """The server, the owner, and fresh resources made as the owner."""

    def __init__(self, server: Airlock) -> None:
        self.server = server
        self._counter = itertools.count(1)
        self._clients: list[httpx.Client] = []

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def unique(self, prefix: str = "rt") -> str:
        """A fresh lower-case name of letters and digits (fits every kind of resource)."""
        return f"{prefix}{next(self._counter):03d}{uuid.uuid4().hex[:6]}"

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: object = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        if headers:  # a call signed by its headers (a webhook): the body bytes it signed
            sent = {"Content-Type": "application/json", **headers}
            if token:
                sent["Authorization"] = f"Bearer {token}"
            answer = httpx.request(
                method, self.server.api_url + path, content=signed_body(body), headers=sent
            )
            return answer.status_code, answer.json() if answer.content else None
        return self.server.api(method, path, body, token=token)

    def owner(
        self, method: str, path: str, body: object = None, query: dict[str, str] | None = None
    ) -> Any:
        """A call the owner makes to prepare an example; it must succeed."""
        status, answer = self.call(method, path, query, body)
        assert status in SUCCESS, f"owner {method} {path}: {status} {answer}"
        return answer

    # --- principals ---

    def service_principal(self) -> tuple[str, str]:
        """A new service principal with no role: (appId, secret)."""
        made = self.owner("POST", "/api/ad/sps", {"name": self.unique("sp")})
        return str(made["appId"]), str(made["password"])

    def signed_in(self) -> Principal:
        """A new service principal with no role, signed in."""
        app_id, secret = self.service_principal()
        status, answer = self.call(
            "POST", "/api/login", body={"appId": app_id, "secret": secret}, token=""
        )
        assert status == 200, f"sign-in of a new service principal: {status} {answer}"
        return Principal(app_id, str(answer["user"]["id"]), str(answer["accessToken"]))

    def grant(self, assignee: str, role: str, scope: str) -> None:
        self.owner(
            "POST", "/api/role-assignments", {"assignee": assignee, "role": role, "scope": scope}
        )

    def user(self) -> dict[str, Any]:
        body = {"userPrincipalName": self.unique("user"), "password": uuid.uuid4().hex}
        made: dict[str, Any] = self.owner("POST", "/api/ad/users", body)
        return made

    # --- groups, identities ---

    def group(self) -> str:
        name = self.unique("grp")
        self.owner("POST", "/api/groups", {"name": name})
        return name

    @cached_property
    def shared_group(self) -> str:
        return self.group()

    def identity(self, group: str | None = None) -> dict[str, Any]:
        body = {"name": self.unique("id"), "resourceGroup": group or self.shared_group}
        made: dict[str, Any] = self.owner("POST", "/api/identities", body)
        return made

    # --- registries and their content ---

    def registry(self, group: str | None = None) -> Registry:
        group = group or self.shared_group
        made = self.owner(
            "POST", "/api/registries", {"name": self.unique(), "resourceGroup": group}
        )
        return Registry(str(made["name"]), group, str(made["loginServer"]))

    @cached_property
    def shared_registry(self) -> Registry:
        """A registry holding ``base:v1``; nothing an example does changes that image."""
        registry = self.registry()
        self.push(registry, "base")
        return registry

    @cached_property
    def import_target(self) -> Registry:
        return self.registry()

    def push(self, registry: Registry, repository: str, tag: str = "v1") -> None:
        """A small image (config, one layer, manifest) as the registry's admin user."""
        client = httpx.Client(
            base_url=f"http://{registry.login_server}",
            timeout=30,
            auth=RegistryTokenAuth(*self.server.admin_credentials(registry.name)),
        )
        self._clients.append(client)
        blobs = push_base_blobs(client, repository)
        answer = push_manifest(client, repository, tag, blobs.manifest())
        assert answer.status_code == 201, answer.text

    def fresh_repository(self) -> str:
        """A repository of its own in the shared registry, for calls that delete or lock."""
        repository = self.unique("repo")
        self.push(self.shared_registry, repository)
        return repository

    def scope_map(self) -> str:
        name = self.unique("map")
        base = f"/api/registries/{self.shared_registry.name}"
        body = {"name": name, "actions": ["repositories/base/content/read"]}
        self.owner("POST", f"{base}/scope-maps", body)
        return name

    def token(self) -> str:
        name = self.unique("tok")
        base = f"/api/registries/{self.shared_registry.name}"
        self.owner("POST", f"{base}/tokens", {"name": name, "scopeMap": "_repositories_pull"})
        return name

    def import_job(self) -> str:
        """The id of a finished import into the import target registry."""
        source = f"{self.shared_registry.login_server}/base:v1"
        job = self.owner(
            "POST",
            f"/api/registries/{self.import_target.name}/imports",
            {"source": source, "images": [f"{self.unique('imp')}:v1"]},
            query={"wait": "true"},
        )
        return str(job["id"])

    # --- vaults and secrets ---

    def vault(self, group: str | None = None) -> str:
        name = self.unique("kv")
        self.owner(
            "POST", "/api/vaults", {"name": name, "resourceGroup": group or self.shared_group}
        )
        return name

    @cached_property
    def shared_vault(self) -> str:
        return self.vault()

    @property
    def shared_vault_scope(self) -> str:
        return roles.vault_scope(self.shared_group, self.shared_vault)

    def secret(self, vault: str | None = None) -> tuple[str, str]:
        """A new secret in ``vault`` (the shared one by default): (name, version)."""
        name = self.unique("secret")
        made = self.owner(
            "PUT",
            f"/api/vaults/{vault or self.shared_vault}/secrets/{name}",
            {"value": f"value-of-{name}"},
        )
        return name, str(made["id"]).rsplit("/", 1)[-1]


# --- how to call each route ---------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One concrete call of a route, and what its success needs.

    ``scope``: where the least role is granted (None for routes that need no role).
    ``also``: more (role, scope) grants the call needs besides it (the example says why).
    ``item``: for ``filtered`` lists, (key, value) of the entry the example made.
    ``refused_at``: the scope a refusal names, when it is not ``scope``.
    ``role`` and ``no_role``: for a route any signed-in principal may call whose handler
    still needs a role: the role to grant, and the status without it.
    ``check``: more assertions on the success answer (it gets the answer and the caller).
    """

    path: str
    scope: str | None = None
    query: dict[str, str] | None = None
    body: object = None
    also: tuple[tuple[str, str], ...] = ()
    item: tuple[str, str] | None = None
    refused_at: str | None = None
    role: str | None = None
    no_role: int | None = None
    check: Callable[[Context, Any, Principal], None] | None = None
    headers: dict[str, str] | None = None  # sent with every call (a webhook's signature)


Example = Callable[[Context], Call]
SERVER = roles.SERVER_SCOPE


def _logged_out(ctx: Context, _: Any, caller: Principal) -> None:
    status, answer = ctx.call("GET", "/api/account", token=caller.token)
    assert status == 401, f"the session still works after logout: {status} {answer}"


def _is_caller(_: Context, answer: Any, caller: Principal) -> None:
    assert answer["user"]["id"] == caller.principal_id, answer


def _signed_in(_: Context, answer: Any, __: Principal) -> None:
    assert str(answer["accessToken"]).startswith("als_"), answer


def _lists(value: str) -> Callable[[Context, Any, Principal], None]:
    def check(_: Context, answer: Any, __: Principal) -> None:
        assert value in answer, f"{value!r} not in {answer}"

    return check


def _imported(_: Context, answer: Any, __: Principal) -> None:
    assert answer["status"] == "Succeeded", answer


def _login(ctx: Context) -> Call:
    app_id, secret = ctx.service_principal()
    return Call("/api/login", body={"appId": app_id, "secret": secret}, check=_signed_in)


def _registry_route(suffix: str = "", **kwargs: Any) -> Example:
    """A call on the shared registry; ``kwargs`` go to ``Call``."""

    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        return Call(f"/api/registries/{registry.name}{suffix}", scope=registry.scope, **kwargs)

    return example


def _on_fresh_repository(suffix: str, **extra: str) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        query = {"repository": ctx.fresh_repository(), **extra}
        return Call(f"/api/registries/{registry.name}{suffix}", scope=registry.scope, query=query)

    return example


def _delete_registry(ctx: Context) -> Call:
    registry = ctx.registry()
    return Call(f"/api/registries/{registry.name}", scope=registry.scope)


def _create_registry(ctx: Context) -> Call:
    group = ctx.group()
    return Call(
        "/api/registries",
        scope=roles.group_scope(group),
        body={"name": ctx.unique(), "resourceGroup": group},
    )


def _scope_map_route(ctx: Context, body: object = None) -> Call:
    registry = ctx.shared_registry
    return Call(
        f"/api/registries/{registry.name}/scope-maps/{ctx.scope_map()}",
        scope=registry.scope,
        body=body,
    )


def _token_route(suffix: str = "", body: object = None) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        return Call(
            f"/api/registries/{registry.name}/tokens/{ctx.token()}{suffix}",
            scope=registry.scope,
            body=body,
        )

    return example


def _import(ctx: Context) -> Call:
    source, target = ctx.shared_registry, ctx.import_target
    return Call(
        f"/api/registries/{target.name}/imports",
        scope=target.scope,
        query={"wait": "true"},
        body={"source": f"{source.login_server}/base:v1", "images": [f"{ctx.unique('imp')}:v1"]},
        # Importing reads the source: pull on the source registry as well.
        also=(("AcrPull", source.scope),),
        check=_imported,
    )


def _import_job(ctx: Context) -> Call:
    return Call(f"/api/imports/{ctx.import_job()}", scope=ctx.import_target.scope)


def _vault_route(suffix: str = "", **kwargs: Any) -> Example:
    def example(ctx: Context) -> Call:
        return Call(
            f"/api/vaults/{ctx.shared_vault}{suffix}", scope=ctx.shared_vault_scope, **kwargs
        )

    return example


def _delete_vault(ctx: Context) -> Call:
    group = ctx.shared_group
    vault = ctx.vault(group)
    return Call(f"/api/vaults/{vault}", scope=roles.vault_scope(group, vault))


def _set_policy(ctx: Context) -> Call:
    object_id = ctx.identity()["principalId"]
    return Call(
        f"/api/vaults/{ctx.shared_vault}/policies/{object_id}",
        scope=ctx.shared_vault_scope,
        body={"secretPermissions": ["get", "list"]},
    )


def _delete_policy(ctx: Context) -> Call:
    object_id = ctx.identity()["principalId"]
    path = f"/api/vaults/{ctx.shared_vault}/policies/{object_id}"
    ctx.owner("PUT", path, {"secretPermissions": ["get"]})
    return Call(path, scope=ctx.shared_vault_scope)


def _secret_route(suffix: str = "", with_version: bool = False) -> Example:
    def example(ctx: Context) -> Call:
        name, version = ctx.secret()
        tail = f"/versions/{version}" if with_version else suffix
        return Call(
            f"/api/vaults/{ctx.shared_vault}/secrets/{name}{tail}", scope=ctx.shared_vault_scope
        )

    return example


def _set_secret(ctx: Context) -> Call:
    return Call(
        f"/api/vaults/{ctx.shared_vault}/secrets/{ctx.unique('secret')}",
        scope=ctx.shared_vault_scope,
        body={"value": "a value set by a Key Vault Secrets Officer"},
    )


def _in_new_group(path: str, body: Callable[[Context, str], dict[str, Any]]) -> Example:
    """A create that names its resource group in the body: the role at that group."""

    def example(ctx: Context) -> Call:
        group = ctx.group()
        return Call(path, scope=roles.group_scope(group), body=body(ctx, group))

    return example


def _identity_route(ctx: Context) -> Call:
    group = ctx.group()
    identity = ctx.identity(group)
    return Call(f"/api/identities/{group}/{identity['name']}", scope=roles.group_scope(group))


def _list_identities(ctx: Context) -> Call:
    group = ctx.group()
    identity = ctx.identity(group)
    return Call("/api/identities", scope=roles.group_scope(group), item=("id", identity["id"]))


# An image no pull can reach (nothing listens on port 1): the instance's background pull
# fails at once, so no container is left behind; the routes answer all the same.
UNREACHABLE_IMAGE = "127.0.0.1:1/none:v1"


def _new_instance(ctx: Context) -> tuple[str, dict[str, Any]]:
    group = ctx.group()
    body = {"image": UNREACHABLE_IMAGE, "ports": ["80"]}
    made: dict[str, Any] = ctx.owner(
        "PUT", f"/api/container-groups/{group}/{ctx.unique('aci')}", body
    )
    return group, made


def _instance_route(suffix: str = "") -> Example:
    def example(ctx: Context) -> Call:
        group, made = _new_instance(ctx)
        path = f"/api/container-groups/{group}/{made['name']}{suffix}"
        return Call(path, scope=roles.group_scope(group), body={} if suffix == "/restart" else None)

    return example


def _create_instance(ctx: Context) -> Call:
    group = ctx.group()
    return Call(
        f"/api/container-groups/{group}/{ctx.unique('aci')}",
        scope=roles.group_scope(group),
        body={"image": UNREACHABLE_IMAGE, "ports": ["80"], "ipAddress": "public"},
    )


def _list_instances(ctx: Context) -> Call:
    group, made = _new_instance(ctx)
    return Call("/api/container-groups", scope=roles.group_scope(group), item=("id", made["id"]))


def _group_route(ctx: Context) -> Call:
    group = ctx.group()
    return Call(f"/api/groups/{group}", scope=roles.group_scope(group))


def _create_group(ctx: Context) -> Call:
    # The group does not exist yet, so nothing narrower than the server can be granted.
    name = ctx.unique("grp")
    return Call(
        "/api/groups", scope=SERVER, body={"name": name}, refused_at=roles.group_scope(name)
    )


def _list_groups(ctx: Context) -> Call:
    group = ctx.group()
    return Call("/api/groups", scope=roles.group_scope(group), item=("name", group))


def _create_assignment(ctx: Context) -> Call:
    group = ctx.group()
    assignee = ctx.identity(group)["principalId"]
    scope = roles.group_scope(group)
    return Call(
        "/api/role-assignments",
        scope=scope,
        body={"assignee": assignee, "role": "Reader", "scope": scope},
    )


def _assignment(ctx: Context) -> tuple[str, str]:
    """A Reader assignment at a new group: (its name, the group's scope)."""
    group = ctx.group()
    scope = roles.group_scope(group)
    body = {"assignee": ctx.identity(group)["principalId"], "role": "Reader", "scope": scope}
    made = ctx.owner("POST", "/api/role-assignments", body)
    return str(made["name"]), scope


def _list_assignments(ctx: Context) -> Call:
    name, scope = _assignment(ctx)
    return Call("/api/role-assignments", scope=scope, item=("name", name))


def _delete_assignment(ctx: Context) -> Call:
    name, scope = _assignment(ctx)
    return Call("/api/role-assignments", scope=scope, query={"id": name, "scope": scope})


def _user_route(ctx: Context) -> Call:
    return Call(f"/api/ad/users/{ctx.user()['id']}", scope=SERVER)


def _sp_route(suffix: str = "", body: object = None) -> Example:
    def example(ctx: Context) -> Call:
        app_id, _ = ctx.service_principal()
        return Call(f"/api/ad/sps/{app_id}{suffix}", scope=SERVER, body=body)

    return example


def _list_registries(ctx: Context) -> Call:
    registry = ctx.shared_registry
    return Call("/api/registries", scope=registry.scope, item=("name", registry.name))


def _list_vaults(ctx: Context) -> Call:
    return Call("/api/vaults", scope=ctx.shared_vault_scope, item=("name", ctx.shared_vault))


TASK_CMD = "busybox echo route-table"


def _task_name(ctx: Context) -> str:
    """A fresh task on the shared registry, made by the owner."""
    name = ctx.unique("task")
    base = f"/api/registries/{ctx.shared_registry.name}/tasks"
    ctx.owner("POST", base, {"name": name, "cmd": TASK_CMD, "context": "/dev/null"})
    return name


def _create_task(ctx: Context) -> Call:
    registry = ctx.shared_registry
    return Call(
        f"/api/registries/{registry.name}/tasks",
        scope=registry.scope,
        body={"name": ctx.unique("task"), "cmd": TASK_CMD, "context": "/dev/null"},
    )


def _list_tasks(ctx: Context) -> Call:
    registry = ctx.shared_registry
    name = _task_name(ctx)
    return Call(
        f"/api/registries/{registry.name}/tasks",
        scope=registry.scope,
        check=lambda _, answer, __: _lists(name)(_, [t["name"] for t in answer], __),
    )


def _task_route(body: object = None) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        return Call(
            f"/api/registries/{registry.name}/tasks/{_task_name(ctx)}",
            scope=registry.scope,
            body=body,
        )

    return example


def signed_body(body: object) -> bytes:
    return json.dumps(body).encode()


def _task_webhook(ctx: Context) -> Call:
    registry = ctx.shared_registry
    return Call(
        f"/api/registries/{registry.name}/tasks/{_task_name(ctx)}/webhook",
        scope=registry.scope,
        check=lambda _, answer, __: _lists("secret")(_, answer, __),
    )


def _commit_webhook(ctx: Context) -> Call:
    """A push signed GitHub's way with the task's secret (no session: the signature signs
    it in). The task's context is not git: every call is answered 200, nothing queued."""
    shown = ctx.owner("GET", f"/api/registries/{ctx.shared_registry.name}/tasks/"
                      f"{_task_name(ctx)}/webhook")  # fmt: skip
    body = {"ref": "refs/heads/main", "after": "a" * 40}
    digest = hmac.new(str(shown["secret"]).encode(), signed_body(body), hashlib.sha256)
    path = str(shown["url"]).split("://", 1)[1].split("/", 1)[1]
    return Call(
        "/" + path,
        body=body,
        headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={digest.hexdigest()}"},
        check=lambda _, answer, __: _lists("queued")(_, answer, __),
    )


QUICK_RUN = {"kind": "cmd", "cmd": TASK_CMD, "context": "/dev/null"}


def _run_id(ctx: Context) -> str:
    """A fresh quick run on the shared registry, queued by the owner (the route table's
    server has no workers: it stays Queued)."""
    base = f"/api/registries/{ctx.shared_registry.name}/runs"
    return str(ctx.owner("POST", base, QUICK_RUN)["runId"])


def _run_task(ctx: Context) -> Call:
    registry = ctx.shared_registry
    return Call(
        f"/api/registries/{registry.name}/tasks/{_task_name(ctx)}/runs",
        scope=registry.scope,
        body={"values": {"k": "v"}},
    )


def _quick_run(ctx: Context) -> Call:
    registry = ctx.shared_registry
    return Call(f"/api/registries/{registry.name}/runs", scope=registry.scope, body=QUICK_RUN)


def _list_runs(ctx: Context) -> Call:
    registry = ctx.shared_registry
    run = _run_id(ctx)
    return Call(
        f"/api/registries/{registry.name}/runs",
        query={"top": "100"},
        scope=registry.scope,
        check=lambda _, answer, __: _lists(run)(_, [r["runId"] for r in answer], __),
    )


def _run_route(suffix: str = "", body: object = None) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        return Call(
            f"/api/registries/{registry.name}/runs/{_run_id(ctx)}{suffix}",
            scope=registry.scope,
            body=body,
        )

    return example


OWNER_WORKER = "rt-owner"


def _claim(ctx: Context) -> Call:
    _run_id(ctx)  # something to claim: the claim takes the oldest queued run
    return Call(
        "/api/workers/claim",
        scope=SERVER,
        body={"worker": "rt", "wait": 0},
        check=lambda _, answer, __: _claimed(answer),
    )


def _claimed(answer: Any) -> None:
    assert isinstance(answer, dict) and str(answer["plan"]["run_id"]).startswith("ca"), answer


def _worker_route(suffix: str, body: dict[str, Any], key: str) -> Example:
    """A call on a run the owner's worker holds, naming the same worker: the caller's calls
    are bound to its own principal, so the server answers ``{key: false}``."""

    def example(ctx: Context) -> Call:
        _run_id(ctx)
        claimed = ctx.owner("POST", "/api/workers/claim", {"worker": OWNER_WORKER, "wait": 0})
        _claimed(claimed)

        def refused(_: Context, answer: Any, __: Principal) -> None:
            assert answer == {key: False}, f"another principal's run took the call: {answer}"

        return Call(
            f"/api/workers/runs/{claimed['plan']['run']}/{suffix}",
            scope=SERVER,
            body={"worker": OWNER_WORKER, **body},
            check=refused,
        )

    return example


CREDENTIAL_SERVER = "registry.example.com"


def _credential_route(suffix: str, body: object = None, add: bool = True) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        base = f"/api/registries/{registry.name}/tasks/{_task_name(ctx)}"
        if add:
            ctx.owner(
                "POST",
                base + "/credentials",
                {"loginServer": CREDENTIAL_SERVER, "username": "u", "password": "route-pw-1"},
            )
        return Call(base + suffix, scope=registry.scope, body=body)

    return example


def _task_identity_route(assigned: bool, body: object = None) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        base = f"/api/registries/{registry.name}/tasks/{_task_name(ctx)}"
        if assigned:
            ctx.owner("POST", base + "/identity", {})
        return Call(base + "/identity", scope=registry.scope, body=body)

    return example


TIMER_SCHEDULE = "0 6 * * 1-5"


def _timer_route(suffix: str = "", body: object = None, add: bool = True) -> Example:
    def example(ctx: Context) -> Call:
        registry = ctx.shared_registry
        base = f"/api/registries/{registry.name}/tasks/{_task_name(ctx)}/timers"
        if add:
            ctx.owner("POST", base, {"name": "t1", "schedule": TIMER_SCHEDULE})
        return Call(base + suffix, scope=registry.scope, body=body)

    return example


def _login_token(ctx: Context) -> Call:
    registry = ctx.shared_registry
    return Call(
        f"/api/registries/{registry.name}/login-token",
        scope=registry.scope,
        body={},
        # It mints a registry token with the caller's own rights: none without a role there.
        role="AcrPull",
        no_role=403,
        check=lambda _, answer, __: _signed_in_registry(answer, registry),
    )


def _signed_in_registry(answer: Any, registry: Registry) -> None:
    assert answer["loginServer"] == registry.login_server, answer
    assert answer["accessToken"], answer


EXAMPLES: dict[RouteKey, Example] = {
    # sessions
    ("GET", "/api/health"): lambda _: Call("/api/health"),
    ("POST", "/api/login"): _login,
    ("POST", "/api/logout"): lambda _: Call("/api/logout", check=_logged_out),
    ("GET", "/api/account"): lambda _: Call("/api/account", check=_is_caller),
    # the directory and the activity log (server-wide: granted at the server)
    ("POST", "/api/ad/users"): lambda ctx: Call(
        "/api/ad/users",
        scope=SERVER,
        body={"userPrincipalName": ctx.unique("user"), "password": uuid.uuid4().hex},
    ),
    ("GET", "/api/ad/users"): lambda _: Call("/api/ad/users", scope=SERVER),
    ("GET", "/api/ad/users/{id}"): _user_route,
    ("DELETE", "/api/ad/users/{id}"): _user_route,
    ("POST", "/api/ad/sps"): lambda ctx: Call(
        "/api/ad/sps", scope=SERVER, body={"name": ctx.unique("sp")}
    ),
    ("GET", "/api/ad/sps"): lambda _: Call("/api/ad/sps", scope=SERVER),
    ("GET", "/api/ad/sps/{id}"): _sp_route(),
    ("DELETE", "/api/ad/sps/{id}"): _sp_route(),
    ("POST", "/api/ad/sps/{id}/credentials"): _sp_route("/credentials", body={}),
    ("GET", "/api/activity-log"): lambda _: Call(
        "/api/activity-log", scope=SERVER, query={"limit": "5"}
    ),
    # registries
    ("POST", "/api/registries"): _create_registry,
    ("GET", "/api/registries"): _list_registries,
    ("GET", "/api/registries/{name}"): _registry_route(),
    ("PATCH", "/api/registries/{name}"): _registry_route(body={"anonymousPullEnabled": False}),
    ("DELETE", "/api/registries/{name}"): _delete_registry,
    ("GET", "/api/registries/{name}/events"): _registry_route("/events", query={"limit": "5"}),
    ("GET", "/api/registries/{name}/repositories"): _registry_route(
        "/repositories", check=_lists("base")
    ),
    ("DELETE", "/api/registries/{name}/repositories"): _on_fresh_repository("/repositories"),
    ("GET", "/api/registries/{name}/tags"): _registry_route(
        "/tags", query={"repository": "base"}, check=_lists("v1")
    ),
    ("GET", "/api/registries/{name}/manifests"): _registry_route(
        "/manifests", query={"repository": "base"}
    ),
    ("DELETE", "/api/registries/{name}/images"): _on_fresh_repository("/images", reference="v1"),
    ("GET", "/api/registries/{name}/repository"): _registry_route(
        "/repository", query={"repository": "base", "reference": "v1"}
    ),
    ("PATCH", "/api/registries/{name}/attributes"): lambda ctx: replace(
        _on_fresh_repository("/attributes")(ctx), body={"writeEnabled": False}
    ),
    # registry credentials, scope maps and tokens
    ("GET", "/api/registries/{name}/credentials"): _registry_route("/credentials"),
    # password2: the admin user's first password keeps working for the pushes here.
    ("POST", "/api/registries/{name}/credentials/renew"): _registry_route(
        "/credentials/renew", body={"name": "password2"}
    ),
    ("POST", "/api/registries/{name}/login-token"): _login_token,
    ("POST", "/api/registries/{name}/tasks"): _create_task,
    ("GET", "/api/registries/{name}/tasks"): _list_tasks,
    ("GET", "/api/registries/{name}/tasks/{task}"): _task_route(),
    ("PATCH", "/api/registries/{name}/tasks/{task}"): _task_route({"values": {"k": "v"}}),
    ("DELETE", "/api/registries/{name}/tasks/{task}"): _task_route(),
    # task credentials and identity
    ("POST", "/api/registries/{name}/tasks/{task}/credentials"): _credential_route(
        "/credentials",
        {"loginServer": CREDENTIAL_SERVER, "username": "u", "password": "route-pw-2"},
        add=False,
    ),
    ("GET", "/api/registries/{name}/tasks/{task}/credentials"): _credential_route("/credentials"),
    ("PATCH", "/api/registries/{name}/tasks/{task}/credentials/{server}"): _credential_route(
        f"/credentials/{CREDENTIAL_SERVER}", {"username": "u2"}
    ),
    ("DELETE", "/api/registries/{name}/tasks/{task}/credentials/{server}"): _credential_route(
        f"/credentials/{CREDENTIAL_SERVER}"
    ),
    ("POST", "/api/registries/{name}/tasks/{task}/identity"): _task_identity_route(False, {}),
    ("GET", "/api/registries/{name}/tasks/{task}/identity"): _task_identity_route(True),
    ("DELETE", "/api/registries/{name}/tasks/{task}/identity"): _task_identity_route(True),
    # task timers
    ("GET", "/api/registries/{name}/tasks/{task}/timers"): _timer_route(),
    ("POST", "/api/registries/{name}/tasks/{task}/timers"): _timer_route(
        body={"name": "t1", "schedule": TIMER_SCHEDULE}, add=False
    ),
    ("PATCH", "/api/registries/{name}/tasks/{task}/timers/{timer}"): _timer_route(
        "/t1", {"enabled": False}
    ),
    ("DELETE", "/api/registries/{name}/tasks/{task}/timers/{timer}"): _timer_route("/t1"),
    # runs
    ("POST", "/api/registries/{name}/tasks/{task}/runs"): _run_task,
    # commit webhooks
    ("GET", "/api/registries/{name}/tasks/{task}/webhook"): _task_webhook,
    ("POST", "/api/webhooks/tasks/{task_id}"): _commit_webhook,
    ("POST", "/api/registries/{name}/runs"): _quick_run,
    ("GET", "/api/registries/{name}/runs"): _list_runs,
    ("GET", "/api/registries/{name}/runs/{run}"): _run_route(),
    ("GET", "/api/registries/{name}/runs/{run}/logs"): _run_route("/logs"),
    ("POST", "/api/registries/{name}/runs/{run}/cancel"): _run_route("/cancel", {}),
    # the worker API (airlock worker)
    ("POST", "/api/workers/claim"): _claim,
    ("POST", "/api/workers/runs/{run}/heartbeat"): _worker_route("heartbeat", {}, "continue"),
    ("POST", "/api/workers/runs/{run}/logs"): _worker_route(
        "logs", {"lines": [{"time": "2026-01-01T00:00:00.000000+00:00", "text": "x"}]}, "accepted"
    ),
    ("POST", "/api/workers/runs/{run}/steps"): _worker_route(
        "steps", {"step_id": "acb_step_0", "status": "Running"}, "accepted"
    ),
    ("POST", "/api/workers/runs/{run}/finish"): _worker_route(
        "finish", {"status": "Succeeded", "error": None}, "accepted"
    ),
    ("GET", "/api/registries/{name}/scope-maps"): _registry_route("/scope-maps"),
    ("POST", "/api/registries/{name}/scope-maps"): lambda ctx: _registry_route(
        "/scope-maps",
        body={"name": ctx.unique("map"), "actions": ["repositories/base/content/read"]},
    )(ctx),
    ("GET", "/api/registries/{name}/scope-maps/{map}"): _scope_map_route,
    ("PATCH", "/api/registries/{name}/scope-maps/{map}"): lambda ctx: _scope_map_route(
        ctx, {"description": "changed by the route-table test"}
    ),
    ("DELETE", "/api/registries/{name}/scope-maps/{map}"): _scope_map_route,
    ("GET", "/api/registries/{name}/tokens"): _registry_route("/tokens"),
    ("POST", "/api/registries/{name}/tokens"): lambda ctx: _registry_route(
        "/tokens", body={"name": ctx.unique("tok"), "scopeMap": "_repositories_pull"}
    )(ctx),
    ("GET", "/api/registries/{name}/tokens/{token}"): _token_route(),
    ("PATCH", "/api/registries/{name}/tokens/{token}"): _token_route(body={"status": "disabled"}),
    ("DELETE", "/api/registries/{name}/tokens/{token}"): _token_route(),
    ("POST", "/api/registries/{name}/tokens/{token}/credentials"): _token_route(
        "/credentials", body={"passwords": ["password1"]}
    ),
    # imports
    ("POST", "/api/registries/{name}/imports"): _import,
    ("GET", "/api/imports/{id}"): _import_job,
    # key vaults
    ("POST", "/api/vaults"): _in_new_group(
        "/api/vaults", lambda ctx, group: {"name": ctx.unique("kv"), "resourceGroup": group}
    ),
    ("GET", "/api/vaults"): _list_vaults,
    ("GET", "/api/vaults/{vault}"): _vault_route(),
    ("DELETE", "/api/vaults/{vault}"): _delete_vault,
    ("PUT", "/api/vaults/{vault}/policies/{objectId}"): _set_policy,
    ("DELETE", "/api/vaults/{vault}/policies/{objectId}"): _delete_policy,
    ("GET", "/api/vaults/{vault}/secrets"): _vault_route("/secrets"),
    ("PUT", "/api/vaults/{vault}/secrets/{name}"): _set_secret,
    ("GET", "/api/vaults/{vault}/secrets/{name}"): _secret_route(),
    ("DELETE", "/api/vaults/{vault}/secrets/{name}"): _secret_route(),
    ("GET", "/api/vaults/{vault}/secrets/{name}/versions"): _secret_route("/versions"),
    ("GET", "/api/vaults/{vault}/secrets/{name}/versions/{version}"): _secret_route(
        with_version=True
    ),
    # identities, groups, role assignments
    ("POST", "/api/identities"): _in_new_group(
        "/api/identities", lambda ctx, group: {"name": ctx.unique("id"), "resourceGroup": group}
    ),
    ("GET", "/api/identities"): _list_identities,
    ("GET", "/api/identities/{group}/{name}"): _identity_route,
    ("DELETE", "/api/identities/{group}/{name}"): _identity_route,
    # container instances
    ("PUT", "/api/container-groups/{group}/{name}"): _create_instance,
    ("GET", "/api/container-groups/{group}/{name}"): _instance_route(),
    ("DELETE", "/api/container-groups/{group}/{name}"): _instance_route(),
    ("GET", "/api/container-groups"): _list_instances,
    ("POST", "/api/container-groups/{group}/{name}/restart"): _instance_route("/restart"),
    ("GET", "/api/container-groups/{group}/{name}/logs"): _instance_route("/logs"),
    ("POST", "/api/groups"): _create_group,
    ("GET", "/api/groups"): _list_groups,
    ("GET", "/api/groups/{name}"): _group_route,
    ("DELETE", "/api/groups/{name}"): _group_route,
    ("POST", "/api/role-assignments"): _create_assignment,
    ("GET", "/api/role-assignments"): _list_assignments,
    ("DELETE", "/api/role-assignments"): _delete_assignment,
}

# Who may call a route without a role is a decision, never a default: a route declared
# PUBLIC, SIGNED_IN or filtered by mistake would pass the per-route test (which trusts the
# rule), so these three sets pin them, and a new one must be added here on purpose.
PUBLIC_ROUTES: set[RouteKey] = {
    ("GET", "/api/health"),
    ("POST", "/api/login"),
    ("POST", "/api/webhooks/tasks/{task_id}"),  # signed by the task's webhook secret instead
}
ANY_SIGNED_IN_ROUTES: set[RouteKey] = {
    ("POST", "/api/logout"),
    ("GET", "/api/account"),
}
FILTERED_ROUTES: set[RouteKey] = {
    ("GET", "/api/registries"),
    ("GET", "/api/vaults"),
    ("GET", "/api/identities"),
    ("GET", "/api/container-groups"),
    ("GET", "/api/groups"),
    ("GET", "/api/role-assignments"),
}

# Routes whose behaviour is wrong today: the test asserts the right one and is expected to
# fail on them until the server is fixed (strict: a fix makes the test pass and says so).
KNOWN_WRONG: dict[RouteKey, str] = {}


# --- the tests ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    try:
        # No task workers: runs the examples queue stay Queued (and cancellable).
        server = start_airlock(
            tmp_path_factory.mktemp("route-table-home"), extra_env={"AIRLOCK_WORKERS": "0"}
        )
    except Exception as exc:  # reported, never skipped
        pytest.fail(f"Airlock server could not start: {exc}", pytrace=False)
    context = Context(server)
    try:
        yield context
    finally:
        context.close()
        server.stop()


def test_every_route_is_a_guarded_route() -> None:
    assert ROUTES, "build_api served no route at all"
    assert UNGUARDED == [], f"routes without a Rule: {UNGUARDED}"


def test_every_route_has_an_example() -> None:
    missing = sorted(set(r.key for r in ROUTES) - set(EXAMPLES))
    assert missing == [], f"routes without an example in EXAMPLES: {missing}"


def test_every_example_names_a_route() -> None:
    stale = sorted(set(EXAMPLES) - set(r.key for r in ROUTES))
    assert stale == [], f"examples for routes build_api does not serve: {stale}"


def test_only_the_known_routes_skip_the_role_check() -> None:
    public = {r.key for r in ROUTES if r.rule.public}
    any_signed_in = {r.key for r in ROUTES if r.rule.action is None and not r.rule.public}
    filtered = {r.key for r in ROUTES if r.rule.filtered}
    assert {"public": public, "any signed-in": any_signed_in, "filtered": filtered} == {
        "public": PUBLIC_ROUTES,
        "any signed-in": ANY_SIGNED_IN_ROUTES,
        "filtered": FILTERED_ROUTES,
    }, "routes that skip the role check changed: review them, then update the sets"


def test_no_route_reads_with_a_write_action_or_writes_with_a_read_one() -> None:
    """A route declared with the wrong kind of action would pass test_route (it trusts the
    rule): a DELETE under a '/read' action would let a Reader delete. Changes need a write,
    delete or '/action' operation; reads need a '/read' or '/action' one."""
    wrong = []
    for entry in ROUTES:
        action = entry.rule.action
        if action is None:
            continue
        verb = action.rsplit("/", 1)[-1].lower()
        if entry.method == "GET" and verb not in ("read", "action"):
            wrong.append((entry.method, entry.path, action))
        if entry.method != "GET" and verb == "read" and entry.key not in READS_BY_POST:
            wrong.append((entry.method, entry.path, action))
    assert wrong == []


# POSTs that change nothing: exchanging a session for a registry token takes pull (as 'az acr
# login' does), so that only principals with a role there learn that the registry exists.
READS_BY_POST: set[RouteKey] = {("POST", "/api/registries/{name}/login-token")}


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _entries(answer: Any, key: str, value: str) -> list[Any]:
    assert isinstance(answer, list), answer
    return [e for e in answer if isinstance(e, dict) and e.get(key) == value]


def _params() -> list[Any]:
    params = []
    for entry in ROUTES:
        marks = []
        if entry.key in KNOWN_WRONG:
            marks.append(pytest.mark.xfail(reason=KNOWN_WRONG[entry.key], strict=True))
        params.append(pytest.param(entry, id=f"{entry.method} {entry.path}", marks=marks))
    return params


@pytest.mark.parametrize("route", _params())
def test_route(ctx: Context, route: RouteEntry) -> None:
    rule = route.rule
    example = EXAMPLES.get(route.key)
    assert example is not None, f"{route.method} {route.path} has no example in EXAMPLES"
    call = example(ctx)
    assert _template(route.path).fullmatch(call.path), (
        f"the example calls {call.path}, which is not {route.path}"
    )
    needs_role = rule.action is not None and not rule.public

    def send(token: str) -> tuple[int, Any]:
        return ctx.call(
            route.method, call.path, call.query, call.body, token=token, headers=call.headers
        )

    # 1. No credentials.
    status, answer = send("")
    if rule.public:
        assert status in SUCCESS, f"a public route refused an anonymous call: {status} {answer}"
    else:
        assert status == 401, f"without credentials: {status} {answer}"
        assert answer["error"]["code"] == "Unauthorized", answer

    # 2. A signed-in principal without any role.
    bare = ctx.signed_in()
    status, answer = send(bare.token)
    if rule.filtered:
        assert status == 200, f"a list refused a signed-in principal: {status} {answer}"
        assert call.item is not None, "a filtered list's example must name the item it made"
        assert _entries(answer, *call.item) == [], (
            f"a principal without a role sees {call.item} in {answer}"
        )
    elif call.no_role is not None:
        assert status == call.no_role, f"without a role: {status} {answer}"
    elif not needs_role:
        assert status in SUCCESS, f"without a role: {status} {answer}"
    else:
        assert status == 403, f"without a role: {status} {answer}"
        message = answer["error"]["message"]
        assert rule.action in message, f"the refusal does not name {rule.action}: {message}"
        assert bare.principal_id in message, f"the refusal does not name the caller: {message}"
        scope = call.refused_at or call.scope
        assert scope is not None and f"'{scope}'" in message, (
            f"the refusal does not name the scope {scope}: {message}"
        )

    # 3. A principal with exactly the least role that allows the action, at the scope.
    caller = ctx.signed_in()
    if rule.action is not None and not rule.public:
        least = roles.least_role(rule.action, data=rule.data)
        assert least is not None, f"no built-in role allows {rule.action}"
        role: str | None = least.name
    else:
        role = call.role
    if role is not None:
        assert call.scope is not None, "the example must say where to grant the role"
        ctx.grant(caller.app_id, role, call.scope)
    for extra_role, extra_scope in call.also:
        ctx.grant(caller.app_id, extra_role, extra_scope)
    status, answer = send(caller.token)
    assert status in SUCCESS, f"with {role} at {call.scope}: {status} {answer}"
    if rule.filtered:
        assert call.item is not None
        assert _entries(answer, *call.item), f"{role} at {call.scope} does not see {call.item}"
    if call.check is not None:
        call.check(ctx, answer, caller)


def test_a_vault_access_policy_alone_allows_reading_a_secret(ctx: Context) -> None:
    """The seed's ``az keyvault set-policy``: no role, only an access policy with ``get``."""
    vault = ctx.vault()
    name, _ = ctx.secret(vault)
    path = f"/api/vaults/{vault}/secrets/{name}"
    caller = ctx.signed_in()

    status, answer = ctx.call("GET", path, token=caller.token)
    assert status == 403, answer
    assert f"keyvault set-policy --name {vault}" in answer["error"]["message"], answer

    ctx.owner(
        "PUT", f"/api/vaults/{vault}/policies/{caller.principal_id}", {"secretPermissions": ["get"]}
    )
    status, answer = ctx.call("GET", path, token=caller.token)
    assert status == 200, answer
    assert answer["value"] == f"value-of-{name}"

    # The policy allows what it names, nothing more: no set, no delete.
    status, answer = ctx.call("PUT", path, body={"value": "overwritten"}, token=caller.token)
    assert status == 403, answer
    status, answer = ctx.call("DELETE", path, token=caller.token)
    assert status == 403, answer


def test_an_import_needs_pull_on_its_source_as_well(ctx: Context) -> None:
    """Why the import example grants AcrPull on the source: the least role at the target
    alone is refused, naming the pull on the source registry."""
    call = _import(ctx)
    caller = ctx.signed_in()
    least = roles.least_role("Microsoft.ContainerRegistry/registries/importImage/action")
    assert least is not None and call.scope is not None
    ctx.grant(caller.app_id, least.name, call.scope)
    status, answer = ctx.call("POST", call.path, call.query, call.body, token=caller.token)
    assert status == 403, answer
    message = answer["error"]["message"]
    assert roles.PULL in message and f"'{ctx.shared_registry.scope}'" in message, message


def test_the_activity_log_lists_every_change_made_here(ctx: Context) -> None:
    """Runs after the per-route tests (file order): every route that changes state, and every
    read of a secret value, was called here both refused and allowed, and the activity log
    has both outcomes of each under its action, with the caller, the source and no secret."""
    status, log = ctx.call("GET", "/api/activity-log", {"limit": "5000"})
    assert status == 200 and isinstance(log, list)
    outcomes: dict[str, set[str]] = {}
    for entry in log:
        assert entry["httpRequest"]["clientIpAddress"] == "127.0.0.1"
        assert entry["caller"]
        outcomes.setdefault(entry["operationName"], set()).add(entry["status"])
    audited = [r for r in ROUTES if r.rule.action and (r.method != "GET" or r.rule.audit_reads)]
    assert audited, "no audited route"
    missing = [
        (r.method, r.path, r.rule.action)
        for r in audited
        if not {"Succeeded", "Denied"} <= outcomes.get(str(r.rule.action), set())
    ]
    assert missing == [], "changes missing from the activity log (or one of their outcomes)"
