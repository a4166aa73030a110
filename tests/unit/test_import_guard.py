"""The SSRF guard: allowlist, non-public addresses, the exact host:port exception."""

from __future__ import annotations

import pytest

from airlock.importer.errors import ImportRefusedError
from airlock.importer.guard import (
    DEFAULT_ALLOWED,
    SETTING,
    ImportPolicy,
    check_source,
    connect_guard,
    resolve_host,
    split_host,
)

PUBLIC = "140.82.112.33"


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def policy(extra: str = "") -> ImportPolicy:
    return ImportPolicy.from_env({SETTING: extra})


def test_default_allowlist_holds_the_public_registries() -> None:
    assert set(DEFAULT_ALLOWED) <= policy().allowed
    access = check_source("ghcr.io", policy(), resolver({"ghcr.io": [PUBLIC]}))
    assert (access.host, access.insecure) == ("ghcr.io", False)


def test_unlisted_host_is_refused_before_resolving() -> None:
    resolve = resolver({"evil.example": [PUBLIC]})
    with pytest.raises(ImportRefusedError, match=SETTING) as caught:
        check_source("evil.example", policy(), resolve)
    assert "not an allowed registry" in caught.value.message
    assert caught.value.status == 403
    assert resolve.calls == []  # type: ignore[attr-defined]


def test_setting_adds_hosts() -> None:
    allowed = policy(" registry.example.com , mirror.example:8443")
    table = {"registry.example.com": [PUBLIC], "mirror.example": [PUBLIC]}
    assert check_source("registry.example.com", allowed, resolver(table))
    assert check_source("mirror.example:8443", allowed, resolver(table))
    # A host listed with one port is not allowed on another.
    with pytest.raises(ImportRefusedError):
        check_source("mirror.example:9000", allowed, resolver(table))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1%eth0", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_listed_host_resolving_to_internal_address_is_refused(address: str, kind: str) -> None:
    # The host is on the allowlist by name, but DNS points it inside: refused.
    with pytest.raises(ImportRefusedError, match=kind) as caught:
        check_source("ghcr.io", policy(), resolver({"ghcr.io": [PUBLIC, address]}))
    assert SETTING in caught.value.message


def test_dns_name_resolving_to_loopback_is_refused_even_when_listed_by_host() -> None:
    resolve = resolver({"sneaky.example": ["127.0.0.1"]})
    with pytest.raises(ImportRefusedError, match="loopback"):
        check_source("sneaky.example:5000", policy("sneaky.example"), resolve)


def test_exact_host_port_allows_a_loopback_registry() -> None:
    access = check_source(
        "127.0.0.1:5000", policy("127.0.0.1:5000"), resolver({"127.0.0.1": ["127.0.0.1"]})
    )
    assert access.insecure  # plain HTTP, loopback only
    with pytest.raises(ImportRefusedError):
        check_source(
            "127.0.0.1:5001", policy("127.0.0.1:5000"), resolver({"127.0.0.1": ["127.0.0.1"]})
        )


def test_listed_private_address_stays_tls() -> None:
    access = check_source(
        "10.0.0.5:443", policy("10.0.0.5:443"), resolver({"10.0.0.5": ["10.0.0.5"]})
    )
    assert not access.insecure


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(ImportRefusedError, match="cannot resolve"):
        check_source("quay.io", policy(), resolver({}))


def test_real_resolver_sees_localhost_as_loopback() -> None:
    assert "127.0.0.1" in resolve_host("localhost", 80) or "::1" in resolve_host("localhost", 80)
    with pytest.raises(ImportRefusedError, match="loopback"):
        check_source("localhost:5000", policy("localhost"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ghcr.io", ("ghcr.io", 443)), ("h:5000", ("h", 5000)), ("[::1]:5000", ("::1", 5000))],
)
def test_split_host(text: str, expected: tuple[str, int]) -> None:
    assert split_host(text) == expected


def test_connect_guard_lets_any_host_reach_a_public_address() -> None:
    check = connect_guard(policy(), resolver({"cdn.example.net": [PUBLIC]}))
    assert check("cdn.example.net", 443) == PUBLIC


def test_connect_guard_refuses_an_unlisted_internal_address() -> None:
    check = connect_guard(policy("127.0.0.1:5000"), resolver({"127.0.0.1": ["127.0.0.1"]}))
    with pytest.raises(ImportRefusedError, match=r"127\.0\.0\.1:6000.*loopback"):
        check("127.0.0.1", 6000)
    assert check("127.0.0.1", 5000) == "127.0.0.1"


def test_connect_guard_connects_to_the_address_it_checked() -> None:
    # A name that resolves to a private and a public address: the public one is used.
    check = connect_guard(policy(), resolver({"mixed.example": ["10.0.0.5", PUBLIC]}))
    assert check("mixed.example", 443) == PUBLIC
    check_only_private = connect_guard(policy(), resolver({"inner.example": ["10.0.0.5"]}))
    with pytest.raises(ImportRefusedError, match="private"):
        check_only_private("inner.example", 443)
