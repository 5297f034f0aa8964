"""Crash safety (issue 8, item 2): a writer killed with SIGKILL at any point leaves the SQLite
database intact and holding all or none of its change; WAL checkpoints lose nothing.

The real ``spo`` runs as a subprocess on a real file. Kill delays are drawn from a seeded
``random.Random``, one per stratum of the command's measured run time (plus a margin past it),
so kills land before the command reaches the database, while it holds the write lock
(mid-transaction), and after it has committed. Just before each kill the test probes the lock
(``BEGIN IMMEDIATE`` with no wait on its own connection) to say where the kill landed.

After every kill: ``PRAGMA integrity_check`` is ``ok`` with no foreign key violations,
``spo export`` parses, and the change is wholly present or wholly absent in every table it
touches (rows, audit entries, recomputed actions), and a fresh ``spo recompute`` changes
nothing: the stored deadlines agree with the stored facts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from spo_tracker.adapters.exchange import document, dumps
from spo_tracker.core import record as d
from spo_tracker.core.dates import last_day_of_period
from tests.conftest import Spo

SPO = Path(sys.executable).with_name("spo")
SEED = 20260303
IMPORT_SIZE = 300
MADE = date(2026, 3, 3)


def report(request: pytest.FixtureRequest, line: str) -> None:
    """A line in the test output, whatever the capture mode."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:  # pragma: no cover - pytest without its terminal reporter
        sys.__stdout__.write(line + "\n")


def integrity(db: Path) -> tuple[str, list[Any]]:
    conn = sqlite3.connect(db)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    return check, foreign


def count(db: Path, query: str, *params: object) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(query, params).fetchone()[0])
    finally:
        conn.close()


