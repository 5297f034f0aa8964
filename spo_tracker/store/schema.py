"""Where the database is and what schema it must have: nothing here needs a database library,
so every command can answer these without importing SQLAlchemy (slow to import)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from ..core.errors import InvalidInput
from ..core.text import quote

# The newest migration; a test keeps it equal to Alembic's head, so commands can check the
# schema without loading Alembic (slow to import) on every run.
SCHEMA_HEAD = "0010"
BACKENDS = ("sqlite", "postgresql")
# The one PostgreSQL driver spo talks through, and the names a URL may give it by: none (as
# libpq and psql take the URL), psycopg2, or psycopg (what spo's first releases documented).
PG_DRIVER = "psycopg2"
PG_DRIVER_NAMES = ("", "psycopg2", "psycopg")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/spo-tracker/spo.db``, i.e. ``~/.local/share/spo-tracker/spo.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "spo-tracker" / "spo.db"


def resolve_url(db: str | None) -> str:
    """``--db`` value (a path or a database URL), else ``SPO_DB``, else the default file, as a
    URL: ``sqlite:////abs/path.db`` or ``postgresql://user@host/db``."""
    value = db or os.environ.get("SPO_DB") or str(default_db_path())
    if _URL.match(value):
        backend(value)  # refuses what spo cannot use, naming the option
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def backend(url: str) -> str:
    """``sqlite`` or ``postgresql`` (the scheme before any ``+driver``)."""
    scheme, _, driver = url.split("://", 1)[0].lower().partition("+")
    if scheme in ("postgres", "postgresql"):
        if driver not in PG_DRIVER_NAMES:
            raise InvalidInput(
                f"{quote(describe(url))} names the driver {quote(driver)}: spo reaches "
                f"PostgreSQL through {PG_DRIVER} only (write postgresql://USER@HOST/DB)",
                field="--db",
            )
        return "postgresql"
    if scheme not in BACKENDS or driver not in ("", "pysqlite"):
        raise InvalidInput(
            f"{quote(describe(url))} is not a database URL spo can use (sqlite:///PATH or "
            "postgresql://USER@HOST/DB)",
            field="--db",
        )
    return scheme


def engine_url(url: str) -> str:
    """The URL as SQLAlchemy takes it: a PostgreSQL one names spo's driver."""
    if backend(url) != "postgresql":
        return url
    parts = urlsplit(url)
    return urlunsplit((f"postgresql+{PG_DRIVER}", parts.netloc, parts.path, parts.query, ""))


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another engine or an in-memory database."""
    if backend(url) != "sqlite":
        return None
    path = url.split("://", 1)[1]
    if not path.startswith("/"):
        return None
    path = unquote(path[1:].split("?", 1)[0])
    return None if path in ("", ":memory:") else Path(path)


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq takes it (``postgresql://``, without SQLAlchemy's driver)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
