"""SQLite files as files: consistent online copies and restores through SQLite's backup API.
(PostgreSQL has its own tools: pg_dump and pg_restore.)"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..core.errors import InvalidInput
from .schema import sqlite_file


def sqlite_path(url: str) -> Path:
    path = sqlite_file(url)
    if path is None:
        raise InvalidInput(
            "backup and restore work on SQLite files; for PostgreSQL use pg_dump and "
            "pg_restore (see the README)",
            field="--db",
        )
    return path


def backup(url: str, target: Path, *, force: bool) -> int:
    """A consistent online copy through SQLite's backup API (safe while the service runs).
    Returns the number of pages copied."""
    source = sqlite_path(url)
    if not source.exists():
        raise InvalidInput(f"no database at {source}", field="--db")
    if target.exists() and not force:
        raise InvalidInput(f"{target} exists: give --force to replace it", field="FILE")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        with dst:
            src.backup(dst)
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":  # pragma: no cover - a corrupt source
            raise InvalidInput(f"the copy failed its integrity check: {check}", field="--db")
    finally:
        src.close()
        dst.close()
    os.replace(tmp, target)
    return pages


def restore(url: str, source: Path, *, force: bool) -> str | None:
    """Copy a backup over the database (through the backup API, so it is safe against a
    running service's connections). Returns the backup's schema revision."""
    target = sqlite_path(url)
    if not source.is_file():
        raise InvalidInput(f"no backup file at {source}", field="FILE")
    try:
        probe = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            revision = probe.execute("SELECT version_num FROM alembic_version").fetchone()
            probe.execute("SELECT count(*) FROM subject").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            f"{source} is not an spo-tracker database ({exc})", field="FILE"
        ) from None
    if target.exists() and not force:
        raise InvalidInput(
            f"{target} exists: restoring would replace it; give --force", field="--force"
        )
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, timeout=30)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()
    return str(revision[0]) if revision else None
