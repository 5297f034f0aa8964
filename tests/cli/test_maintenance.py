"""Backups, restore, retention, roles and the doctor, on a real SQLite file."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from spo_tracker.store.schema import SCHEMA_HEAD
from tests.conftest import Spo, invoke


def test_backup_taken_during_writes_restores_every_committed_record(
    caseload: Spo, db_path: Path, tmp_path: Path
) -> None:
    done: list[int] = []

    def writer() -> None:
        for day in range(1, 21):
            result = invoke("visit", "add", "S-001", "--date", f"2026-04-{day:02d}")
            assert result.code == 0, result.err
            done.append(day)

    thread = threading.Thread(target=writer)
    thread.start()
    backups = []
    while thread.is_alive() or not backups:
        target = tmp_path / f"backup-{len(backups)}.db"
        committed_before = len(done)
        caseload("backup", str(target))
        backups.append((target, committed_before))
    thread.join()
    assert oct(backups[-1][0].stat().st_mode & 0o777) == "0o600"
    for target, committed_before in backups:
        restored = tmp_path / f"restored-{target.stem}.db"
        assert invoke("--db", str(restored), "restore", str(target)).code == 0
        doc = json.loads(invoke("--db", str(restored), "export").out)
        visits = doc["subjects"][0]["visits"]
        # every visit committed before the backup began is in it, and nothing half-written
        assert len(visits) >= committed_before
        assert len(visits) <= 20


def test_restore_refuses_to_replace_a_database_without_force(caseload: Spo, tmp_path: Path) -> None:
    target = tmp_path / "b.db"
    caseload("backup", str(target))
    assert "exists" in caseload("backup", str(target), code=2).err
    caseload("officer", "add", "new@force.example", "--name", "New", "--role", "scu")
    assert "--force" in caseload("restore", str(target), code=2).err
    assert "new@force.example" in caseload("officer", "list", "--json").out
    caseload("restore", str(target), "--force")
    assert "new@force.example" not in caseload("officer", "list", "--json").out
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    assert "not an spo-tracker database" in caseload("restore", str(junk), "--force", code=2).err


def _damage(path: Path) -> None:
    """Overwrite a run of pages in the middle of a SQLite file, as a bad disk or a
    half-finished copy would."""
    size = path.stat().st_size
    page = 4096
    start = (size // 2) // page * page
    with path.open("r+b") as f:
        f.seek(start)
        f.write(bytes(range(256)) * (2 * page // 256))


def test_restore_refuses_a_damaged_backup_and_leaves_the_database_untouched(
    caseload: Spo, snapshot: Any, db_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "b.db"
    caseload("backup", str(target))
    assert not list(tmp_path.glob("b.db-*")), "a backup is one self-contained file"
    _damage(target)
    caseload("visit", "add", "S-001", "--date", "2026-04-01")
    before = snapshot()
    result = caseload("restore", str(target), "--force", code=2)
    assert "damaged" in result.err
    assert "integrity check" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert snapshot() == before
    doc: Any = invoke("doctor", "--json").json()
    assert not any(p["check"] == "integrity" for p in doc["problems"])


def test_restore_refuses_a_backup_missing_a_table_or_from_a_newer_schema(
    caseload: Spo, snapshot: Any, tmp_path: Path
) -> None:
    import sqlite3

    before = snapshot()
    newer = tmp_path / "newer.db"
    caseload("backup", str(newer))
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    err = caseload("restore", str(newer), "--force", code=2).err
    assert "schema revision 9999" in err
    assert "newer version" in err
    cut = tmp_path / "cut.db"
    caseload("backup", str(cut))
    with sqlite3.connect(cut) as conn:
        conn.execute("DROP TABLE feed_fetch")
    conn.close()
    err = caseload("restore", str(cut), "--force", code=2).err
    assert f"missing tables of schema {SCHEMA_HEAD}: feed_fetch" in err
    assert snapshot() == before


def test_backup_of_a_damaged_database_is_refused_and_doctor_says_why(
    caseload: Spo, db_path: Path, tmp_path: Path
) -> None:
    caseload("db", "current")  # every connection closed: the WAL is checkpointed
    _damage(db_path)
    target = tmp_path / "b.db"
    result = caseload("backup", str(target), code=2)
    assert "damaged" in result.err
    assert "spo doctor" in result.err
    assert not target.exists()
    assert not list(tmp_path.glob(".b.db*")), "the refused copy is removed"
    doc: Any = caseload("doctor", "--json", code=1).json()
    assert [p["check"] for p in doc["problems"]] == ["integrity"]
    assert "spo restore" in doc["problems"][0]["message"]


def test_backup_of_postgresql_points_to_pg_dump(spo: Spo, tmp_path: Path) -> None:
    result = invoke(
        "--db", "postgresql+psycopg://x@localhost/spo", "backup", str(tmp_path / "x.db")
    )
    assert result.code == 2
    assert "pg_dump" in result.err


def purge_setup(spo: Spo) -> None:
    spo("officer", "add", "ds@force.example", "--name", "Dee", "--role", "supervisor")
    spo("subject", "add", "S-OLD", "--name", "Oliver Oldcase", "--address", "7 Gone Road")
    spo(
        "order",
        "add",
        "S-OLD",
        "O-OLD",
        "--type",
        "interim",  # among the first orders under the Act, and short
        "--made",
        "2020-01-20",
        "--expires",
        "2020-02-19",
    )
    spo("subject", "add", "S-NOW", "--name", "Nora Nowcase")
    spo(
        "order",
        "add",
        "S-NOW",
        "O-NOW",
        "--type",
        "full",
        "--made",
        "2026-01-10",
        "--until-further-order",
    )


@pytest.mark.both_engines
def test_retention_purge_removes_expired_subjects_and_their_personal_data(spo: Spo) -> None:
    purge_setup(spo)
    review = spo("retention", "review", "--as-of", "2026-11-23", "--json").json()
    assert [s["subject"] for s in review["subjects"]] == ["S-OLD"]  # type: ignore[index]
    assert review["subjects"][0]["keep_until"] == "2026-02-19"  # type: ignore[index]
    assert "--confirm" in spo("retention", "purge", code=2).err
    spo("retention", "purge", "--confirm", "--as-of", "2026-11-23")
    assert "S-OLD not found" in spo("show", "S-OLD", code=3).err
    spo("show", "S-NOW")
    audit = spo("audit", "--json").out
    assert "Oliver" not in audit
    assert "Gone Road" not in audit
    entries = json.loads(audit)["entries"]
    purged = [e for e in entries if e["action"] == "retention.purge"]
    assert len(purged) == 1
    assert purged[0]["ref"] == "S-OLD"
    assert "2020-02-19" in purged[0]["after"]["reason"]
    assert purged[0]["after"]["removed"]["orders"] == 1


def test_doctor_reports_data_quality_and_unsafe_permissions(caseload: Spo, db_path: Path) -> None:
    caseload("subject", "add", "S-002", "--name", "No Order")
    caseload("subject", "add", "S-003", "--name", "No Officer")
    caseload(
        "order",
        "add",
        "S-003",
        "O-003",
        "--type",
        "full",
        "--made",
        "2026-01-10",
        "--until-further-order",
    )
    result = caseload("doctor", "--json", code=1)
    problems = {(p["check"], p["subject"]) for p in result.json()["problems"]}  # type: ignore[index]
    assert ("no-order", "S-002") in problems
    assert ("unallocated", "S-003") in problems
    # a discharged subject, kept for the retention period, is normal
    caseload(
        "order",
        "discharge",
        "O-001",
        "--date",
        "2026-06-01",
        "--subject-consents",
        "--police-consents",
    )
    result = caseload("doctor", "--json", code=1)
    problems = {(p["check"], p["subject"]) for p in result.json()["problems"]}  # type: ignore[index]
    assert not any(subject == "S-001" for _, subject in problems), problems
    assert not any(check == "permissions" for check, _ in problems)
    os.chmod(db_path, 0o644)
    result = caseload("doctor", "--json", code=1)
    assert any(p["check"] == "permissions" for p in result.json()["problems"])  # type: ignore[index]


@pytest.mark.both_engines
def test_doctor_is_quiet_on_a_healthy_record(spo: Spo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPO_SCU_EMAIL", "scu@force.example")
    spo("officer", "add", "om@force.example", "--name", "O M", "--role", "offender-manager")
    spo("subject", "add", "S-1", "--name", "A B", "--risk", "low", "--officer", "om@force.example")
    spo(
        "order",
        "add",
        "S-1",
        "O-1",
        "--type",
        "full",
        "--made",
        "2026-01-10",
        "--until-further-order",
    )
    assert "no problems" in spo("doctor").out


@pytest.mark.both_engines
def test_service_logs_at_the_default_level_carry_references_not_names(
    caseload: Spo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    monkeypatch.setenv("SPO_MAILDIR", str(tmp_path / "maildir"))
    caseload("breach", "add", "S-001", "--date", "2026-03-09", "--crime-ref", "13/1/26")
    with caplog.at_level(logging.INFO):
        result = caseload("run", "--once", "--now", "2026-03-10T09:00:00+00:00")
    logged = caplog.text + result.out + result.err
    assert "queued" in logged  # the service did log its work
    for private in ("John", "Smith", "High Street", "1980-04-02"):
        assert private not in logged


@pytest.mark.today("2026-11-23")
def test_a_purge_as_of_a_day_to_come_is_refused_and_removes_nothing(spo: Spo) -> None:
    """A later day would erase records still kept (and the access log's newest rows): the
    review may look ahead, the purge may not."""
    purge_setup(spo)
    before = spo("export").out
    ahead = spo("retention", "review", "--as-of", "2040-01-01", "--json").json()
    assert {s["subject"] for s in ahead["subjects"]} >= {"S-OLD"}  # type: ignore[index]
    refused = spo("retention", "purge", "--confirm", "--as-of", "2040-01-01", code=2)
    assert refused.err.startswith(
        "error: --as-of: 2040-01-01 is in the future (today is 2026-11-23)"
    )
    assert refused.err.count("\n") == 1
    assert spo("export").out == before
    spo("retention", "purge", "--confirm", "--as-of", "2026-11-23")  # today: as before
    assert "S-OLD not found" in spo("show", "S-OLD", code=3).err


@pytest.mark.parametrize("command", [("export", "-o"), ("calendar", "export", "--all", "-o")])
def test_an_export_to_a_folder_or_nowhere_is_one_line_and_leaves_nothing(
    caseload: Spo, tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for target, words in ((folder, "is a folder"), (tmp_path / "none" / "x", "no folder")):
        result = caseload(*command, str(target), code=2)
        assert result.err.startswith("error: --output: "), result.err
        assert words in result.err
        assert result.err.count("\n") == 1
    assert list(folder.iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    doc: Any = caseload("audit", "access", "--operation", "disclosure", "--json").json()
    assert [e for e in doc["entries"] if "export" in e["what"]] == []


def test_a_backup_to_a_folder_or_nowhere_is_one_line_and_leaves_nothing(
    caseload: Spo, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert "is a folder" in caseload("backup", str(folder), "--force", code=2).err
    assert "no folder" in caseload("backup", str(tmp_path / "none" / "x.db"), code=2).err
    assert list(folder.iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("admin", "words"), [(None, "go to nobody"), ("admin@force.example", "or nobody")]
)
def test_doctor_says_when_the_scu_has_no_mailbox(
    spo: Spo, monkeypatch: pytest.MonkeyPatch, admin: str | None, words: str
) -> None:
    monkeypatch.delenv("SPO_SCU_EMAIL", raising=False)
    if admin:
        monkeypatch.setenv("SPO_ADMIN_EMAIL", admin)
    doc: Any = spo("doctor", "--json", code=1).json()
    [problem] = [p for p in doc["problems"] if p["check"] == "scu-mailbox"]
    assert problem["message"].startswith("scu_email (SPO_SCU_EMAIL) is not set")
    assert words in problem["message"]
    monkeypatch.setenv("SPO_SCU_EMAIL", "scu@force.example")
    assert "no problems" in spo("doctor").out


@pytest.mark.parametrize("command", [("init",), ("db", "upgrade")])
def test_init_on_a_file_that_is_not_a_database_is_one_line_and_exit_2(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, but somebody's notes")
    result = invoke("--db", str(junk), *command)
    assert result.code == 2, result.err
    assert result.err == f"error: cannot open {junk}: file is not a database\n"
    assert junk.read_bytes() == b"not a database at all, but somebody's notes"
