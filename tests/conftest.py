"""Shared fixtures: run ``spo`` in-process against a real SQLite file."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from spo_tracker.entry.cli import run
from tests.support.postgres import Server, running_server
from tests.support.programs import program_name, unlisted

# The tests act as users who are nobody's officer ("tester", or officers they add later):
# the acting user's checks and team scope (on by default, as installed) are tested on their
# own, in tests/cli/test_accountability.py, which turns them back on.
os.environ.setdefault("SPO_ACCESS_CONTROL", "false")

# Every program a test starts, by name: the run fails on one that tests/support/programs.py
# does not list, so a tool the suite needs cannot slip in without scripts/test installing it
# or the README saying the machine has it.
STARTED: set[str] = set()


def _record_programs(event: str, args: tuple[object, ...]) -> None:
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn") and args:
        STARTED.add(program_name(args[0]))


sys.addaudithook(_record_programs)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    unknown = unlisted(STARTED)
    if unknown:
        sys.stderr.write(
            f"\nerror: the suite ran {', '.join(unknown)}, which tests/support/programs.py does "
            "not list: have scripts/test install it (scripts/_tools) or document it in the "
            "README's Two commands section, and list it\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


Spo = Callable[..., Result]


def invoke(*args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_engines`` (or in a module that is) run on SQLite and PostgreSQL;
    ``postgresql_only`` tests (several service instances) on PostgreSQL alone."""
    if "engine" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker
        engines = ["sqlite"]
        if marker("postgresql_only"):
            engines = ["postgresql"]
        elif marker("both_engines"):
            engines = ["sqlite", "postgresql"]
        only = os.environ.get("SPO_TEST_ENGINES")  # scripts/test --quick: sqlite
        if only:
            engines = [e for e in engines if e in only.split(",")]
        metafunc.parametrize("engine", engines)


@pytest.fixture(autouse=True)
def _today(request: pytest.FixtureRequest) -> Iterator[None]:
    """``@pytest.mark.today("2029-01-01")``: a test whose story records facts on days after
    the real today (a fact is never dated in the future) runs with the clock on that day."""
    marker = request.node.get_closest_marker("today")
    if marker is None:
        yield
        return
    import datetime as dt

    import time_machine

    moment = dt.datetime.fromisoformat(f"{marker.args[0]}T12:00:00+00:00")
    with time_machine.travel(moment, tick=False):
        yield


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    with running_server() as server:
        yield server


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite file (SPO_DB), for tests about the file itself."""
    path = tmp_path / "spo.db"
    monkeypatch.setenv("SPO_DB", str(path))
    monkeypatch.setenv("SPO_USER", "tester")
    # "tester" is nobody's supervisor: who may do the sensitive things (on by default) is
    # tested on its own, in tests/cli/test_permissions.py
    monkeypatch.setenv("SPO_RESTRICT_SENSITIVE", "false")
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def db_url(
    engine: str, db_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The database the test's ``spo`` uses: the SQLite file, or a fresh PostgreSQL
    database when the test runs on both engines."""
    if engine == "sqlite":
        return str(db_path)
    server: Server = request.getfixturevalue("postgres")
    url = server.create_database()
    monkeypatch.setenv("SPO_DB", url)
    return url


@pytest.fixture
def spo(db_url: str) -> Spo:
    """``spo(*args)`` on an initialised database; fails the test on a non-zero exit unless
    ``code=`` says which status is expected."""

    def call(*args: str, code: int = 0) -> Result:
        result = invoke(*args)
        assert result.code == code, (
            f"spo {' '.join(args)} exited {result.code}, expected {code}\n"
            f"stdout: {result.out}\nstderr: {result.err}"
        )
        return result

    if db_url.startswith("postgresql"):
        call("init")  # already migrated (from the server's template): says up to date
    elif not Path(db_url).exists():
        _migrated_copy(Path(db_url))
    else:
        call("init")  # a database the test prepared: brought up to date, as before
    return call


_TEMPLATE: list[Path] = []


def _migrated_copy(path: Path) -> None:
    """``spo init`` once per run, then a copy of that file for each test: running the
    migrations afresh for every test cost most of the quick loop's time."""
    import shutil
    import tempfile

    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="spo-template-"))
        template = folder / "template.db"
        result = invoke("--db", str(template), "init")
        assert result.code == 0, result.err
        invoke("--db", str(template), "db", "current")  # the WAL checkpointed on close
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], path)
    path.chmod(0o600)


@pytest.fixture
def snapshot(spo: Spo) -> Callable[[], tuple[str, int]]:
    """The whole record plus the audit trail length: equal before and after = unchanged."""

    def take() -> tuple[str, int]:
        audit = spo("audit", "--json").json()
        assert isinstance(audit, dict)
        return spo("export").out, len(audit["entries"])

    return take


@pytest.fixture
def caseload(spo: Spo) -> Spo:
    """A small caseload: a supervisor, an offender manager, one subject with a full order."""
    spo(
        "officer",
        "add",
        "ds1@force.example",
        "--name",
        "Dana Sergeant",
        "--role",
        "supervisor",
        "--team",
        "North",
    )
    spo(
        "officer",
        "add",
        "om1@force.example",
        "--name",
        "Sam Patel",
        "--role",
        "offender-manager",
        "--team",
        "North",
        "--supervisor",
        "ds1@force.example",
    )
    spo(
        "subject",
        "add",
        "S-001",
        "--name",
        "John Smith",
        "--dob",
        "1980-04-02",
        "--risk",
        "high",
        "--officer",
        "om1@force.example",
        "--address",
        "1 High Street, Leeds",
    )
    spo(
        "order",
        "add",
        "S-001",
        "O-001",
        "--type",
        "full",
        "--made",
        "2026-03-03",
        "--served",
        "2026-03-04",
        "--expires",
        "2028-03-02",
        "--court",
        "Leeds Magistrates",
    )
    spo("flag", "add", "S-001", "F-001", "--expires", "2027-03-31")
    return spo
