"""Container instance records in a real SQLite database: az's name rule, one loopback address
per instance (unique even when creates race), and secrets sealed at rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.crypto import load_master_key
from airlock.db.engine import open_database
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.instances.model import (
    Instance,
    Port,
    check_environment,
    check_instance_name,
    check_ports,
    check_restart_policy,
)
from airlock.instances.store import InstanceStore

PASSWORD = "instance-registry-password-Kx71q"
SECRET = "secure-value-Zp04w"


@pytest.fixture
def store(tmp_path: Path) -> InstanceStore:
    return InstanceStore(open_database(tmp_path / "airlock.db"), load_master_key(tmp_path))


def draft(name: str, group: str = "rg", **extra: object) -> Instance:
    fields: dict[str, object] = {
        "id": "",
        "resource_group": group,
        "name": name,
        "image": "127.0.0.1:5001/hello:v1",
        "ip_address": "",
        "ports": (Port(80, 80),),
        "environment": {"BACKGROUND_COLOR": "Orange"},
        "secure_environment": {},
        "restart_policy": "Always",
        "state": "Pending",
        "provisioning_state": "Creating",
        **extra,
    }
    return Instance(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a", "hello-world", "x" * 63, "a1-2b"])
def test_good_names(name: str) -> None:
    assert check_instance_name(name) == name


@pytest.mark.parametrize("name", ["", "Hello", "-a", "a-", "a_b", "x" * 64, "a.b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="1-63 lower-case"):
        check_instance_name(name)


def test_ports_policies_and_variables_are_checked() -> None:
    assert check_ports(["80", 8080, "80"]) == (80, 8080)
    for bad in (["0"], ["65536"], ["http"], ["-1"]):
        with pytest.raises(InvalidArgumentError, match="invalid port"):
            check_ports(bad)
    assert check_restart_policy("onfailure") == "OnFailure"
    with pytest.raises(InvalidArgumentError, match="Always, OnFailure or Never"):
        check_restart_policy("Sometimes")
    with pytest.raises(InvalidArgumentError, match="environment variable"):
        check_environment({"1BAD": "x"})


def test_addresses_start_at_ten_and_are_reused_after_a_delete(store: InstanceStore) -> None:
    first = store.add(draft("one"))
    second = store.add(draft("two"))
    assert (first.ip_address, second.ip_address) == ("127.0.0.10", "127.0.0.11")
    store.remove(first.id)
    assert store.add(draft("three")).ip_address == "127.0.0.10"


def test_names_are_unique_per_group_only(store: InstanceStore) -> None:
    store.add(draft("app"))
    with pytest.raises(ConflictError, match="already exists"):
        store.add(draft("app"))
    assert store.add(draft("app", group="other")).resource_group == "other"
    assert [i.name for i in store.all("rg")] == ["app"]
    with pytest.raises(NotFoundError, match="not found"):
        store.get("rg", "missing")


def test_an_address_taken_meanwhile_makes_the_insert_take_the_next(
    store: InstanceStore, tmp_path: Path
) -> None:
    """Another server process sharing the database claims the address this one chose: the
    unique column refuses the second insert, which then takes the next free address."""

    class Stale(InstanceStore):
        answered = False

        def _free_address(self) -> str:
            if not self.answered:
                self.answered = True
                return "127.0.0.10"  # chosen before the other writer's insert
            return super()._free_address()

    store.add(draft("first"))
    late = Stale(open_database(tmp_path / "airlock.db"), load_master_key(tmp_path))
    assert late.add(draft("second")).ip_address == "127.0.0.11"
    assert sorted(i.ip_address for i in store.all()) == ["127.0.0.10", "127.0.0.11"]


def test_secrets_are_sealed_at_rest(store: InstanceStore, tmp_path: Path) -> None:
    made = store.add(
        draft(
            "secret-app",
            login_server="127.0.0.1:5001",
            username="puller",
            password=PASSWORD,
            secure_environment={"API_KEY": SECRET},
        )
    )
    found = store.get("rg", "secret-app")
    assert (found.password, found.secure_environment) == (PASSWORD, {"API_KEY": SECRET})
    assert found.environment == {"BACKGROUND_COLOR": "Orange"}
    shown = str(found.to_json())
    assert PASSWORD not in shown and SECRET not in shown
    store.engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("airlock.db*"))
    assert PASSWORD.encode() not in raw and SECRET.encode() not in raw
    assert made.ip_address.encode() in raw


def test_show_says_where_a_port_was_remapped(store: InstanceStore) -> None:
    made = store.add(draft("remapped", ports=(Port(80, 41234),)))
    shown = made.to_json()
    assert shown["url"] == f"http://{made.ip_address}:41234/"
    assert "80 -> 41234" in shown["portsRemapped"]
    assert shown["ipAddress"]["ports"] == [{"port": 80, "protocol": "TCP", "hostPort": 41234}]
