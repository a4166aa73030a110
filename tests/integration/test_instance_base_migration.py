"""Migration 0010: the container instances' base image columns, on a database left at 0009
with an instance in it, and back."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, inspect, text

from airlock.crypto import MasterKey
from airlock.db.engine import MIGRATIONS, open_database
from airlock.instances.store import InstanceStore

AT = "2026-11-30T14:00:00+00:00"


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _at_revision(path: Path, revision: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    return engine


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("container_instances")}


def test_0010_upgrades_a_0009_database_keeping_its_instances(tmp_path: Path) -> None:
    path = tmp_path / "airlock.db"
    old = _at_revision(path, "0009")
    assert "base_digest" not in _columns(old)
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO container_instances (id, resource_group, name_key, name, image,"
                " digest, ports, environment, restart_policy, ip_address, state,"
                " provisioning_state, created_at, updated_at) VALUES ('i-old', 'g', 'web',"
                " 'web', 'reg/web:1', 'sha256:1', '[[80, 80]]', '{}', 'Always', '127.0.0.10',"
                " 'Running', 'Succeeded', :at, :at)"
            ),
            {"at": AT},
        )
    old.dispose()

    engine = open_database(path)  # migrates to the head
    assert {"base_image", "base_digest"} <= _columns(engine)
    store = InstanceStore(engine, MasterKey(os.urandom(32)))
    found = store.get("g", "web")
    assert (found.digest, found.base_image, found.base_digest) == ("sha256:1", None, None)
    assert found.to_json()["containers"][0]["baseImageDigest"] is None
    store.save(replace(found, base_image="reg/base:1", base_digest="sha256:2"))
    again = store.get("g", "web")
    assert (again.base_image, again.base_digest) == ("reg/base:1", "sha256:2")
    shown = again.to_json()["containers"][0]
    assert (shown["baseImage"], shown["baseImageDigest"]) == ("reg/base:1", "sha256:2")


def test_0010_downgrades_to_0009(tmp_path: Path) -> None:
    engine = _at_revision(tmp_path / "airlock.db", "0010")
    assert {"base_image", "base_digest"} <= _columns(engine)
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0009")
    assert not {"base_image", "base_digest"} & _columns(engine)
    assert "digest" in _columns(engine)
