"""Engine set-up and schema migrations. ``make_engine`` is the one place an engine is made
(the composition root calls it once per process)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..core.errors import DatabaseNotReady, InvalidInput
from ..core.text import quote
from .read import BUSY_TIMEOUT_MS, cannot_connect
from .schema import describe, engine_url

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own implicit BEGIN would defeat the BEGIN IMMEDIATE issued on "begin".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # foreign keys are off unless every connection asks; WAL lets readers run during writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, create_dir: bool = False) -> Engine:
    try:
        parsed = make_url(engine_url(url))
    except ArgumentError:
        raise InvalidInput(
            f"{quote(describe(url))} is not a valid database URL", field="--db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:":
            folder = Path(path).parent
            if not folder.exists():
                if not create_dir:
                    raise DatabaseNotReady(f"no database at {path}: run `spo init` first")
                folder.mkdir(parents=True, mode=0o700)
            if not Path(path).exists():
                if not create_dir:
                    raise DatabaseNotReady(f"no database at {path}: run `spo init` first")
                # Special-category data: owner-only from the first byte (WAL/SHM inherit it).
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Open write transactions with BEGIN IMMEDIATE so two writers queue on the busy
        # timeout instead of failing on a lock upgrade half-way through.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    engine = create_engine(parsed, pool_pre_ping=True)

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # A missing database or a server that cannot be reached is the operator's to fix:
        # the same one line and exit 2 as a read, not a driver error (exit 1).
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            raise cannot_connect(url, exc) from None

    event.listen(engine, "do_connect", connect)
    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", str(engine.url).replace("%", "%%"))
    return config


# The key of the advisory lock every ``spo db upgrade`` on a PostgreSQL database takes first.
UPGRADE_LOCK = int.from_bytes(
    hashlib.sha256(b"spo-tracker schema upgrade").digest()[:8], "big", signed=True
)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Run migrations up to ``revision``; returns (before, after) revisions.

    Safe when several hosts run it at once: the whole upgrade is one transaction that first
    takes a lock (a PostgreSQL advisory lock held to the commit; on SQLite the write lock
    that ``BEGIN IMMEDIATE`` takes), so the others wait, then find the schema at the head and
    do nothing. Without it two upgrades of a fresh database both create the same types and
    tables and one fails."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        before = _revision(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        after = _revision(conn)
    return before, after


def _revision(conn: Any) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


@functools.cache
def tables_at(revision: str) -> frozenset[str]:
    """The tables a database at ``revision`` has: the migrations run up to it on a
    throwaway in-memory database (nothing to keep in step by hand)."""
    from alembic import command
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        config = alembic_config(engine)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        with engine.connect() as conn:
            return frozenset(inspect(conn).get_table_names())
    finally:
        engine.dispose()
