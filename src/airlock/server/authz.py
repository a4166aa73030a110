"""Every REST call is signed in and role-checked here, and recorded when it changes state.

Each route is declared with a ``Rule``: the Azure action it performs and how to find the
scope it acts on (the registry, vault, group ... its path or body names). ``Gate.wrap`` puts
the check in front of the handler, so a route cannot exist without one: ``GuardedRoute`` is
the only route type ``build_api`` accepts, and the route-table test walks them all.

1. Authenticate: ``Authorization: Bearer als_...``, a session from ``airlock login`` or the
   owner's local file. None, or an expired or revoked one: 401.
2. Authorise: the caller's role assignments whose scope covers the target must allow the
   action; for key vault data actions a vault access policy may allow it instead (the seed's
   ``az keyvault set-policy``). Otherwise 403 naming the principal, the action, the scope and
   the command that would grant it. When the target does not exist, the check is made at the
   server scope, so that a principal without rights cannot tell a missing resource from a
   forbidden one.
3. Record: every call that is not a GET, and every read of a secret value, lands in the
   activity log with its result, refusals included.

List routes (``filtered``) only authenticate; their handlers keep the items the caller may
read (``Gate.allowed``), as Azure lists only what you can see.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airlock.auth import roles
from airlock.errors import AirlockError, ForbiddenError, NotFoundError, UnauthenticatedError
from airlock.server.routes.common import json_body
from airlock.server.services import Services

log = logging.getLogger("airlock.api")

Endpoint = Callable[[Request], Awaitable[Response]]
ScopeFinder = Callable[[Request], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in principal of a request (``request.state.caller``)."""

    principal_id: str
    name: str
    kind: str
    session_id: str
    # (role, scope) pairs, read once when the request is signed in: every check of the
    # request (a list filters item by item) answers from them.
    assignments: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        kinds = {
            "owner": "the owner",
            "directory-user": "user",
            "service-principal": "service principal",
        }
        return f"{kinds.get(self.kind, 'principal')} {self.name!r} ({self.principal_id})"


async def _server(_: Request) -> str:
    return roles.SERVER_SCOPE


@dataclass(frozen=True, slots=True)
class Rule:
    """What a route needs. ``action`` None: any signed-in principal (``account show``)."""

    action: str | None
    scope: ScopeFinder = _server
    data: bool = False
    policy: str | None = None
    audit_reads: bool = False
    public: bool = False
    filtered: bool = False


PUBLIC = Rule(None, public=True)
SIGNED_IN = Rule(None)


class GuardedRoute(Route):
    """A route whose endpoint runs behind ``Gate`` with its ``rule``."""

    def __init__(
        self, path: str, endpoint: Endpoint, *, methods: Sequence[str], rule: Rule, gate: Gate
    ) -> None:
        self.rule = rule
        super().__init__(path, gate.wrap(endpoint, rule), methods=list(methods))


