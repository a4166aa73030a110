"""Routing of the ``/v2/`` API for one registry, and its error handling."""

from __future__ import annotations

import logging
import re
import sqlite3

from sqlalchemy.exc import OperationalError

from airlock.auth.access import AccessController, AccessDeniedError, Need, Realm
from airlock.oci.errors import (
    InvalidDigestError,
    InvalidNameError,
    InvalidTagError,
    UnsupportedDigestError,
)
from airlock.oci.names import check_name
from airlock.registry.api import blobs, guard, listing, manifests, uploads
from airlock.registry.api.asgi import (
    ASGIApp,
    ClientDisconnectedError,
    Receive,
    Request,
    Scope,
    Send,
    respond_error,
    respond_json,
)
from airlock.registry.api.call import Call, Handler, RegistryContext
from airlock.registry.content import Scope as RepoScope
from airlock.registry.errors import RegistryError
from airlock.storage.base import StorageFullError

log = logging.getLogger("airlock.registry")


TOKEN_PATH = "/oauth2/token"

# (path, kind of resource for the access check, handlers by method)
_ROUTES: list[tuple[re.Pattern[str], str, dict[str, Handler]]] = [
    (
        re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<arg>[^/]+)$"),
        guard.MANIFESTS,
        {
            "GET": manifests.get,
            "HEAD": manifests.get,
            "PUT": manifests.put,
            "DELETE": manifests.delete,
        },
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<arg>[^/]*)$"),
        guard.UPLOADS,
        {
            "POST": uploads.start,
            "GET": uploads.status,
            "PATCH": uploads.patch,
            "PUT": uploads.finish,
            "DELETE": uploads.cancel,
        },
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<arg>[^/]+)$"),
        guard.BLOBS,
        {"GET": blobs.get, "HEAD": blobs.get, "DELETE": blobs.delete},
    ),
    (re.compile(r"^/v2/(?P<name>.+)/tags/list$"), guard.LISTING, {"GET": listing.tags}),
    (
        re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<arg>[^/]+)$"),
        guard.LISTING,
        {"GET": listing.referrers},
    ),
]


class RegistryApp:
    """The ASGI app a registry's listener serves: the /v2/ API behind the access check, and
    the token endpoint the challenges point at."""

    def __init__(
        self,
        ctx: RegistryContext,
        realm: Realm,
        access: AccessController,
        token_endpoint: ASGIApp,
    ) -> None:
        self.ctx = ctx
        self.realm = realm
        self.registry_id = realm.registry_id
        self.registry_name = realm.registry_name
        self.access = access
        self.token_endpoint = token_endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == TOKEN_PATH:
            await self.token_endpoint(scope, receive, send)
            return
        request = Request(scope, receive, send)
        head = request.method == "HEAD"
        try:
            await self._dispatch(request)
        except RegistryError as exc:
            await self._answer_error(request, exc, head)
        except AccessDeniedError as exc:
            await self._answer_error(request, guard.access_error(exc), head)
        except (InvalidDigestError, UnsupportedDigestError) as exc:
            await self._answer_error(request, RegistryError("DIGEST_INVALID", str(exc)), head)
        except InvalidNameError as exc:
            await self._answer_error(request, RegistryError("NAME_INVALID", str(exc)), head)
        except InvalidTagError as exc:
            await self._answer_error(request, RegistryError("TAG_INVALID", str(exc)), head)
        except StorageFullError:
            log.error("storage full while serving %s %s", request.method, request.path)
            await self._answer_error(request, RegistryError("STORAGE_FULL"), head)
        except OperationalError as exc:
            if not _is_disk_full(exc):
                raise
            log.error("metadata database full while serving %s %s", request.method, request.path)
            await self._answer_error(request, RegistryError("STORAGE_FULL"), head)
        except ClientDisconnectedError:
            log.info("client went away during %s %s", request.method, request.path)

    async def _answer_error(self, request: Request, error: RegistryError, head: bool) -> None:
        # Read what is left of the body, so that a client still sending gets the answer.
        if error.status < 500 and request.method in ("PUT", "PATCH", "POST"):
            try:
                await request.drain()
            except ClientDisconnectedError:
                return
        await respond_error(request.send, error, head=head)

    async def _dispatch(self, request: Request) -> None:
        path = request.path
        authorization = request.headers.get("authorization")
        if path in ("/v2", "/v2/"):
            self.access.authorize(self.realm, authorization, None)
            await respond_json(request.send, 200, {}, head=request.method == "HEAD")
            return
        if path == "/v2/_catalog":
            if request.method != "GET":
                raise RegistryError("UNSUPPORTED", f"{request.method} is not supported here")
            self.access.authorize(self.realm, authorization, Need.catalog())
            await listing.catalog(self.ctx, request, self.registry_id)
            return
        for pattern, kind, methods in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                raise RegistryError(
                    "UNSUPPORTED",
                    f"{request.method} is not supported on this endpoint",
                    headers={"allow": ", ".join(methods)},
                )
            name = check_name(match["name"])
            mount_from = request.query("from") if request.query("mount") is not None else None
            need = guard.need_for(kind, request.method, name, mount_from)
            grant = self.access.authorize(self.realm, authorization, need)
            repo = RepoScope(self.registry_id, self.registry_name, name)
            arg = match.groupdict().get("arg") or ""
            await handler(Call(self.ctx, request, repo, arg, grant))
            return
        raise RegistryError("NAME_UNKNOWN", f"no such endpoint: {path[:200]}", status=404)


def _is_disk_full(exc: OperationalError) -> bool:
    orig = exc.orig
    return isinstance(orig, sqlite3.OperationalError) and "full" in str(orig)
