"""Each registry's login server: one listener per registry, added and removed while running."""

from __future__ import annotations

import logging

from airlock.errors import ConflictError, InvalidArgumentError
from airlock.registry.api import RegistryApp
from airlock.registry.registries import (
    RegistryRecord,
    check_registry_name,
    check_sku,
)
from airlock.server.http import HttpServer, Listener
from airlock.server.services import Services

log = logging.getLogger("airlock.server")

HOST = "127.0.0.1"
# Login servers are handed out from here up when no port is asked for, so that they read
# like the familiar 127.0.0.1:5001.
FIRST_PORT = 5001
LAST_PORT = 5999
# Ports below this need privileges and belong to system services (22, 80 ...).
FIRST_FREE = 1024


class RegistryListeners:
    def __init__(self, http: HttpServer, services: Services) -> None:
        self.http = http
        self.services = services
        self._listeners: dict[int, Listener] = {}

    async def start_all(self) -> None:
        """Serve every registry in the database; a port now taken is logged, not fatal."""
        for record in self.services.registries.all():
            try:
                await self._listen(record)
            except OSError as exc:
                log.error(
                    "registry %s cannot serve on %s: %s", record.name, record.login_server, exc
                )

    async def _listen(self, record: RegistryRecord) -> Listener:
        auth = self.services.auth
        auth.prepare_registry(record.id)
        # Bound to the registry's uid: a registry re-created under this name and port never
        # honours its predecessor's tokens.
        realm = auth.realm(record.id, record.name, record.login_server)
        app = RegistryApp(
            self.services.registry_context, realm, auth.access, auth.endpoint.app(realm)
        )
        listener = await self.http.add_listener(app, HOST, record.port, name=record.name)
        self._listeners[record.id] = listener
        log.info("registry %s serving on %s", record.name, record.login_server)
        return listener

    async def create(
        self,
        *,
        name: str,
        port: int | None,
        resource_group: str,
        location: str,
        sku: str,
    ) -> RegistryRecord:
        check_registry_name(name)
        sku = check_sku(sku)
        if port is not None and (isinstance(port, bool) or not FIRST_FREE <= port <= 65535):
            raise InvalidArgumentError(
                f"port {port!r} is not allowed: a login server needs an unprivileged port, "
                f"a whole number from {FIRST_FREE} to 65535 (or none, to get one from "
                f"{FIRST_PORT} up)",
                "InvalidPort",
            )
        catalog = self.services.registries
        catalog.check_available(name, port)
        taken = catalog.ports_in_use()
        candidates = (
            [port]
            if port is not None
            else [p for p in range(FIRST_PORT, LAST_PORT + 1) if p not in taken]
        )
        for candidate in candidates:
            record = catalog.add(
                name=name, port=candidate, resource_group=resource_group, location=location, sku=sku
            )
            try:
                await self._listen(record)
            except OSError as exc:
                catalog.remove(record.name)
                if port is not None:
                    raise ConflictError(
                        f"cannot listen on {HOST}:{port} ({exc.strerror or exc}); "
                        "pick another --port",
                        "PortInUse",
                    ) from None
                continue
            return record
        raise ConflictError(
            f"no free port between {FIRST_PORT} and {LAST_PORT}; pass --port", "PortInUse"
        )

    async def delete(self, name: str) -> RegistryRecord:
        record = self.services.registries.get(name)
        # Refused before the listener goes, so a locked registry keeps serving.
        self.services.registries.check_removable(name)
        listener = self._listeners.pop(record.id, None)
        if listener is not None:
            await self.http.remove_listener(listener)
        return self.services.registries.remove(name)