class Gate:
    def __init__(self, services: Services) -> None:
        self.services = services

    def route(
        self, path: str, endpoint: Endpoint, methods: Sequence[str], rule: Rule
    ) -> GuardedRoute:
        return GuardedRoute(path, endpoint, methods=methods, rule=rule, gate=self)

    def wrap(self, endpoint: Endpoint, rule: Rule) -> Endpoint:
        async def guarded(request: Request) -> Response:
            caller: Caller | None = None
            target = request.url.path
            status = 500
            try:
                if not rule.public:
                    caller = self.authenticate(request)
                    request.state.caller = caller
                    if rule.action is not None and not rule.filtered:
                        target = await self._authorise(request, caller, rule)
                response = await endpoint(request)
                status = response.status_code
                return response
            except AirlockError as exc:
                status = exc.status
                raise
            finally:
                if request.method != "GET" or rule.audit_reads:
                    # A public route may name its caller once known (a successful login), and
                    # a create the resource it made (authorised at its group).
                    caller = caller or getattr(request.state, "caller", None)
                    target = getattr(request.state, "created", None) or target
                    self._record(request, caller, rule, target, status)

        guarded.__name__ = getattr(endpoint, "__name__", "endpoint")
        return guarded

    # --- authentication -----------------------------------------------------------------

    def authenticate(self, request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise UnauthenticatedError(
                "sign in first: 'airlock login' (the server's owner is signed in through "
                "the credential file in its state folder)"
            )
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("use 'Authorization: Bearer <session token>'")
        session = self.services.identities.sessions.resolve(token.strip())
        if session is None:
            raise UnauthenticatedError(
                "the session is unknown, expired or revoked; sign in again with 'airlock login'",
                "SessionExpired",
            )
        return Caller(
            session.principal_id,
            session.principal_name,
            session.principal_kind,
            session.id,
            self.services.identities.roles.assigned(session.principal_id),
        )

    # --- authorisation ------------------------------------------------------------------

    async def _authorise(self, request: Request, caller: Caller, rule: Rule) -> str:
        assert rule.action is not None
        try:
            scope = await rule.scope(request)
        except NotFoundError:
            scope = None
        if scope is None:
            # The resource is not there: decide at the top, then let the handler say 404.
            self.require(caller, rule.action, roles.SERVER_SCOPE, data=rule.data)
            return request.url.path
        policy_vault = request.path_params.get("vault") if rule.policy else None
        self.require(
            caller,
            rule.action,
            scope,
            data=rule.data,
            policy=rule.policy,
            vault=policy_vault,
        )
        return scope

    def allowed(
        self,
        caller: Caller,
        action: str,
        scope: str,
        *,
        data: bool = False,
        policy: str | None = None,
        vault: str | None = None,
    ) -> bool:
        if roles.allows(roles.held_at(caller.assignments, scope), action, data=data):
            return True
        if policy is not None and vault is not None:
            kv = self.services.vault
            try:
                record = kv.vaults.get(vault)
            except NotFoundError:
                return False
            found = kv.policies.policy(record, caller.principal_id)
            return found is not None and found.allows(policy)
        return False

    def require(
        self,
        caller: Caller,
        action: str,
        scope: str,
        *,
        data: bool = False,
        policy: str | None = None,
        vault: str | None = None,
    ) -> None:
        if self.allowed(caller, action, scope, data=data, policy=policy, vault=vault):
            return
        raise ForbiddenError(_refusal(caller, action, scope, data, policy, vault))

    # --- the activity log ---------------------------------------------------------------

    def _record(
        self, request: Request, caller: Caller | None, rule: Rule, target: str, status: int
    ) -> None:
        try:
            self.services.identities.activity.record(
                principal_id=None if caller is None else caller.principal_id,
                principal_name="anonymous" if caller is None else caller.name,
                action=rule.action or f"{request.method} {request.url.path}",
                target=target,
                source=request.client.host if request.client else "",
                status=status,
            )
        except Exception:  # an audit failure must not hide the call's own outcome
            log.exception("cannot write the activity log entry for %s", request.url.path)


def _refusal(
    caller: Caller,
    action: str,
    scope: str,
    data: bool,
    policy: str | None,
    vault: str | None,
) -> str:
    message = (
        f"{caller.describe()} does not have authorization to perform action '{action}' "
        f"over scope '{scope}'"
    )
    least = roles.least_role(action, data=data)
    hints = []
    if least is not None:
        hints.append(
            f"airlock role assignment create --assignee {caller.principal_id} "
            f"--role '{least.name}' --scope {scope}"
        )
    if policy is not None and vault is not None:
        hints.append(
            f"airlock keyvault set-policy --name {vault} --object-id {caller.principal_id} "
            f"--secret-permissions {policy}"
        )
    if hints:
        message += "; someone allowed to grant it can run: " + " or ".join(hints)
    return message


# --- scope finders ------------------------------------------------------------------------
# Each returns the resource id the call acts on, or None when the resource does not exist.


def registry_scope(services: Services, param: str = "name") -> ScopeFinder:
    async def find(request: Request) -> str | None:
        try:
            record = services.registries.get(request.path_params[param])
        except NotFoundError:
            return None
        return roles.registry_scope(record.resource_group, record.name)

    return find


def vault_scope(services: Services, param: str = "vault") -> ScopeFinder:
    async def find(request: Request) -> str | None:
        try:
            record = services.vault.vaults.get(request.path_params[param])
        except NotFoundError:
            return None
        return roles.vault_scope(record.resource_group, record.name)

    return find


def group_in_path(param: str = "group") -> ScopeFinder:
    async def find(request: Request) -> str:
        return roles.group_scope(request.path_params[param])

    return find


def group_in_body(field: str = "resourceGroup", default: str | None = "default") -> ScopeFinder:
    async def find(request: Request) -> str:
        body: dict[str, Any] = await json_body(request)
        value = body.get(field) or default
        if not isinstance(value, str) or not value:
            return roles.SERVER_SCOPE
        return roles.group_scope(value)

    return find


def scope_in_body(field: str = "scope") -> ScopeFinder:
    async def find(request: Request) -> str:
        body: dict[str, Any] = await json_body(request)
        value = body.get(field)
        if not isinstance(value, str) or not value.startswith("/"):
            return roles.SERVER_SCOPE
        return roles.normalise_scope(value)

    return find


def scope_in_query(field: str = "scope") -> ScopeFinder:
    async def find(request: Request) -> str:
        value = request.query_params.get(field)
        if not value or not value.startswith("/"):
            return roles.SERVER_SCOPE
        return roles.normalise_scope(value)

    return find
