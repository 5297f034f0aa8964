"""The composition root: the one place that builds the real parts from settings.

``Env`` is what every entry point hands the use cases: who is acting, the settings, the
policy, the clock and the one time zone that decides "today", and the database: a read (a
DB-API connection, no SQLAlchemy, for commands that only show) or a unit of work (one
SQLAlchemy session, one transaction). The engine is made here once per process, and nowhere
else; so is the mail transport. Nothing else reads the wall clock (``SystemClock``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.clock import Clock, FixedClock
from .core.dates import local_date
from .core.errors import DatabaseNotReady, InvalidInput
from .core.text import quote
from .store.schema import backend, describe, resolve_url

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .adapters.mail.deliver import Transport
    from .config import Settings
    from .core.policy import Policy
    from .store.read import Reader
    from .store.repo import Store

DEFAULT_POLICY = "west-yorkshire"


class SystemClock:
    """The wall clock: read by the shell only, and handed inwards as moments."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


def acting_user(option: str | None) -> str:
    """``--as``, else ``SPO_USER``, else the operating-system user."""
    return option or os.environ.get("SPO_USER") or getpass.getuser()


def policy_dirs() -> list[Path]:
    """Where shipped policies live: inside the installed wheel, or the source checkout."""
    package = Path(__file__).parent
    return [package / "_data" / "policy", package.parent / "data" / "policy"]


def policy_path(option: str | None) -> Path:
    """``--policy`` (a file, or the name of a shipped policy), else ``SPO_POLICY``, else the
    shipped West Yorkshire policy."""
    value = option or os.environ.get("SPO_POLICY") or DEFAULT_POLICY
    candidate = Path(value).expanduser()
    if candidate.suffix == ".toml" or os.sep in value:
        if not candidate.is_file():
            raise InvalidInput(f"no policy file at {candidate}", field="--policy")
        return candidate
    for folder in policy_dirs():
        shipped = folder / f"{value}.toml"
        if shipped.is_file():
            return shipped
    names = sorted(
        {p.stem for folder in policy_dirs() if folder.is_dir() for p in folder.glob("*.toml")}
    )
    raise InvalidInput(
        f"no shipped policy named {quote(value)} (shipped: {', '.join(names) or 'none'})",
        field="--policy",
    )


def _policy_text(source: Path) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {source}: {exc}", field="--policy") from None


def load_policy(option: str | None = None, *, path: Path | None = None) -> Policy:
    """Read and validate the policy; add bank holidays when a rule counts working days."""
    from .core.policy import parse_policy

    policy = parse_policy(_policy_text(path or policy_path(option)))
    if policy.uses_working_days:
        policy = with_bank_holidays(policy)
    return policy


def with_bank_holidays(policy: Policy) -> Policy:
    import dataclasses

    import holidays

    england = holidays.country_holidays("GB", subdiv="ENG", years=range(2000, 2101))
    return dataclasses.replace(policy, holidays=frozenset(england.keys()))


