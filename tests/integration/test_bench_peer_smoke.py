"""The peer benchmark end to end on a tiny caseload: Taskwarrior loaded, both tools timed.

Needs Taskwarrior 2.6 (Debian package ``taskwarrior``): the benchmark installs it if it is
missing, and the test fails (never skips) if that is impossible.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from benchmarks import bench_peer, generate

SUBJECTS = 20


@pytest.fixture
def caseload_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPO_USER", "scu@force.example")  # the generated SCU
    officers, subjects = generate.build_caseload(SUBJECTS, seed=1)
    document = tmp_path / "caseload.json"
    generate.write_json(document, officers, subjects)
    db = tmp_path / "peer.db"
    generate.import_into(str(db), document)
    return db


def test_peer_benchmark_loads_taskwarrior_and_times_both(caseload_db: Path, tmp_path: Path) -> None:
    try:
        task = bench_peer.ensure_taskwarrior()
    except SystemExit as exc:
        pytest.fail(f"Taskwarrior is needed for the peer benchmark: {exc}")

    workdir = tmp_path / "work"
    workdir.mkdir()
    figures = bench_peer.run(db=caseload_db, size=SUBJECTS, workdir=workdir, runs=1)

    items = bench_peer.read_items(caseload_db)
    with sqlite3.connect(caseload_db) as conn:
        (open_actions,) = conn.execute(
            "SELECT count(*) FROM action WHERE state = 'open' AND due IS NOT NULL"
        ).fetchone()
    assert len(items) == open_actions > 0
    counted = subprocess.run(
        [task, "rc.verbose=nothing", "count", "status:pending"],
        capture_output=True,
        text=True,
        check=True,
        env=bench_peer.task_env(workdir),
    )
    assert int(counted.stdout.strip()) == len(items)

    by_label = {f.label: f for f in figures}
    assert all(f.group == "peer" and f.size == SUBJECTS for f in figures)
    for label in ("task due", "spo due --all"):
        assert by_label[label].samples, label
        assert all(s > 0 for s in by_label[label].samples), label
    assert f"matched {len(items):,}" in by_label["task due"].note
    ratio = by_label["spo due --all ÷ task due"]
    assert ratio.unit == "x"
    assert ratio.target is None  # judged at national size only
    assert "10,000" in ratio.target_text
    assert ratio.median == pytest.approx(
        by_label["spo due --all"].median / by_label["task due"].median
    )
