"""Several hosts running `spo db upgrade` at once (each service unit runs it before it
starts): all of them succeed and the schema ends at the head, once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spo_tracker.store.db import make_engine, upgrade
from spo_tracker.store.schema import SCHEMA_HEAD, resolve_url
from tests.support.postgres import Server

SPO = str(Path(sys.executable).with_name("spo"))
BEHIND = f"{int(SCHEMA_HEAD) - 1:04d}"


def three_at_once(url: str, *command: str) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "SPO_DB": url}
    procs = [
        subprocess.Popen(
            [SPO, *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def revision(url: str) -> list[str]:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [str(v) for v in conn.scalars(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def fresh(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if engine == "sqlite":
        return resolve_url(str(tmp_path / "fresh.db"))
    server: Server = request.getfixturevalue("postgres")
    return server.create_empty_database()


@pytest.mark.both_engines
def test_three_upgrades_at_once_on_a_fresh_database_all_succeed(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = fresh(engine, tmp_path, request)
    # a fresh SQLite file is made by `spo init`; a fresh PostgreSQL database by createdb
    command = ("init",) if engine == "sqlite" else ("db", "upgrade")
    results = three_at_once(url, *command)
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    said = [r.stdout for r in results]
    assert sum("initialised" in out for out in said) == 1, said
    assert sum("is up to date" in out for out in said) == 2, said
    assert revision(url) == [SCHEMA_HEAD]


@pytest.mark.both_engines
def test_three_upgrades_at_once_on_a_database_a_revision_behind_all_succeed(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = fresh(engine, tmp_path, request)
    db = make_engine(url, create_dir=True)
    try:
        upgrade(db, BEHIND)
    finally:
        db.dispose()
    assert revision(url) == [BEHIND]
    results = three_at_once(url, "db", "upgrade")
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    upgraded = [r.stdout for r in results if "upgraded" in r.stdout]
    assert len(upgraded) == 1, [r.stdout for r in results]
    assert f"from schema {BEHIND} to {SCHEMA_HEAD}" in upgraded[0]
    assert revision(url) == [SCHEMA_HEAD]
