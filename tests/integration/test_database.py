"""The real SQLite file: migrations, pragmas, permissions, readiness checks."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from spo_tracker.store import models  # noqa: F401  (registers the tables)
from spo_tracker.store.db import alembic_config, make_engine
from spo_tracker.store.schema import SCHEMA_HEAD, resolve_url
from tests.conftest import Spo, invoke


def test_migrated_database_has_exactly_the_schema_of_the_models(spo: Spo, db_path: Path) -> None:
    engine = make_engine(resolve_url(str(db_path)))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_schema_head_constant_matches_the_newest_migration(spo: Spo, db_path: Path) -> None:
    engine = make_engine(resolve_url(str(db_path)))
    try:
        heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    finally:
        engine.dispose()
    assert heads == [SCHEMA_HEAD]


def test_init_twice_is_harmless_and_says_up_to_date(spo: Spo) -> None:
    assert "up to date" in spo("init").out
    assert "up to date" in spo("db", "upgrade").out
    assert f"revision {SCHEMA_HEAD} (up to date)" in spo("db", "current").out


def test_new_database_is_owner_only_with_wal_and_foreign_keys(spo: Spo, db_path: Path) -> None:
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    engine = make_engine(resolve_url(str(db_path)))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()


def test_commands_refuse_a_missing_database_with_a_hint(db_path: Path) -> None:
    result = invoke("subject", "list")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "spo init" in result.err
    assert not db_path.exists()


def test_commands_refuse_a_database_that_was_never_migrated(db_path: Path) -> None:
    sqlite3.connect(db_path).close()
    result = invoke("officer", "list")
    assert result.code == 2
    assert "not initialised" in result.err


def test_db_option_works_before_or_after_the_command(tmp_path: Path, spo: Spo) -> None:
    other = tmp_path / "other.db"
    assert invoke("--db", str(other), "init").code == 0
    added = invoke(
        "officer", "add", "a@force.example", "--name", "A", "--role", "scu", "--db", str(other)
    )
    assert added.code == 0, added.err
    assert "a@force.example" in invoke("officer", "list", f"--db={other}", "--json").out
    # the default database (SPO_DB) was not touched
    assert "a@force.example" not in spo("officer", "list", "--json").out


def test_acting_user_is_recorded_from_the_as_option(spo: Spo) -> None:
    spo("officer", "add", "b@force.example", "--name", "B", "--role", "scu", "--as", "dc.jones")
    entries = spo("audit", "b@force.example", "--json").json()["entries"]  # type: ignore[index]
    assert [e["actor"] for e in entries] == ["dc.jones"]
