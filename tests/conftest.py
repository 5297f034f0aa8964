"""Shared fixtures: run ``spo`` in-process against a real SQLite file."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from spo_tracker.cli import run


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


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "spo.db"
    monkeypatch.setenv("SPO_DB", str(path))
    monkeypatch.setenv("SPO_USER", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def spo(db_path: Path) -> Spo:
    """``spo(*args)`` on an initialised database; fails the test on a non-zero exit unless
    ``code=`` says which status is expected."""

    def call(*args: str, code: int = 0) -> Result:
        result = invoke(*args)
        assert result.code == code, (
            f"spo {' '.join(args)} exited {result.code}, expected {code}\n"
            f"stdout: {result.out}\nstderr: {result.err}"
        )
        return result

    call("init")
    return call


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
