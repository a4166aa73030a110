"""What a container instance is, and the checks on what a caller asks for.

Errors are ``InvalidArgumentError`` (bad name, port, policy or variable) with a message that
names the value and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airlock.errors import InvalidArgumentError

# Azure's rule for container group names.
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
_IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}$")
RESTART_POLICIES = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
FIRST_ADDRESS = 10  # 127.0.0.10 is the first instance's address
LAST_ADDRESS = 254


@dataclass(frozen=True, slots=True)
class Port:
    port: int
    host_port: int  # differs from port where the port could not be bound on loopback

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "protocol": "TCP", "hostPort": self.host_port}


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    resource_group: str
    name: str
    image: str
    ip_address: str
    ports: tuple[Port, ...]
    environment: dict[str, str]
    secure_environment: dict[str, str]
    restart_policy: str
    state: str
    provisioning_state: str
    login_server: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    digest: str | None = None
    base_image: str | None = None  # the image's base, from its build's manifest annotations
    base_digest: str | None = None
    container: str | None = None
    message: str | None = None
    created_at: str = ""
    updated_at: str = ""

    def url(self) -> str | None:
        if not self.ports:
            return None
        first = self.ports[0]
        return (
            f"http://{self.ip_address}/"
            if first.host_port == 80
            else (f"http://{self.ip_address}:{first.host_port}/")
        )

    def to_json(self) -> dict[str, Any]:
        """The shape of ``az container show`` (plus ``url``, the image digest and the base
        image the image was built on, with its digest)."""
        remapped = [p for p in self.ports if p.host_port != p.port]
        env = [{"name": k, "value": v, "secureValue": None} for k, v in self.environment.items()]
        env += [{"name": k, "value": None, "secureValue": None} for k in self.secure_environment]
        return {
            "id": f"/subscriptions/local/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.ContainerInstance/containerGroups/{self.name}",
            "name": self.name,
            "resourceGroup": self.resource_group,
            "type": "Microsoft.ContainerInstance/containerGroups",
            "location": "local",
            "osType": "Linux",
            "provisioningState": self.provisioning_state,
            "restartPolicy": self.restart_policy,
            "ipAddress": {
                "ip": self.ip_address,
                "type": "Public",
                "ports": [p.to_json() for p in self.ports],
            },
            "containers": [
                {
                    "name": self.name,
                    "image": self.image,
                    "imageDigest": self.digest,
                    "baseImage": self.base_image,
                    "baseImageDigest": self.base_digest,
                    "environmentVariables": env,
                    "ports": [{"port": p.port, "protocol": "TCP"} for p in self.ports],
                }
            ],
            "imageRegistryCredentials": (
                [{"server": self.login_server, "username": self.username}]
                if self.login_server
                else None
            ),
            "instanceView": {"state": self.state, "message": self.message},
            "url": self.url(),
            "portsRemapped": (
                "ports below 1024 could not be bound: "
                + ", ".join(f"{p.port} -> {p.host_port}" for p in remapped)
                if remapped
                else None
            ),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


def check_instance_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidArgumentError(
            f"invalid container group name {name[:100]!r}: use 1-63 lower-case letters, "
            "digits and '-', starting and ending with a letter or digit",
            "InvalidName",
        )
    return name


def check_image(image: str) -> str:
    if not _IMAGE_RE.match(image):
        raise InvalidArgumentError(f"invalid image reference {image[:200]!r}", "InvalidImage")
    return image


def check_ports(values: list[Any]) -> tuple[int, ...]:
    ports: list[int] = []
    for value in values:
        text = str(value)
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise InvalidArgumentError(
                f"invalid port {text[:20]!r}: a port is a number from 1 to 65535", "InvalidPort"
            )
        if int(text) not in ports:
            ports.append(int(text))
    return tuple(ports)


def check_restart_policy(value: str) -> str:
    for policy in RESTART_POLICIES:
        if policy.lower() == value.lower():
            return policy
    raise InvalidArgumentError(
        f"invalid restart policy {value[:40]!r}: use Always, OnFailure or Never",
        "InvalidRestartPolicy",
    )


def check_environment(values: dict[str, Any]) -> dict[str, str]:
    for key, value in values.items():
        if not _ENV_NAME_RE.match(str(key)) or not isinstance(value, str):
            raise InvalidArgumentError(
                f"invalid environment variable {str(key)[:80]!r}: a name of letters, digits "
                "and '_' not starting with a digit, and a string value",
                "InvalidEnvironmentVariable",
            )
    return {str(k): str(v) for k, v in values.items()}


def address_of(index: int) -> str:
    return f"127.0.0.{index}"
