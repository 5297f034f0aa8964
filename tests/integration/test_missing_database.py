"""A database that is missing or cannot be reached is one line on stderr and exit 2, for
reads, writes, upgrades and the service alike, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.support.postgres import Server, free_port

COMMANDS = [
    ("due",),
    ("show", "S-001"),
    ("subject", "add", "S-001", "--name", "John Smith"),
    ("db", "upgrade"),
    ("db", "current"),
    ("run", "--once"),
]


def missing(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if engine == "sqlite":
        return str(tmp_path / "nowhere" / "spo.db")
    server: Server = request.getfixturevalue("postgres")
    return server.url("no_such_database")


@pytest.mark.both_engines
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_missing_database_is_one_line_and_exit_2(
    engine: str,
    command: tuple[str, ...],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPO_MAILDIR", str(tmp_path / "maildir"))
    url = missing(engine, tmp_path, request)
    result = invoke("--db", url, *command)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith("error: "), result.err
    expected = "no database at" if engine == "sqlite" else "no_such_database"
    assert expected in result.err
    assert result.out == ""


@pytest.mark.postgresql_only
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_server_is_one_line_and_exit_2(
    engine: str, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPO_MAILDIR", str(tmp_path / "maildir"))
    url = f"postgresql+psycopg://spo@127.0.0.1:{free_port()}/spo"  # nothing listens there
    result = invoke("--db", url, *command)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"error: cannot connect to {url}: "), result.err