class Env:
    """One process's view of the deployment: built from the global options (``--db``,
    ``--as``, ``--policy``, ``--config``) and the environment; everything loaded on first use
    so a command pays only for what it needs."""

    def __init__(
        self,
        *,
        db: str | None = None,
        actor: str | None = None,
        policy: str | None = None,
        config: str | None = None,
        clock: Clock | None = None,
        settings: Settings | None = None,
        loaded_policy: Policy | None = None,
    ) -> None:
        self.db_option = db
        self.actor = acting_user(actor)
        self.purpose: str | None = None  # --purpose: else each use case's default
        self.policy_option = policy
        self.config_option = config
        self.clock: Clock = clock or SystemClock()
        self._settings = settings
        self._policy = loaded_policy
        self._url: str | None = None
        self._engine: Engine | None = None

    # ------------------------------------------------------------------ settings and time

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from .config import load_settings

            self._settings = load_settings(self.config_option)
        return self._settings

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = load_policy(self.policy_option)
        return self._policy

    def policy_digest(self) -> str:
        """The digest of the policy in force, without parsing it (a warning needs no more)."""
        if self._policy is not None:
            return self._policy.digest
        from .core.policy import text_digest

        return text_digest(_policy_text(policy_path(self.policy_option)))

    @property
    def timezone(self) -> str:
        """The one time zone that decides "today" everywhere: ``SPO_TIMEZONE`` (``timezone``
        in the settings file), else the policy's."""
        return self.settings.timezone or self.policy.timezone

    def now(self) -> dt.datetime:
        return self.clock.now()

    def today(self) -> dt.date:
        """Today's calendar date in the force's time zone (never the UTC date)."""
        return local_date(self.clock.now(), self.timezone)

    # ------------------------------------------------------------------ the database

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = resolve_url(self.db_option)
        return self._url

    @property
    def dialect(self) -> str:
        return backend(self.url)

    def engine(self, *, create: bool = False) -> Engine:
        """The process's one SQLAlchemy engine (``create``: a new SQLite file may be made)."""
        if self._engine is None:
            from .store.db import make_engine

            self._engine = make_engine(self.url, create_dir=create)
        return self._engine

    def load_write_side(self) -> None:
        """Import the write side (SQLAlchemy, the models, the store) and make the engine, on
        the calling thread: a long-running process does this before it starts threads, since
        two threads importing the same modules at once can see one half-initialised."""
        from sqlmodel import Session  # noqa: F401

        from .store import repo  # noqa: F401

        self.engine()

    @contextmanager
    def reading(self, *, check_schema: bool = True) -> Iterator[Reader]:
        """A read: one snapshot on a DB-API connection of its own, no SQLAlchemy."""
        from .store import read

        conn = read.connect(self.url)
        dialect = self.dialect
        committed = False
        try:
            read.begin(conn, dialect)
            reader = read.Reader(conn, dialect)
            if check_schema:
                reader.check_schema(describe(self.url))
            yield reader
            if reader.accesses:  # what it showed is logged before anything is printed
                conn.commit() if dialect != "sqlite" else conn.execute("COMMIT")
                read.log_and_seal(reader, self.clock.now(), self.actor)
                read.begin(conn, dialect)
            committed = True
        finally:
            read.end(conn, dialect, commit=committed)

    @contextmanager
    def unit_of_work(
        self, *, actor: str | None = None, now: dt.datetime | None = None
    ) -> Iterator[Store]:
        """One transaction: committed if the block succeeds, rolled back if anything raises.
        Refuses a database that is missing or not at this version's schema."""
        from sqlmodel import Session

        from .store.repo import Store

        engine = self.engine()
        with Session(engine, expire_on_commit=False) as session:
            store = Store(session, actor=actor or self.actor, now=now or self.clock.now())
            try:
                store.read.check_schema(describe(self.url))
                store.read.mark_chain_start()
                yield store
                store.finish(self.purpose)
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def transport(self) -> Transport:
        """Mail out: SMTP when configured, else the local maildir."""
        from .adapters.mail.deliver import transport_from

        s = self.settings
        return transport_from(s.smtp_url, s.smtp_password(), s.smtp_timeout_seconds, s.maildir)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def database_errors() -> tuple[type[BaseException], ...]:
    """The driver and SQLAlchemy errors a command may have met, for a one-line report (only
    the libraries already imported: none is imported to find out)."""
    import sys

    found: list[Any] = []
    if "sqlalchemy.exc" in sys.modules:
        from sqlalchemy.exc import SQLAlchemyError

        found.append(SQLAlchemyError)
    if "sqlite3" in sys.modules:
        import sqlite3

        found.append(sqlite3.Error)
    if "psycopg2" in sys.modules:
        import psycopg2

        found.append(psycopg2.Error)
    return tuple(found)


__all__ = [
    "DatabaseNotReady",
    "Env",
    "FixedClock",
    "SystemClock",
    "acting_user",
    "database_errors",
    "load_policy",
]