def write_lock_held(db: Path) -> bool:
    """Whether another connection holds the write lock (is inside a write transaction)."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
    return False


@dataclass
class Kill:
    delay: float
    alive: bool  # still running when the signal was due
    locked: bool  # it held the database's write lock at that moment
    code: int | None
    outcome: str = "?"  # "all" or "none", from the database

    @property
    def landed(self) -> str:
        if not self.alive:
            return "after exit"
        if self.locked:
            return "mid-transaction"
        return "after commit" if self.outcome == "all" else "before the transaction"


def run_and_kill(args: list[str], delay: float, db: Path, logs: Path) -> Kill:
    """Start ``spo ARGS``, wait ``delay`` seconds, then SIGKILL it unless it has exited."""
    with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
        proc = subprocess.Popen([str(SPO), *args], stdout=out, stderr=err)
        try:
            proc.wait(timeout=delay)
            alive = locked = False
        except subprocess.TimeoutExpired:
            alive = True
            locked = write_lock_held(db)
            os.kill(proc.pid, signal.SIGKILL)
        code = proc.wait(timeout=120)
    if not alive:
        assert code == 0, (logs / "stderr").read_text()
    return Kill(delay, alive, locked, code)


def stratified_delays(rng: random.Random, kills: int, span: float) -> list[float]:
    """One delay per stratum of [0, span): kills spread over the whole run, reproducibly."""
    delays = [(i + rng.random()) * span / kills for i in range(kills)]
    rng.shuffle(delays)
    return delays


def check_database(db: Path, spo: Spo) -> dict[str, Any]:
    check, foreign = integrity(db)
    assert check == "ok"
    assert foreign == []
    exported = json.loads(spo("export").out)
    assert exported["format"] == "spo-tracker"
    return exported  # type: ignore[no-any-return]


def recompute_changes(spo: Spo, *refs: str) -> str:
    return spo("recompute", *refs).out.strip()


def distribution(kills: list[Kill]) -> str:
    counts = Counter(f"{k.landed} -> {k.outcome}" for k in kills)
    return ", ".join(f"{n}x {what}" for what, n in sorted(counts.items()))


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


def test_the_spo_command_is_installed_next_to_the_interpreter() -> None:
    assert SPO.exists(), f"{SPO} missing: install the package (pip install -e .)"


# ------------------------------------------------------------------------------ import


def import_document(prefix: str) -> str:
    subjects = [
        d.Subject(
            reference=f"{prefix}{i:03d}",
            names=[d.NameEntry(f"Crash Subject {i}")],
            risk_levels=[d.RiskEntry(d.Risk.MEDIUM, MADE)],
            allocations=[d.Allocation("om1@force.example", MADE)],
            orders=[
                d.Order(
                    f"{prefix}{i:03d}-O",
                    d.OrderType.FULL,
                    MADE,
                    served=MADE,
                    expires=last_day_of_period(MADE, 2),
                )
            ],
            visits=[d.Visit(MADE + timedelta(days=3), d.VisitKind.INITIAL, "om1@force.example")],
            flags=[d.Flag(f"{prefix}{i:03d}-F", date(2027, 3, 31))],
        )
        for i in range(IMPORT_SIZE)
    ]
    return dumps(document([], subjects))


def imported(db: Path, exported: dict[str, Any], prefix: str) -> str:
    """'all' or 'none' of the import with ``prefix``, agreeing in every table it writes."""
    like = prefix + "%"
    found = {
        "export": sum(s["reference"].startswith(prefix) for s in exported["subjects"]),
        "subjects": count(db, "SELECT count(*) FROM subject WHERE reference LIKE ?", like),
        "orders": count(db, "SELECT count(*) FROM spo_order WHERE reference LIKE ?", like),
        "flags": count(db, "SELECT count(*) FROM flag WHERE reference LIKE ?", like),
        "visits": count(
            db,
            "SELECT count(*) FROM visit JOIN subject ON subject.id = visit.subject_id "
            "WHERE subject.reference LIKE ?",
            like,
        ),
        "audited": count(
            db,
            "SELECT count(DISTINCT subject_ref) FROM audit_log "
            "WHERE action = 'import' AND subject_ref LIKE ?",
            like,
        ),
        "with actions": count(
            db, "SELECT count(DISTINCT subject_ref) FROM action WHERE subject_ref LIKE ?", like
        ),
    }
    if set(found.values()) == {0}:
        return "none"
    assert set(found.values()) == {IMPORT_SIZE}, f"half an import of {prefix}: {found}"
    return "all"


def test_an_import_killed_at_any_point_leaves_all_or_none_of_it(
    caseload: Spo, db_path: Path, tmp_path: Path, logs: Path, request: pytest.FixtureRequest
) -> None:
    """Ten imports of 300 subjects each (own references): one undisturbed, nine killed at
    seeded delays over its run time. Each leaves all 300 subjects (with their orders, flags,
    visits, audit entries and actions) or none; an interrupted one then imports in full."""
    rng = random.Random(SEED)
    files = []
    for k in range(10):
        path = tmp_path / f"import-{k}.json"
        path.write_text(import_document(f"CRASH{k:02d}-"), encoding="utf-8")
        files.append(path)
    # An undisturbed run: the whole import lands, and its duration sets the kill delays.
    started = time.monotonic()
    first = run_and_kill(["import", str(files[0])], 600, db_path, logs)
    duration = time.monotonic() - started
    assert not first.alive
    assert imported(db_path, check_database(db_path, caseload), "CRASH00-") == "all"

    kills = []
    delays = stratified_delays(rng, len(files) - 1, duration * 1.15)
    for k, delay in enumerate(delays, start=1):
        kill = run_and_kill(["import", str(files[k])], delay, db_path, logs)
        kill.outcome = imported(db_path, check_database(db_path, caseload), f"CRASH{k:02d}-")
        if not kill.alive:
            assert kill.outcome == "all"
        kills.append(kill)
    report(
        request,
        f"import of {IMPORT_SIZE} subjects ({duration:.1f}s undisturbed), "
        f"{len(kills)} SIGKILLs: {distribution(kills)}",
    )
    assert any(k.outcome == "none" and k.alive for k in kills), "no kill interrupted an import"
    assert any(k.landed == "mid-transaction" for k in kills), "no kill landed mid-transaction"
    # Nothing half-written blocks the references: an interrupted import runs again in full.
    retry = next(k for k, kill in enumerate(kills, start=1) if kill.outcome == "none")
    caseload("import", str(files[retry]))
    assert imported(db_path, check_database(db_path, caseload), f"CRASH{retry:02d}-") == "all"
    assert recompute_changes(caseload, "--all").endswith(": 0 change(s)")


# ------------------------------------------------------------------------------ single writes


def visit_state(db: Path, exported: dict[str, Any], spo: Spo, marker: str) -> str:
    """'all' or 'none' of one ``spo visit add``: the visit row, its audit entry and the
    subject's recomputed deadlines agree."""
    subject = next(s for s in exported["subjects"] if s["reference"] == "S-001")
    in_export = sum(v["outcome"] == marker for v in subject["visits"])
    rows = count(db, "SELECT count(*) FROM visit WHERE outcome = ?", marker)
    audit = spo("audit", "S-001", "--json").json()
    assert isinstance(audit, dict)
    audited = sum(
        e["action"] == "visit.add" and (e["after"] or {}).get("outcome") == marker
        for e in audit["entries"]
    )
    assert in_export == rows == audited, f"visit {marker!r}: {in_export=} {rows=} {audited=}"
    assert rows in {0, 1}
    return "all" if rows else "none"


def order_state(db: Path, exported: dict[str, Any], spo: Spo, ref: str) -> str:
    subject = next(s for s in exported["subjects"] if s["reference"] == "S-001")
    in_export = sum(o["reference"] == ref for o in subject["orders"])
    rows = count(db, "SELECT count(*) FROM spo_order WHERE reference = ?", ref)
    audit = spo("audit", ref, "--json").json()
    assert isinstance(audit, dict)
    audited = sum(e["action"] == "order.add" for e in audit["entries"])
    assert in_export == rows == audited, f"order {ref}: {in_export=} {rows=} {audited=}"
    assert rows in {0, 1}
    return "all" if rows else "none"


@dataclass(frozen=True)
class Write:
    name: str
    args: Callable[[int], list[str]]
    state: Callable[[Path, dict[str, Any], Spo, int], str]


