"""SQLite files as files: consistent online copies and restores through SQLite's backup API,
and the checks that keep a damaged copy from replacing a good database.
(PostgreSQL has its own tools: pg_dump and pg_restore.)"""

from __future__ import annotations

import functools
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InvalidInput
from .schema import SCHEMA_HEAD, sqlite_file

#: How many of SQLite's integrity-check messages are kept (the first say enough).
INTEGRITY_MESSAGES = 5


def sqlite_path(url: str) -> Path:
    path = sqlite_file(url)
    if path is None:
        raise InvalidInput(
            "backup and restore work on SQLite files; for PostgreSQL use pg_dump and "
            "pg_restore (see the README)",
            field="--db",
        )
    return path


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own ``PRAGMA integrity_check`` (every page, b-tree, index entry and
    constraint): empty when the file is sound, else its first messages."""
    try:
        rows = conn.execute(f"PRAGMA integrity_check({INTEGRITY_MESSAGES})").fetchall()
    except sqlite3.DatabaseError as exc:  # damaged beyond what the check can walk
        return [str(exc)]
    messages = [str(row[0]) for row in rows]
    return [] if messages == ["ok"] else messages


def _read_only(path: Path) -> sqlite3.Connection:
    """Open a file only to read it, leaving nothing beside it: a WAL-mode file with no
    ``-wal`` of its own (a copy) is opened immutable, else SQLite would make a ``-wal`` and
    ``-shm`` next to it."""
    immutable = "" if Path(f"{path}-wal").exists() else "&immutable=1"
    return sqlite3.connect(f"file:{path}?mode=ro{immutable}", uri=True, timeout=30)


def integrity(url: str) -> list[str]:
    """``integrity_problems`` of the database at ``url`` (a SQLite file), read-only."""
    conn = sqlite3.connect(f"file:{sqlite_path(url)}?mode=ro", uri=True, timeout=30)
    try:
        return integrity_problems(conn)
    finally:
        conn.close()


@functools.cache
def _revisions() -> dict[str, int]:
    """Every schema revision this spo knows, with its place in the chain (1 = the first)."""
    from alembic.script import ScriptDirectory

    from .db import MIGRATIONS

    script = ScriptDirectory(str(MIGRATIONS))
    chain = [r.revision for r in script.walk_revisions("base", "heads")]
    return {rev: i for i, rev in enumerate(reversed(chain), start=1)}


@dataclass(frozen=True)
class Checked:
    """A copy that passed every check: its schema revision and its page count."""

    revision: str
    pages: int


def check_copy(path: Path, *, what: str) -> Checked:
    """Refuse (``InvalidInput``, naming ``what``) a file that is not a sound spo-tracker
    database: SQLite's integrity check, every table its schema revision has, and a revision
    this spo knows (not one from a newer version)."""
    field = "FILE"
    try:
        conn = _read_only(path)
    except sqlite3.Error as exc:
        raise InvalidInput(f"{what} {path} cannot be opened ({exc})", field=field) from None
    try:
        try:
            found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {str(row[0]) for row in found}
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(
                f"{what} {path} is not an spo-tracker database ({exc})", field=field
            ) from None
        problems = integrity_problems(conn)
        if problems:
            raise InvalidInput(
                f"{what} {path} is damaged: SQLite's integrity check says "
                + "; ".join(problems)[:300],
                field=field,
            )
        if "alembic_version" not in tables or "subject" not in tables:
            raise InvalidInput(
                f"{what} {path} is not an spo-tracker database (no spo tables)", field=field
            )
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()
    revision = str(row[0]) if row else ""
    known = _revisions()
    if revision not in known:
        raise InvalidInput(
            f"{what} {path} has schema revision {revision or 'none'}, which this spo-tracker "
            f"does not know (it knows up to {SCHEMA_HEAD}): made by a newer version?",
            field=field,
        )
    from .db import tables_at

    missing = sorted(tables_at(revision) - tables)
    if missing:
        raise InvalidInput(
            f"{what} {path} is missing tables of schema {revision}: {', '.join(missing)}",
            field=field,
        )
    return Checked(revision, pages)


def backup(url: str, target: Path, *, force: bool) -> int:
    """A consistent online copy through SQLite's backup API (safe while the service runs),
    checked before it takes ``target``'s name. Returns the number of pages copied."""
    source = sqlite_path(url)
    if not source.exists():
        raise InvalidInput(f"no database at {source}", field="--db")
    writable_file(target, "FILE")
    if target.exists() and not force:
        raise InvalidInput(f"{target} exists: give --force to replace it", field="FILE")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(tmp)
        try:
            with dst:
                src.backup(dst)
            # one self-contained file: opening it later leaves no -wal or -shm beside it
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            src.close()
            dst.close()
        try:
            checked = check_copy(tmp, what="the copy of")
        except InvalidInput as exc:
            raise InvalidInput(
                f"{exc.message} (the database itself may be damaged: run spo doctor)",
                field="--db",
            ) from None
    except BaseException:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return checked.pages


SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(path: Path) -> bool:
    """An empty file (SQLite makes it a database) or one that begins as SQLite files do."""
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_HEADER))
    return head in (b"", SQLITE_HEADER)


def writable_file(target: Path, field: str) -> None:
    """A file can be written at ``target``: not a folder, in a folder that exists (checked
    before anything is read, so a wrong path is one line and exit 2, nothing left behind)."""
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder: give the path of a file in it", field=field)
    if not target.parent.is_dir():
        raise InvalidInput(f"no folder {target.parent} to write {target.name} in", field=field)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` owner-only (0600) under a temporary name, then rename: a reader never
    sees half a file, and a crash leaves the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old temporary file may have had other permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def restore(url: str, source: Path, *, force: bool) -> str:
    """Copy a backup over the database (through the backup API, so it is safe against a
    running service's connections), once the backup has passed ``check_copy``: a damaged
    one is refused and the database is not touched. Returns the backup's schema revision."""
    target = sqlite_path(url)
    if not source.is_file():
        raise InvalidInput(f"no backup file at {source}", field="FILE")
    checked = check_copy(source, what="the backup")
    if target.exists() and not force:
        raise InvalidInput(
            f"{target} exists: restoring would replace it; give --force", field="--force"
        )
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder, not a database file", field="--db")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    src = _read_only(source)
    dst = sqlite3.connect(target, timeout=30)
    try:
        with dst:
            src.backup(dst)
        # a backup is one self-contained file (journal_mode DELETE): the database runs with
        # WAL like any spo creates, whether or not one was at this path before
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        src.close()
        dst.close()
    return checked.revision
