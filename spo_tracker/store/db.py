"""Engine set-up, database location and schema migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import DatabaseNotReady, InvalidInput
from .schema import SCHEMA_HEAD, default_db_path

__all__ = ["SCHEMA_HEAD", "default_db_path"]

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 15_000


def resolve_url(db: str | None) -> str:
    """``--db`` value (a path or a SQLAlchemy URL), else ``SPO_DB``, else the default file."""
    value = db or os.environ.get("SPO_DB") or str(default_db_path())
    if "://" in value:
        try:
            make_url(value)
        except ArgumentError:
            raise InvalidInput(f"{value!r} is not a valid database URL", field="--db") from None
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


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
    parsed = make_url(url)
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
    return create_engine(url, pool_pre_ping=True)


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database that is missing or behind this version's schema."""
    revision = current_revision(engine)
    if revision is None:
        raise DatabaseNotReady(
            f"database {describe(str(engine.url))} is not initialised: run `spo init`"
        )
    if revision != SCHEMA_HEAD:
        raise DatabaseNotReady(
            f"database schema is at revision {revision}, this spo needs {SCHEMA_HEAD}: "
            "run `spo db upgrade`"
        )


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", str(engine.url).replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Run migrations up to ``revision``; returns (before, after) revisions."""
    from alembic import command

    before = current_revision(engine)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return before, current_revision(engine)
