"""Container instances: ``airlock container create|show|list|logs|restart|delete`` (``az
container`` shapes), at the resource group's scope.

A create (or a create again, which replaces the container in place) is checked and recorded at
once and answered with ``provisioningState: Creating``; pulling and starting go on in the
background, and the CLI follows ``show`` until the state is ``Succeeded`` or ``Failed``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from airlock.auth import roles
from airlock.errors import InvalidArgumentError
from airlock.instances.model import (
    Instance,
    Port,
    check_environment,
    check_image,
    check_instance_name,
    check_ports,
    check_restart_policy,
)
from airlock.server.authz import Gate, GuardedRoute, Rule, group_in_path
from airlock.server.routes.common import json_body, only, required_text, text
from airlock.server.services import Services
from airlock.vault.masking import MASKER

_GROUPS = "Microsoft.ContainerInstance/containerGroups"
_FIELDS = (
    "image",
    "registryLoginServer",
    "registryUsername",
    "password",
    "ports",
    "ipAddress",
    "environmentVariables",
    "secureEnvironmentVariables",
    "restartPolicy",
)


def routes(services: Services, gate: Gate) -> list[GuardedRoute]:
    store = services.instances
    deployer = services.instance_deployer

    def instance_of(request: Request) -> Instance:
        group = services.identities.groups.get(request.path_params["group"])
        return store.get(group.name, request.path_params["name"])

    async def create(request: Request) -> Response:
        body = await json_body(request)
        draft = _draft(body, request.path_params["name"])
        group = services.identities.groups.get(request.path_params["group"]).name
        for secret in [draft.password or "", *draft.secure_environment.values()]:
            if secret:
                MASKER.add(secret)
        current = store.find(group, draft.name)
        if current is None:
            record = store.add(replace(draft, resource_group=group))
            status = 201
        else:
            record = store.save(
                replace(
                    draft,
                    id=current.id,
                    resource_group=current.resource_group,
                    ip_address=current.ip_address,
                    ports=_keep_remapped(draft.ports, current.ports),
                    state=current.state,
                    # What runs now, until the new image's deploy replaces it.
                    digest=current.digest,
                    base_image=current.base_image,
                    base_digest=current.base_digest,
                    container=current.container,
                    created_at=current.created_at,
                )
            )
            status = 200
        deployer.in_background(record, deployer.deploy)
        return JSONResponse(record.to_json(), status_code=status)

    async def list_all(request: Request) -> Response:
        name = request.query_params.get("resourceGroup")
        group = services.identities.groups.get(name).name if name else None
        caller = request.state.caller
        visible = [
            i
            for i in store.all(group)
            if gate.allowed(caller, f"{_GROUPS}/read", roles.group_scope(i.resource_group))
        ]
        return JSONResponse([i.to_json() for i in visible])

    async def show(request: Request) -> Response:
        return JSONResponse(instance_of(request).to_json())

    async def delete(request: Request) -> Response:
        record = instance_of(request)
        store.remove(record.id)
        deployer.in_background(record, deployer.remove)
        return JSONResponse(record.to_json())

    async def restart(request: Request) -> Response:
        record = instance_of(request)
        only(await json_body(request))
        deployer.in_background(record, deployer.restart)
        return Response(status_code=204)

    async def logs(request: Request) -> Response:
        record = instance_of(request)
        tail = request.query_params.get("tail")
        if tail is not None and not tail.isdigit():
            raise InvalidArgumentError("'tail' must be a number of lines")
        content = await asyncio.to_thread(deployer.logs, record, int(tail) if tail else None)
        # This instance's own secrets, whichever server process was told them at create.
        MASKER.add_many(s for s in [record.password, *record.secure_environment.values()] if s)
        return JSONResponse({"content": MASKER.mask(content)})

    path = "/api/container-groups/{group}/{name}"
    in_path = group_in_path()
    return [
        gate.route(path, create, ["PUT"], Rule(f"{_GROUPS}/write", in_path)),
        gate.route(path, show, ["GET"], Rule(f"{_GROUPS}/read", in_path)),
        gate.route(path, delete, ["DELETE"], Rule(f"{_GROUPS}/delete", in_path)),
        gate.route(
            "/api/container-groups", list_all, ["GET"], Rule(f"{_GROUPS}/read", filtered=True)
        ),
        gate.route(
            path + "/restart", restart, ["POST"], Rule(f"{_GROUPS}/restart/action", in_path)
        ),
        gate.route(path + "/logs", logs, ["GET"], Rule(f"{_GROUPS}/containers/logs/read", in_path)),
    ]


def _draft(body: dict[str, Any], name: str) -> Instance:
    """The instance a create asks for, checked (no id, group or address yet)."""
    only(body, *_FIELDS)
    check_instance_name(name)
    address = text(body, "ipAddress")
    if address not in (None, "", "public", "Public", "private", "Private"):
        raise InvalidArgumentError(
            f"invalid ipAddress {address[:40]!r}: use 'public' (each instance has a loopback "
            "address of its own; Airlock binds no other interface)"
        )
    ports = body.get("ports") or []
    if not isinstance(ports, list):
        raise InvalidArgumentError("'ports' must be a list of port numbers")
    username = text(body, "registryUsername", limit=255)
    password = text(body, "password", limit=4096)
    if bool(username) != bool(password):
        raise InvalidArgumentError(
            "--registry-username and --registry-password go together", "InvalidCredentials"
        )
    image = check_image(required_text(body, "image", limit=512))
    login_server = text(body, "registryLoginServer", limit=255) or None
    if username and login_server is None:
        # As az does: credentials without a login server are for the image's own registry.
        login_server = _registry_of(image)
    return Instance(
        id="",
        resource_group="",
        name=name,
        image=image,
        ip_address="",
        ports=tuple(Port(p, p) for p in check_ports(ports)),
        environment=check_environment(_mapping(body, "environmentVariables")),
        secure_environment=check_environment(_mapping(body, "secureEnvironmentVariables")),
        restart_policy=check_restart_policy(text(body, "restartPolicy") or "Always"),
        state="Pending",
        provisioning_state="Creating",
        login_server=login_server,
        username=username or None,
        password=password or None,
    )


def _registry_of(image: str) -> str:
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    raise InvalidArgumentError(
        f"--registry-username and --registry-password are for the image's registry, and "
        f"{image!r} names none; give --registry-login-server",
        "InvalidCredentials",
    )


def _mapping(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{key!r} must be an object of names and values")
    return value


def _keep_remapped(wanted: tuple[Port, ...], current: tuple[Port, ...]) -> tuple[Port, ...]:
    known = {p.port: p for p in current}
    return tuple(known.get(p.port, p) for p in wanted)
