"""The SSRF guard: which hosts an import may connect to.

An import makes the server open connections on a user's behalf, so a source is refused
unless configuration allows it:

1. the host (``ghcr.io``) or exact ``host:port`` must be in the allowlist: the public
   registries in ``DEFAULT_ALLOWED`` plus ``$AIRLOCK_IMPORT_ALLOWED_REGISTRIES``
   (comma-separated ``host[:port]`` entries);
2. whatever the allowlist says, a host that resolves to a loopback, private, link-local,
   multicast, unspecified or otherwise non-global address is refused unless that exact
   ``host:port`` (as written in the source) is listed.

Names are resolved here, before any connection, and the refusal names the rule and the
setting. The server's own registries are local sources and never reach this guard.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from airlock.client.transport import ConnectGuard
from airlock.importer.errors import ImportRefusedError

SETTING = "AIRLOCK_IMPORT_ALLOWED_REGISTRIES"
DEFAULT_ALLOWED = (
    "docker.io",
    "registry-1.docker.io",
    "ghcr.io",
    "quay.io",
    "mcr.microsoft.com",
    "gcr.io",
    "registry.k8s.io",
)

Resolver = Callable[[str, int], list[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    allowed: frozenset[str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ImportPolicy:
        env = os.environ if environ is None else environ
        extra = (entry.strip().lower() for entry in env.get(SETTING, "").split(","))
        return cls(frozenset(DEFAULT_ALLOWED) | {entry for entry in extra if entry})

    def exact_entries(self) -> set[str]:
        """Entries written with a port: only these may point at internal addresses."""
        return {entry for entry in self.allowed if _has_port(entry)}


@dataclass(frozen=True, slots=True)
class Access:
    """A source the guard let through; ``insecure`` means plain HTTP (loopback only)."""

    host: str
    insecure: bool


def check_source(registry: str, policy: ImportPolicy, resolve: Resolver | None = None) -> Access:
    """Allow ``registry`` (``host[:port]``) or raise ``ImportRefusedError``; blocks on DNS."""
    key = registry.strip().lower()
    host, port = split_host(key)
    exact = f"{host}:{port}" in policy.exact_entries()
    if key not in policy.allowed and host not in policy.allowed:
        raise ImportRefusedError(
            f"import source {registry!r} is not an allowed registry; allowed: "
            f"{', '.join(sorted(policy.allowed))}. Add it to ${SETTING} (comma-separated "
            "host[:port] entries) on the server"
        )
    addresses = _addresses(registry, host, port, resolve or resolve_host)
    internal = [a for a in addresses if not _public(a)]
    if internal and not exact:
        raise ImportRefusedError(
            f"import source {registry!r} resolves to {_kind(internal[0])} address "
            f"{internal[0]}; such addresses are refused unless the exact host:port is listed "
            f"in ${SETTING} (here: {host}:{port})"
        )
    # As Docker does: plain HTTP only to loopback registries, TLS everywhere else.
    return Access(
        registry, insecure=bool(addresses) and all(_unmapped(a).is_loopback for a in addresses)
    )


def connect_guard(policy: ImportPolicy, resolve: Resolver | None = None) -> ConnectGuard:
    """The check the client runs before each connection of an import.

    ``check_source`` judged the source's name; a registry can still send the client
    elsewhere (its token realm, a blob redirect) or resolve differently the second time. At
    connect time any host may be reached on a public address (CDNs are many and unlisted),
    but a non-public one only where that exact host:port is listed; the client connects to
    the address that was checked, never resolving again.
    """
    lookup = resolve or resolve_host

    def check(host: str, port: int) -> str:
        name = f"[{host}]" if ":" in host else host
        addresses = _addresses(f"{name}:{port}", host, port, lookup)
        if not addresses:
            raise ImportRefusedError(f"import: {host!r} resolves to no address")
        listed = f"{host.lower()}:{port}" in policy.exact_entries()
        for address in addresses:
            if _public(address) or listed:
                return str(address)
        raise ImportRefusedError(
            f"import: the source sent the client to {name}:{port}, which resolves to "
            f"{_kind(addresses[0])} address {addresses[0]}; such addresses are refused unless "
            f"the exact host:port is listed in ${SETTING}"
        )

    return check


def split_host(registry: str) -> tuple[str, int]:
    """``host[:port]`` (IPv6 in brackets) as (host, port); 443 when no port is given."""
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 443
    host, sep, port = registry.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return registry, 443


def _has_port(entry: str) -> bool:
    if entry.startswith("["):
        return "]:" in entry
    host, sep, port = entry.rpartition(":")
    return bool(sep) and port.isdigit() and ":" not in host


def resolve_host(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _addresses(registry: str, host: str, port: int, resolve: Resolver) -> list[IpAddress]:
    try:
        found = resolve(host, port)
    except OSError as exc:
        raise ImportRefusedError(
            f"import source {registry!r}: cannot resolve {host!r} ({exc})", "ImportSourceUnknown"
        ) from None
    # A zone suffix (fe80::1%eth0) is not part of the address.
    return [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]


def _unmapped(address: IpAddress) -> IpAddress:
    """``::ffff:127.0.0.1`` is 127.0.0.1 to the kernel, so it is judged as that."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _public(address: IpAddress) -> bool:
    address = _unmapped(address)
    return address.is_global and not address.is_multicast


def _kind(address: IpAddress) -> str:
    address = _unmapped(address)
    for attribute, name in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_unspecified", "an unspecified"),
        ("is_private", "a private"),
    ):
        if getattr(address, attribute):
            return name
    return "a non-public"
