"""A real PostgreSQL server for the tests, started from the machine's own binaries.

initdb and pg_ctl from Debian's packages (``/usr/lib/postgresql/*/bin``) run a throwaway
cluster in a temporary directory on a free loopback port. PostgreSQL refuses to run as root,
so under root the server runs as the ``postgres`` user. Where no binaries exist the
PostgreSQL half of the suite is skipped with a loud message, except under CI (``CI=true``),
where that is a failure: CI must prove both engines.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest


def find_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    user: str = "spo"
    sockets: Path | None = None  # the folder of its Unix-domain socket
    bindir: Path | None = None
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    _template: bool = False

    def _execute(self, statement: str) -> None:
        with connection(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            rows(conn, statement)

    def create_empty_database(self) -> str:
        """A fresh database with no schema at all (what `createdb` gives an operator)."""
        name = f"spo_empty_{os.getpid()}_{next(self._counter)}"
        self._execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_database(self) -> str:
        """A fresh database for one test, already migrated (cloned from a template that ran
        the real migrations once); returns its SQLAlchemy URL."""
        if not self._template:
            from spo_tracker.store.db import make_engine, upgrade

            self._execute('CREATE DATABASE "spo_template"')
            engine = make_engine(self.url("spo_template"))
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            self._template = True
        name = f"spo_test_{os.getpid()}_{next(self._counter)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "spo_template"')
        return self.url(name)


@contextlib.contextmanager
def connection(*, autocommit: bool = False, **params: Any) -> Iterator[Any]:
    """A psycopg2 connection for a test's own SQL: committed when the block ends without an
    error, and closed either way (psycopg2's own ``with`` ends a transaction, not the
    connection)."""
    import psycopg2

    conn = psycopg2.connect(**params)
    conn.autocommit = autocommit
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def rows(conn: Any, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement; the rows it returns (none for a statement that returns none)."""
    with conn.cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def unavailable(reason: str) -> NoReturn:
    message = f"PostgreSQL tests cannot run: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI requires both engines)", pytrace=False)
    import warnings

    warnings.warn(message, stacklevel=2)  # loud, not silent
    pytest.skip(message)


@contextlib.contextmanager
def running_server(*, superuser: str = "spo", host_auth: str = "trust") -> Iterator[Server]:
    """A throwaway cluster; ``superuser`` is its bootstrap role, ``host_auth`` how TCP logins
    authenticate (``trust``, or ``scram-sha-256`` to make roles prove their passwords; the
    superuser always gets in over the Unix socket)."""
    bindir = find_bin()
    if bindir is None:
        unavailable("no initdb/pg_ctl found (install Debian's postgresql package)")
    assert bindir is not None
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        unavailable("the psycopg2 driver is not installed (pip install -e '.[test]')")
    root = Path(tempfile.mkdtemp(prefix="spo-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")  # util-linux: initdb refuses to run as root
        if runuser is None:
            unavailable("running as root needs runuser (util-linux) to start PostgreSQL")
        as_postgres = [runuser, "-u", "postgres", "--"]
        root.chmod(0o755)
        shutil.chown(sockets, "postgres")
        data.mkdir(mode=0o700)
        shutil.chown(data, "postgres")
    port = free_port()
    log = root / "server.log"
    log.touch()
    if as_postgres:
        shutil.chown(log, "postgres")

    def run(*args: str) -> None:
        subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            superuser,
            "--auth-local=trust",
            f"--auth-host={host_auth}",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "start",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"the server did not start: {detail.decode(errors='replace')[-500:]}")
    try:
        yield Server(port=port, user=superuser, sockets=sockets, bindir=bindir)
    finally:
        subprocess.run(
            [
                *as_postgres,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
