"""Tasks in a real SQLite database: names, merging updates, and secrets sealed at rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from airlock.crypto import load_master_key
from airlock.db.engine import open_database
from airlock.errors import ConflictError, InvalidArgumentError, NotFoundError
from airlock.registry.registries import RegistryCatalog
from airlock.runs.tasks import DISABLED, TaskSpec, TaskStore

SECRET = "task-secret-value-Kx81"
TOKEN = "git-token-value-Jw22"
FILE = "steps:\n  - cmd: busybox echo hi\n"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Engine, TaskStore, int]:
    database = tmp_path / "airlock.db"
    engine = open_database(database)
    registry = RegistryCatalog(engine).add(
        name="taskreg", port=5201, resource_group="g", location="l", sku="Basic"
    )
    return database, engine, TaskStore(engine, load_master_key(tmp_path)), registry.id


def spec(**changes: object) -> TaskSpec:
    values: dict[str, object] = {
        "kind": "file",
        "definition": FILE,
        "context": "/dev/null",
        "file_name": "acb.yaml",
        "values": {"tag": "v1"},
        "secrets": {"password": SECRET},
        "git_token": TOKEN,
    }
    values.update(changes)
    return TaskSpec(**values)  # type: ignore[arg-type]


def test_create_show_list_delete(setup: tuple[Path, Engine, TaskStore, int]) -> None:
    _, _, store, registry = setup
    made = store.create(registry, "node-public", spec())
    assert (made.name, made.kind, made.values, made.secret_names) == (
        "node-public",
        "file",
        {"tag": "v1"},
        ("password",),
    )
    assert made.has_git_token and made.status == "Enabled" and made.timeout == 3600
    assert store.get(registry, "NODE-PUBLIC").id == made.id  # names ignore case, as ACR's
    assert [t.name for t in store.all(registry)] == ["node-public"]
    assert store.secrets(made) == {"password": SECRET}
    assert store.git_token(made) == TOKEN
    with pytest.raises(ConflictError, match="already exists"):
        store.create(registry, "Node-Public", spec())
    store.delete(registry, "node-public")
    with pytest.raises(NotFoundError, match="acr task list"):
        store.get(registry, "node-public")


def test_updates_merge_values_and_secrets(setup: tuple[Path, Engine, TaskStore, int]) -> None:
    _, _, store, registry = setup
    store.create(registry, "mergetask", spec())
    updated = store.update(
        registry, "mergetask", values={"env": "prod"}, secrets={"other": "x"}, status=DISABLED
    )
    assert updated.values == {"tag": "v1", "env": "prod"}
    assert updated.secret_names == ("other", "password")
    assert updated.status == DISABLED
    assert store.secrets(updated) == {"password": SECRET, "other": "x"}


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("abc", {}, "invalid task name"),
        ("good-name", {"kind": "script"}, "unknown task kind"),
        ("good-name", {"definition": "  "}, "needs a file"),
        ("good-name", {"timeout": 0}, "--timeout"),
        ("good-name", {"platform": "windows/amd64"}, "linux containers"),
        ("good-name", {"status": "Paused"}, "--status"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    setup: tuple[Path, Engine, TaskStore, int],
    name: str,
    changes: dict[str, object],
    message: str,
) -> None:
    _, _, store, registry = setup
    with pytest.raises(InvalidArgumentError, match=message):
        store.create(registry, name, spec(**changes))
    assert store.all(registry) == []


def test_secrets_and_token_are_never_in_the_database_in_clear(
    setup: tuple[Path, Engine, TaskStore, int],
) -> None:
    database, engine, store, registry = setup
    store.create(registry, "sealedtask", spec())
    engine.dispose()  # flush the WAL into the file set we read
    for path in database.parent.glob("airlock.db*"):
        data = path.read_bytes()
        assert SECRET.encode() not in data and TOKEN.encode() not in data, path
