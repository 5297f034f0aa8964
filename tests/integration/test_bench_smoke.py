"""The benchmark harness works: a tiny caseload through every caseload figure, and the report.

Speed is not asserted here (benchmarks run on demand, with ``scripts/bench``); this checks
that the figures are produced, are positive, and land in BENCHMARKS.md's generated section.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_deadlines, harness, run_all
from tests.support.postgres import Server


@pytest.fixture(autouse=True)
def bench_env(tmp_path: Path) -> None:
    harness.use_env(harness.clean_env(tmp_path / "pycache"))


def test_caseload_figures_at_a_tiny_size(tmp_path: Path) -> None:
    loaded, made = bench_deadlines.load_size(12, seed=3, workdir=tmp_path, timeout=300)
    assert loaded.db.exists()
    assert loaded.subject.startswith("S-")
    imported, memory = made
    assert imported.samples[0] > 0
    assert "12 subjects" in imported.note
    assert memory.unit == "MB"
    assert memory.samples[0] > 10  # a Python process with spo loaded
    assert memory.target is None  # the memory target is set at stress size only
    assert bench_deadlines.stress_memory_target(100_000)["target"] == ("<=", 300.0)
    figures = bench_deadlines.bench_size(loaded, runs=1, timeout=300)
    by_label = {f.label: f for f in figures}
    for label in (
        "spo due --officer OM",
        "spo due --all --json",
        "spo recompute --all (full recompute)",
        "incremental recompute (1 subject, in-process)",
        "sweep + outbox enqueue (in-process)",
        "peak RSS of any command above",
    ):
        figure = by_label[label]
        assert figure.samples, label
        assert all(s > 0 for s in figure.samples), label
    assert by_label["incremental recompute (1 subject, in-process)"].met is not None
    assert "actions listed" in by_label["spo due --all --json"].note
    # rolled back: the measured visit and sweep left nothing behind
    again = bench_deadlines.bench_size(loaded, runs=1, timeout=300, full_recompute=False)
    assert [f.label for f in again] == [f.label for f in figures]
    # left out (as at stress size), it is reported as skipped, never as a figure
    skipped = {f.label: f for f in again}["spo recompute --all (full recompute)"]
    assert not skipped.samples
    assert "not run at this size" in skipped.skipped


def test_report_keeps_the_hand_written_part(tmp_path: Path) -> None:
    figures = [
        harness.Figure(
            "start-up",
            "spo --help",
            "s",
            samples=[0.1, 0.2, 0.12],
            target=("<=", 0.15),
            target_text="≤ 150 ms",
        ),
        harness.Figure(
            "delivery",
            "ours",
            "/s",
            per="emails",
            samples=[150.0],
            target=(">=", 200.0),
            target_text="≥ 200 emails/s",
        ),
        harness.Figure("feeds", "304", "/s", per="requests", skipped="wrk missing"),
    ]
    section = run_all.report(
        figures,
        command="scripts/bench --quick",
        when="today",
        took=60,
        info={"cores (nproc)": "2"},
        quick=True,
        failures=["feeds: RuntimeError: wrk missing"],
    )
    assert "| ≤ 150 ms | 120 ms |" in section
    assert "meets" in section
    assert "| ≥ 200 emails/s | 150 emails/s |" in section
    assert "**misses**" in section
    assert "skipped: wrk missing" in section
    assert "feeds: RuntimeError" in section
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nintro\n\n## Analysis\n\nby hand\n", encoding="utf-8")
    run_all.write_markdown(path, section)
    run_all.write_markdown(path, section.replace("120 ms", "121 ms"))  # replaced, not added
    text = path.read_text(encoding="utf-8")
    assert text.count(run_all.BEGIN) == 1
    assert "121 ms" in text
    assert "120 ms |" not in text
    assert "intro" in text
    assert "by hand" in text
    saved = tmp_path / "figures.json"
    harness.save(saved, figures)
    loaded, _ = harness.load(saved)
    assert [f.met for f in loaded] == [f.met for f in figures]


def test_peak_memory_is_the_process_own_not_the_benchmark_s() -> None:
    """A child started straight from a big process reports that process's peak RSS (Linux
    carries the high-water mark over exec); the launcher keeps the figure the child's own."""
    import sys

    ballast = bytearray(400 * 1024 * 1024)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touch every page: it is resident
    seconds, small, output = bench_deadlines.measured_process(
        [sys.executable, "-c", "print('ok')"], timeout=60
    )
    assert output == "ok\n"
    assert 0 < seconds < 30
    assert small < 100  # a bare interpreter, not the 400 MB of this test process
    _, grown, _ = bench_deadlines.measured_process(
        [sys.executable, "-c", "b = bytearray(150 << 20); b[::4096] = b'1' * len(b[::4096])"],
        timeout=60,
    )
    assert 150 < grown < 400
    del ballast


def test_engine_figures_at_a_tiny_size(postgres: Server) -> None:
    from benchmarks import bench_engines

    figures = bench_engines.measure(12, runs=1, pg_url=postgres.create_empty_database())
    labels = [f.label for f in figures]
    assert "spo due (one officer) on postgresql" in labels
    assert "spo show SUBJECT: PostgreSQL / SQLite" in labels
    ratios = [f for f in figures if f.unit == "x"]
    assert len(ratios) == 4
    assert all(f.samples[0] > 0 and f.target == ("<=", 1.5) for f in ratios)