def visit_args(k: int) -> list[str]:
    return ["visit", "add", "S-001", f"--date=2026-03-{k + 5:02d}", f"--outcome=crash {k}"]


def order_args(k: int) -> list[str]:
    made = f"--made=2026-04-{k + 1:02d}"
    return ["order", "add", "S-001", f"O-1{k:02d}", "--type=interim", made, "--expires=2026-06-30"]


WRITES = [
    Write(
        "visit add",
        visit_args,
        lambda db, exported, spo, k: visit_state(db, exported, spo, f"crash {k}"),
    ),
    Write(
        "order add",
        order_args,
        lambda db, exported, spo, k: order_state(db, exported, spo, f"O-1{k:02d}"),
    ),
]


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_a_write_killed_at_any_point_leaves_all_or_none_of_it(
    caseload: Spo, db_path: Path, logs: Path, request: pytest.FixtureRequest, write: Write
) -> None:
    """Ten single writes, one undisturbed and nine killed at seeded delays: each record is
    in the export, its table and the audit trail together or in none of them."""
    rng = random.Random(f"{SEED}-{write.name}")
    assert recompute_changes(caseload, "S-001").endswith(": 0 change(s)")
    started = time.monotonic()
    first = run_and_kill(write.args(0), 600, db_path, logs)
    duration = time.monotonic() - started
    assert not first.alive
    assert write.state(db_path, check_database(db_path, caseload), caseload, 0) == "all"

    kills = []
    for k, delay in enumerate(stratified_delays(rng, 9, duration * 1.15), start=1):
        kill = run_and_kill(write.args(k), delay, db_path, logs)
        kill.outcome = write.state(db_path, check_database(db_path, caseload), caseload, k)
        if not kill.alive:
            assert kill.outcome == "all"
        # Whatever survived, the stored deadlines are those its facts give.
        assert recompute_changes(caseload, "S-001").endswith(": 0 change(s)")
        kills.append(kill)
    report(
        request,
        f"spo {write.name} ({duration:.2f}s undisturbed), {len(kills)} SIGKILLs: "
        f"{distribution(kills)}",
    )
    assert any(k.outcome == "none" and k.alive for k in kills), "no kill interrupted the write"


def test_a_writer_killed_right_after_its_success_line_keeps_its_record(
    caseload: Spo, db_path: Path
) -> None:
    """The success line is printed after the commit: killing the process the moment it
    appears (before it can close the database or exit) must not lose the record."""
    for k in range(3):
        marker = f"acknowledged {k}"
        proc = subprocess.Popen(
            [str(SPO), "visit", "add", "S-001", "--date=2026-03-20", f"--outcome={marker}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        stdout: IO[bytes] | None = proc.stdout
        assert stdout is not None
        line = stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert line.startswith(b"recorded visit S-001/visit-"), line
        assert visit_state(db_path, check_database(db_path, caseload), caseload, marker) == "all"


# ------------------------------------------------------------------------------ checkpoints


def wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_wal_checkpoints_keep_every_committed_record(
    caseload: Spo, db_path: Path, tmp_path: Path
) -> None:
    """Records written through ``spo`` survive ``PRAGMA wal_checkpoint(TRUNCATE)``, one held
    up by a reader and one that completes; afterwards the main file alone holds them all."""
    # A connection of our own stays open, so the last `spo` to close does not checkpoint and
    # delete the WAL for us: the committed writes below are in the WAL when we checkpoint.
    keeper = sqlite3.connect(db_path, isolation_level=None, timeout=0)  # no busy wait
    reader = sqlite3.connect(db_path, isolation_level=None)
    try:
        keeper.execute("SELECT count(*) FROM subject").fetchone()
        for i in range(8):
            caseload("subject", "add", f"W-{i:02d}", "--name", f"Wal Subject {i}")
            caseload("visit", "add", "S-001", f"--date=2026-04-{i + 1:02d}", f"--outcome=wal {i}")
        assert wal_size(db_path) > 0
        before = caseload("export").out
        assert before.count('"reference": "W-0') == 8

        # A reader holding an old snapshot stops the checkpoint from finishing...
        reader.execute("BEGIN")
        seen = reader.execute("SELECT count(*) FROM visit").fetchone()[0]
        for i in range(4):
            caseload("visit", "add", "S-001", f"--date=2026-05-{i + 1:02d}", f"--outcome=late {i}")
        busy, _, _ = keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 1
        assert reader.execute("SELECT count(*) FROM visit").fetchone()[0] == seen
        during = caseload("export").out
        assert during.count('"late ') == 4  # ...yet every committed write is still visible
        reader.execute("ROLLBACK")

        # ...and once it lets go, a full checkpoint moves everything into the main file.
        busy, _, _ = keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        assert wal_size(db_path) == 0
        alone = tmp_path / "alone.db"  # the main file alone, without its WAL or shared memory
        alone.write_bytes(db_path.read_bytes())
    finally:
        reader.close()
        keeper.close()
    assert caseload("export").out == during  # reopened after the checkpoint
    assert integrity(db_path) == ("ok", [])
    assert caseload("--db", str(alone), "export").out == during
    assert during != before
