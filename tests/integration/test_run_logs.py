"""Run logs on a real SQLite database: who may write, the bounds, reading in order; and
migration 0007 on a database left at 0006."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from airlock.common.clock import now_iso
from airlock.db.engine import MIGRATIONS, open_database
from airlock.db.schema import metadata
from airlock.registry.registries import RegistryCatalog
from airlock.runs.logs import LINE_CUT, LOG_CUT, MAX_LINE_BYTES, MAX_LINES, LogLine, LogStore
from airlock.runs.store import RunStore

AT = "2026-11-30T11:00:00.000000+00:00"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(tmp_path / "airlock.db")


@pytest.fixture
def registry(engine: Engine) -> int:
    return (
        RegistryCatalog(engine)
        .add(name="logsreg", port=5301, resource_group="g", location="l", sku="Basic")
        .id
    )


def running(engine: Engine, registry: int, worker: str = "w1") -> str:
    store = RunStore(engine)
    queued = store.queue(registry, "steps: []")
    claimed = store.claim(worker)
    assert claimed is not None and claimed.id == queued.id
    return claimed.id


def test_lines_are_read_in_order_after_a_point(engine: Engine, registry: int) -> None:
    logs = LogStore(engine)
    run = running(engine, registry)
    other = running(engine, registry, "w2")
    assert logs.append(run, "w1", [(AT, "one"), (AT, "two")])
    assert logs.append(other, "w2", [(AT, "elsewhere")])
    assert logs.append(run, "w1", [(AT, "three")])
    lines = logs.read(run)
    assert [line.text for line in lines] == ["one", "two", "three"]
    assert all(isinstance(line, LogLine) and line.at == AT for line in lines)
    assert lines[0].seq < lines[1].seq < lines[2].seq
    assert [line.text for line in logs.read(run, after=lines[0].seq)] == ["two", "three"]
    assert [line.text for line in logs.read(run, after=lines[0].seq, limit=1)] == ["two"]
    assert logs.read(run, after=lines[-1].seq) == []
    assert logs.append(run, "w1", [])  # nothing to write, still its run


def test_a_worker_that_lost_its_run_cannot_append(engine: Engine, registry: int) -> None:
    logs, runs = LogStore(engine), RunStore(engine)
    run = running(engine, registry)
    assert not logs.append(run, "w2", [(AT, "not mine")])
    assert logs.append(run, "w1", [(AT, "mine")])
    runs.cancel(registry, runs.by_id(run).run_id)  # the run keeps worker = w1, but ended
    assert logs.append(run, "w1", [(AT, "how it stopped")])  # its worker still says how
    assert not logs.append(run, "w2", [(AT, "not mine either")])
    runs.queue(registry, "steps: []")
    lost = runs.claim("w3")
    assert lost is not None
    runs.fail_stale(-60, "lost")  # a worker thought lost writes no more
    assert not logs.append(lost.id, "w3", [(AT, "after being failed")])
    assert [line.text for line in logs.read(run)] == ["mine", "how it stopped"]


def test_the_server_writes_to_any_run_that_exists(engine: Engine, registry: int) -> None:
    logs, runs = LogStore(engine), RunStore(engine)
    queued = runs.queue(registry, "steps: []")
    assert logs.append(queued.id, None, [(now_iso(), "waiting for a worker")])
    assert not logs.append("no-such-run", None, [(AT, "x")])
    assert not logs.append(queued.id, "w1", [(AT, "a worker, before it claimed the run")])
    assert [line.text for line in logs.read(queued.id)] == ["waiting for a worker"]


def test_a_long_line_is_cut_on_a_character(engine: Engine, registry: int) -> None:
    logs = LogStore(engine)
    run = running(engine, registry)
    exact = "x" * MAX_LINE_BYTES
    # 'é' is two bytes: the cut falls in the middle of one, which is left out whole.
    long = "a" + "é" * MAX_LINE_BYTES
    assert logs.append(run, "w1", [(AT, exact), (AT, long), (AT, "nul\x00here")])
    kept = [line.text for line in logs.read(run)]
    assert kept[0] == exact
    assert kept[1] == "a" + "é" * ((MAX_LINE_BYTES - 1) // 2) + LINE_CUT
    assert kept[1].endswith("… [line cut at 16384 bytes]")
    assert kept[2] == "nul\ufffdhere"


def test_a_run_keeps_a_bounded_log(engine: Engine, registry: int) -> None:
    logs = LogStore(engine)
    run = running(engine, registry)
    assert logs.append(run, "w1", [(AT, f"line {i}") for i in range(MAX_LINES - 2)])
    assert logs.append(run, "w1", [(AT, "a"), (AT, "b"), (AT, "c"), (AT, "d")])
    assert logs.append(run, "w1", [(AT, "long after")])  # accepted, not kept
    assert len(logs.read(run, limit=50_000)) == 10_000  # a read is bounded too
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT COUNT(*) FROM run_logs WHERE run = :run"), {"run": run}
        ).scalar_one()
        last = conn.execute(
            text("SELECT line FROM run_logs WHERE run = :run ORDER BY seq DESC LIMIT 2"),
            {"run": run},
        ).all()
    assert count == MAX_LINES + 1
    assert [row.line for row in last] == [LOG_CUT, "b"]


def test_logs_go_with_their_run(engine: Engine, registry: int) -> None:
    logs = LogStore(engine)
    run = running(engine, registry)
    assert logs.append(run, "w1", [(AT, "x")])
    RegistryCatalog(engine).remove("logsreg")
    assert logs.read(run) == []


# --- migration 0007 ------------------------------------------------------------------------


def _at_revision(path: Path, revision: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_migration_0007_upgrades_a_0006_database(tmp_path: Path) -> None:
    path = tmp_path / "airlock.db"
    old = _at_revision(path, "0006")
    assert "run_logs" not in inspect(old).get_table_names()
    registry = RegistryCatalog(old).add(
        name="oldreg", port=5401, resource_group="g", location="l", sku="Basic"
    )
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, registry_id, run_id, status, trigger, platform,"
                " definition, created_at) VALUES ('r-old', :r, 'ca1', 'Queued', 'Manual',"
                " 'linux', 'steps: []', :now)"
            ),
            {"r": registry.id, "now": AT},
        )
    old.dispose()

    engine = open_database(path)  # migrates to the head
    tables = set(inspect(engine).get_table_names())
    assert {"run_logs", "task_credentials"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() >= "0007"
    claimed = RunStore(engine).claim("w1")
    assert claimed is not None and claimed.id == "r-old"  # the old run is still there
    logs = LogStore(engine)
    assert logs.append("r-old", "w1", [(AT, "after the upgrade")])
    assert [line.text for line in logs.read("r-old")] == ["after the upgrade"]


def test_migration_0007_downgrades_to_0006(tmp_path: Path) -> None:
    engine = _at_revision(tmp_path / "airlock.db", "0007")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert not {"run_logs", "task_credentials"} & set(inspect(engine).get_table_names())


def test_migrations_build_the_schema_the_code_declares(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "airlock.db")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
