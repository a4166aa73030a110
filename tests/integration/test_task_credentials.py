"""Task credentials (``acr task credential``) in a real SQLite database: ACR's rules, login
servers, and clear passwords sealed at rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from airlock.crypto import SealError, load_master_key
from airlock.db.engine import open_database
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.registry.registries import RegistryCatalog
from airlock.runs.credentials import (
    CredentialMaterial,
    TaskCredential,
    TaskCredentialStore,
    check_login_server,
    is_secret_uri,
)
from airlock.runs.tasks import TaskSpec, TaskStore
from airlock.vault.references import is_reference

PASSWORD = "registry-password-Qz93x"
USER_URI = "https://myvault.vault.azure.net/secrets/pull-user"
PASSWORD_URI = "https://myvault.vault.airlock.internal/secrets/pull-password"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Engine, TaskCredentialStore, TaskStore, str]:
    database = tmp_path / "airlock.db"
    engine = open_database(database)
    key = load_master_key(tmp_path)
    registry = RegistryCatalog(engine).add(
        name="credreg", port=5501, resource_group="g", location="l", sku="Basic"
    )
    tasks = TaskStore(engine, key)
    task = tasks.create(
        registry.id,
        "hello-world",
        TaskSpec(kind="cmd", definition="busybox echo hi", context="/dev/null"),
    )
    return database, engine, TaskCredentialStore(engine, key), tasks, task.id


Setup = tuple[Path, Engine, TaskCredentialStore, TaskStore, str]


def test_add_list_update_remove(setup: Setup) -> None:
    _, _, store, _, task = setup
    added = store.add(task, "MyRegistry.azurecr.io", username="puller", password=PASSWORD)
    assert added == TaskCredential("myregistry.azurecr.io", "puller", None, True, None)
    store.add(task, "127.0.0.1:5001", use_identity="[system]")
    assert [c.login_server for c in store.list(task)] == [
        "127.0.0.1:5001",
        "myregistry.azurecr.io",
    ]
    with pytest.raises(ConflictError, match="credential update") as raised:
        store.add(task, "myregistry.azurecr.io", username="other", password="x")
    assert raised.value.code == "TaskCredentialExists"

    # update replaces the whole credential, under the same rules as add
    changed = store.update(task, "myregistry.azurecr.io", username=USER_URI, password=PASSWORD_URI)
    assert changed == TaskCredential("myregistry.azurecr.io", USER_URI, PASSWORD_URI, True, None)
    with pytest.raises(NotFoundError, match="credential add") as missing:
        store.update(task, "other.example.com", username="u", password="p")
    assert missing.value.code == "TaskCredentialNotFound"

    removed = store.remove(task, "MYREGISTRY.azurecr.io")
    assert removed.login_server == "myregistry.azurecr.io"
    assert [c.login_server for c in store.list(task)] == ["127.0.0.1:5001"]
    with pytest.raises(NotFoundError, match="no credential for 'myregistry"):
        store.remove(task, "myregistry.azurecr.io")


def test_for_run_opens_the_sealed_password(setup: Setup) -> None:
    _, _, store, _, task = setup
    store.add(task, "a.example.com", username="u", password=PASSWORD)
    store.add(task, "b.example.com", username=USER_URI, password=PASSWORD_URI)
    store.add(
        task, "c.example.com", username=USER_URI, password=PASSWORD_URI, use_identity="[SYSTEM]"
    )
    store.add(task, "d.example.com:5000", use_identity="[system]")
    assert store.for_run(task) == [
        CredentialMaterial("a.example.com", "u", PASSWORD, None, None),
        CredentialMaterial("b.example.com", USER_URI, None, PASSWORD_URI, None),
        CredentialMaterial("c.example.com", USER_URI, None, PASSWORD_URI, "[system]"),
        CredentialMaterial("d.example.com:5000", None, None, None, "[system]"),
    ]
    assert PASSWORD not in repr(store.for_run(task))
    shown = store.list(task)
    assert PASSWORD not in repr(shown)
    assert [c.password_set for c in shown] == [True, True, True, False]


def test_the_clear_password_is_not_in_the_database_file(setup: Setup) -> None:
    database, engine, store, _, task = setup
    store.add(task, "a.example.com", username="u", password=PASSWORD)
    store.update(task, "a.example.com", username="u", password=PASSWORD + "-2")
    engine.dispose()  # checkpoints the WAL into the file
    files = [database, *database.parent.glob(database.name + "-*")]
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert store.for_run(task)[0].password == PASSWORD + "-2"


def test_the_password_is_bound_to_its_task_and_login_server(setup: Setup) -> None:
    _, engine, store, _, task = setup
    store.add(task, "a.example.com", username="u", password=PASSWORD)
    store.add(task, "b.example.com", username="u", password="other")
    with engine.begin() as conn:  # swap the sealed values between the two rows
        conn.exec_driver_sql(
            "UPDATE task_credentials SET sealed_password = (SELECT sealed_password FROM"
            " task_credentials WHERE login_server = 'b.example.com')"
            " WHERE login_server = 'a.example.com'"
        )
    with pytest.raises(SealError, match="cannot decrypt"):
        store.for_run(task)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "--username and --password, or --use-identity"),
        ({"username": "u"}, "together"),
        ({"password": "p"}, "together"),
        ({"username": "u", "password": "p", "use_identity": "[system]"}, "secret URIs"),
        ({"username": USER_URI, "password": "p", "use_identity": "[system]"}, "secret URIs"),
        ({"username": "u", "password": PASSWORD_URI, "use_identity": "[system]"}, "secret URIs"),
        ({"use_identity": "1f0c7e4e-0000-0000-0000-000000000000"}, "use-identity \\[system\\]"),
        ({"username": "", "password": "p"}, "--username is empty"),
        ({"username": "u", "password": " "}, "--password is empty"),
        ({"username": "u" * 1025, "password": "p"}, "longer than"),
    ],
)
def test_acr_rules_are_enforced(setup: Setup, kwargs: dict[str, str], message: str) -> None:
    _, _, store, _, task = setup
    with pytest.raises(InvalidArgumentError, match=message):
        store.add(task, "a.example.com", **kwargs)
    with pytest.raises(InvalidArgumentError, match=message):
        store.update(task, "a.example.com", **kwargs)  # checked before it is looked for
    assert store.list(task) == []


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("MyRegistry.AzureCR.io", "myregistry.azurecr.io"),
        ("127.0.0.1:5001", "127.0.0.1:5001"),
        (" localhost:5000 ", "localhost:5000"),
        ("[::1]:5000", "[::1]:5000"),
        ("registry-1.docker.io", "registry-1.docker.io"),
    ],
)
def test_login_servers_are_hosts(given: str, kept: str) -> None:
    assert check_login_server(given) == kept


@pytest.mark.parametrize(
    "given",
    [
        "https://myregistry.azurecr.io",
        "myregistry.azurecr.io/path",
        "user@myregistry.azurecr.io",
        "myregistry.azurecr.io:99999",
        "myregistry.azurecr.io:",
        "-bad.example.com",
        "",
        "a" * 256,
    ],
)
def test_login_servers_with_a_scheme_or_path_are_refused(given: str) -> None:
    with pytest.raises(InvalidArgumentError, match="host name or host:port") as raised:
        check_login_server(given)
    assert raised.value.code == "InvalidLoginServer"


def test_credentials_go_with_their_task(setup: Setup) -> None:
    _, engine, store, tasks, task = setup
    store.add(task, "a.example.com", username="u", password=PASSWORD)
    tasks.delete(RegistryCatalog(engine).get("credreg").id, "hello-world")
    assert store.list(task) == [] and store.for_run(task) == []
    with pytest.raises(NotFoundError, match="task not found") as raised:
        store.add(task, "a.example.com", username="u", password="p")
    assert raised.value.code == "TaskNotFound"


@pytest.mark.parametrize(
    "value",
    [
        USER_URI,
        PASSWORD_URI,
        "https://myvault.vault.azure.net/secrets/name/0123456789abcdef0123456789abcdef",
        "https://MyVault.Vault.Azure.Net:443/secrets/name/",
        " https://myvault.vault.azure.net/secrets/name ",
        "https://myvault.vault.example.com/secrets/name",
        "http://myvault.vault.azure.net/secrets/name",
        "https://myvault.vault.azure.net/keys/name",
        "plain-user",
        "",
    ],
)
def test_secret_uris_are_recognised_as_the_vault_does(value: str) -> None:
    assert is_secret_uri(value) == is_reference(value)
