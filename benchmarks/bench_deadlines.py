"""The caseload benchmarks: start-up, ``spo due``, recompute, the sweep and memory, per size.

    .venv/bin/python -m benchmarks.bench_deadlines [--sizes 300,10000] [--runs 5]

For each size: generate a fictional caseload (``benchmarks.generate``), ``spo init`` and
``spo import`` it into a fresh SQLite file (timed once), then measure as a user meets it:

- whole processes (a fresh interpreter each time, one warm-up run, then ``--runs`` runs):
  ``spo --help``; ``spo due --officer OM`` (what an offender manager runs) and
  ``spo due --all --json``; ``spo recompute --all`` (subjects/s); ``spo visit add`` (a write,
  which recomputes its subject before it commits);
- in-process: the incremental recompute of one subject after recording one visit, and the
  sweep that queues reminders (each in a transaction that is rolled back, so every run sees
  the same database);
- peak resident memory (``ru_maxrss`` of each process, read with ``wait4``) of the commands
  above; the figure held to the memory target is the largest of them.

``benchmarks.run_all`` (``scripts/bench``) runs this with the other benchmarks and writes
BENCHMARKS.md; run alone, it prints the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spo_tracker.core import record as d

from . import generate, harness
from .harness import Figure, out

AS_OF = "2026-11-23"
VISIT_DATE = "2026-11-20"
SWEEP_AT = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
LONG_STEP = 20.0  # seconds: a process this slow is run once, not warmed up and repeated


class Rollback(Exception):
    """Raised to end a measured transaction without committing it."""


@dataclass
class Loaded:
    """A size generated and imported: where it is and what it holds."""

    subjects: int
    db: Path
    officers: int = 0
    officer: str = ""
    officer_subjects: int = 0
    subject: str = ""
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ processes


# The measured process is started by a small launcher (``python -S``), not by this process. On
# Linux a process's peak RSS (``ru_maxrss``) starts from the high-water mark of the memory it
# replaced at exec: started straight from the benchmark (vfork or fork, then exec), a child
# reports the benchmark's own peak (over 3 GB after generating the stress caseload) whatever
# it used itself. The launcher is ~10 MB, so that is the most a figure can be inflated by.
_LAUNCH = """
import os, sys, time
fd, argv = int(sys.argv[1]), sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.close(fd)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
os.write(fd, f"{elapsed!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}".encode())
"""


def measured_process(argv: Sequence[str], *, timeout: float) -> tuple[float, float, str]:
    """Run a whole process; (wall seconds, peak RSS in MB, stdout). The time is taken around
    the process itself (fork to exit), not around the launcher."""
    read_end, write_end = os.pipe()
    try:
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-c", _LAUNCH, str(write_end), *argv],
                stdout=stdout,
                stderr=stderr,
                env=harness.ENV,
                pass_fds=(write_end,),
                start_new_session=True,  # its own process group: a timeout kills both
            )
            os.close(write_end)
            write_end = -1
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            with os.fdopen(read_end, "rb") as report:
                read_end = -1
                fields = report.read().decode().split()
            if proc.returncode != 0 or len(fields) != 3:
                raise RuntimeError(f"the launcher of {shlex.join(argv)} failed: {fields}")
            elapsed, peak_kb, code = float(fields[0]), int(fields[1]), int(fields[2])
            stdout.seek(0)
            stderr.seek(0)
            if code != 0:
                raise RuntimeError(
                    f"{shlex.join(argv)} exited {code}: {stderr.read().decode()[-2000:]}"
                )
            return elapsed, peak_kb / 1024, stdout.read().decode(errors="replace")
    finally:
        for fd in (read_end, write_end):
            if fd != -1:
                os.close(fd)


def process_figure(
    figure: Figure, argv: Sequence[str], *, runs: int, timeout: float, rss: dict[str, float]
) -> str:
    """Warm-up, then ``runs`` runs (fewer if slow) into ``figure``; returns the warm-up's
    stdout and records the process's peak RSS under the figure's label."""
    try:
        warm, peak, output = measured_process(argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        figure.skipped = f"timed out after {timeout:.0f} s"
        return ""
    if warm > LONG_STEP:  # a warm-up changes nothing for a step this long: it is the run
        figure.samples.append(warm)
        figure.note = (figure.note + "; " if figure.note else "") + "one run (a long step)"
        rss[figure.label] = peak
        return output
    runs = max(1, min(runs, int(timeout // max(warm, 1e-3))))
    for _ in range(runs):
        seconds, run_peak, _ = measured_process(argv, timeout=timeout)
        figure.samples.append(seconds)
        peak = max(peak, run_peak)
    rss[figure.label] = peak
    return output


# ------------------------------------------------------------------------------ a size


def load_size(n: int, *, seed: int, workdir: Path, timeout: float) -> tuple[Loaded, list[Figure]]:
    """Generate and import ``n`` subjects into a fresh SQLite file."""
    spo = harness.spo_executable()
    started = time.perf_counter()
    officers, subjects = generate.build_caseload(n, seed)
    path = workdir / f"caseload-{n}.json"
    size = generate.write_json(path, officers, subjects)
    generated = time.perf_counter() - started
    db = workdir / f"bench-{n}.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    harness.run_once([spo, "--db", str(db), "init"], timeout=timeout)
    imported = Figure("caseload", "spo import (whole caseload, once)", "/s", size=n, per="subjects")
    seconds, peak, _ = measured_process(
        [spo, "--db", str(db), "import", str(path)], timeout=timeout
    )
    imported.samples = [n / seconds]
    imported.note = (
        f"{seconds:.1f} s for {n:,} subjects ({size / 1e6:.0f} MB of JSON, generated in "
        f"{generated:.1f} s); database {db.stat().st_size / 1e6:,.0f} MB; peak RSS {peak:,.0f} MB"
    )
    path.unlink()  # the JSON is large and not needed any more
    import_rss = Figure(
        "caseload",
        "peak RSS of spo import (the whole caseload, one document)",
        "MB",
        size=n,
        samples=[peak],
        note="the document is streamed subject by subject, written in batches of 500",
        **stress_memory_target(n),
    )
    om = next(o for o in officers if o.role is d.Role.OFFENDER_MANAGER)
    loaded = Loaded(subjects=n, db=db, officers=len(officers), officer=om.email)
    loaded.officer_subjects = sum(1 for s in subjects if s.current_officer() == om.email)
    # a subject under an order in force, in the area, with visits: the typical visit target
    loaded.subject = next(
        (
            s.reference
            for s in subjects
            if not s.transfers
            and s.visits
            and any(
                o.status is d.OrderStatus.ACTIVE
                and (o.until_further_order or (o.expires and str(o.expires) > AS_OF))
                for o in s.orders
            )
        ),
        subjects[0].reference,
    )
    return loaded, [imported, import_rss]


def bench_size(
    loaded: Loaded, *, runs: int, timeout: float, full_recompute: bool = True
) -> list[Figure]:
    """Every caseload figure at this size; ``full_recompute=False`` leaves out the one
    figure that takes minutes at stress size (the full run must stay under 30 minutes)."""
    n = loaded.subjects
    spo = harness.spo_executable()
    base = [spo, "--db", str(loaded.db)]
    rss: dict[str, float] = {}
    figures: list[Figure] = []

    def timed(label: str, argv: list[str], **target: object) -> tuple[Figure, str]:
        figure = Figure("caseload", label, "s", size=n, **target)  # type: ignore[arg-type]
        output = process_figure(figure, argv, runs=runs, timeout=timeout, rss=rss)
        figures.append(figure)
        out(f"  {label:<34} {fmt(figure)}")
        return figure, output

    officer, _ = timed(
        "spo due --officer OM",
        [*base, "due", "--officer", loaded.officer, "--as-of", AS_OF],
        **(
            {"target": ("<=", 0.5), "target_text": "≤ 0.5 s at stress size"}
            if n >= generate.SIZES["stress"]
            else read_target(n)
        ),
    )
    officer.note = f"OM = {loaded.officer}, {loaded.officer_subjects} subjects on the caseload"
    listed, output = timed(
        "spo due --all --json", [*base, "due", "--all", "--json", "--as-of", AS_OF]
    )
    if output:
        listed.note = f"{len(json.loads(output)['actions']):,} actions listed"
    plain, output = timed("spo due --all (plain table)", [*base, "due", "--all", "--as-of", AS_OF])
    if output:
        plain.note = f"{max(0, len(output.splitlines()) - 2):,} actions listed"

    for label, argv in read_commands(loaded, base):
        timed(label, argv, **read_target(n))

    recompute = Figure(
        "caseload",
        "spo recompute --all (full recompute)",
        "/s",
        size=n,
        per="subjects",
        target=(">=", 5000.0),
        target_text="≥ 5,000 subjects/s",
    )
    if full_recompute:
        seconds_figure = Figure("caseload", "recompute", "s")
        output = process_figure(
            seconds_figure,
            [*base, "recompute", "--all"],
            runs=max(1, runs // 2),
            timeout=timeout,
            rss=rss,
        )
        recompute.samples = [n / s for s in seconds_figure.samples]
        recompute.skipped = seconds_figure.skipped
        found = re.search(r"(\d+) change", output)
        recompute.note = (
            f"{fmt_seconds(seconds_figure.median)} a run" if seconds_figure.samples else ""
        ) + (f"; {found.group(1)} changes (already up to date)" if found else "")
        rss[recompute.label] = rss.pop("recompute", 0.0)
    else:
        recompute.skipped = (
            "not run at this size: one run takes minutes, and the rate is judged at "
            "national size (see the analysis)"
        )
    figures.append(recompute)
    out(f"  {recompute.label:<34} {fmt(recompute)}")

    visit, _ = timed(
        "spo visit add (a write, whole process)",
        [*base, "visit", "add", loaded.subject, "--date", VISIT_DATE],
        **WRITE_TARGET,
    )
    visit.note = f"{loaded.subject}; includes the recompute of that subject"
    for label, argv in write_commands(loaded, base):
        write, _ = timed(label, argv, **WRITE_TARGET)
        write.note = "includes the recompute of that subject"

    figures.append(incremental_recompute(loaded, runs=max(runs, 5)))
    out(f"  {figures[-1].label:<34} {fmt(figures[-1])}")
    figures.append(sweep_figure(loaded, runs=max(1, min(runs, 3))))
    out(f"  {figures[-1].label:<34} {fmt(figures[-1])}")

    memory = Figure(
        "caseload",
        "peak RSS of any command above",
        "MB",
        size=n,
        samples=[max(rss.values())] if rss else [],
        **stress_memory_target(n),
    )
    worst = max(rss, key=lambda k: rss[k]) if rss else ""
    memory.note = f"largest: {worst}; " + ", ".join(
        f"{k.split(' (')[0]} {v:,.0f}" for k, v in rss.items()
    )
    figures.append(memory)
    out(f"  {memory.label:<34} {fmt(memory)}")
    return figures


#: Every command that only shows (issue: ≤ 300 ms at national size, and at most 1.5 times
#: Taskwarrior's ``task due`` timed in the same run; benchmarks.run_all works out the ratios).
READ_TARGET_S = 0.300
#: The writes: each recomputes its subject before it commits (an aim, not a promise).
WRITE_TARGET: dict[str, object] = {"target": ("<=", 0.400), "target_text": "aim ≤ 400 ms"}
#: The labels of the read figures, for the Taskwarrior ratios.
READ_LABELS = (
    "spo due --officer OM",
    "spo show SUBJECT",
    "spo subject list --officer OM",
    "spo subject list (every subject)",
    "spo officer list",
    "spo plan SUBJECT",
    "spo explain ACTION",
    "spo audit SUBJECT",
    "spo report compliance (a quarter)",
    "spo report compliance (a year)",
    "spo calendar export --officer OM",
)


def read_target(n: int) -> dict[str, object]:
    if n == generate.SIZES["national"]:
        return {"target": ("<=", READ_TARGET_S), "target_text": "≤ 300 ms at national size"}
    return {}


def read_commands(loaded: Loaded, base: list[str]) -> list[tuple[str, list[str]]]:
    """The read commands an officer, a supervisor or the SCU types, as the benchmark runs
    them (each but ``spo due``, which has figures of its own)."""
    action = first_action(loaded.db, loaded.subject)
    return [
        ("spo show SUBJECT", [*base, "show", loaded.subject]),
        ("spo subject list --officer OM", [*base, "subject", "list", "--officer", loaded.officer]),
        ("spo subject list (every subject)", [*base, "subject", "list"]),
        ("spo officer list", [*base, "officer", "list"]),
        ("spo plan SUBJECT", [*base, "plan", loaded.subject, "--as-of", AS_OF]),
        ("spo explain ACTION", [*base, "explain", action, "--as-of", AS_OF]),
        ("spo audit SUBJECT", [*base, "audit", loaded.subject]),
        (
            "spo report compliance (a quarter)",
            [*base, "report", "compliance", "--from", "2026-07-01", "--to", "2026-09-30",
             "--as-of", AS_OF],
        ),
        (
            "spo report compliance (a year)",
            [*base, "report", "compliance", "--from", "2026-01-01", "--to", "2026-12-31",
             "--as-of", AS_OF],
        ),
        (
            "spo calendar export --officer OM",
            [*base, "calendar", "export", "--officer", loaded.officer, "--as-of", AS_OF],
        ),
    ]  # fmt: skip


def write_commands(loaded: Loaded, base: list[str]) -> list[tuple[str, list[str]]]:
    """Writes besides ``spo visit add``: each one run repeatedly on the same subject."""
    return [
        (
            "spo subject update (a write)",
            [*base, "subject", "update", loaded.subject, "--date", VISIT_DATE, "--risk", "high"],
        ),
        (
            "spo smp add (a write)",
            [*base, "smp", "add", loaded.subject, "--date", VISIT_DATE, "--notes", "benchmark"],
        ),
    ]


def first_action(db: Path, subject: str) -> str:
    """One of the subject's action ids (for ``spo explain``)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT id FROM action WHERE subject_ref = ? ORDER BY id LIMIT 1", (subject,)
        ).fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else "000000"


def stress_memory_target(n: int) -> dict[str, object]:
    """The memory target, which is set at stress size."""
    if n < generate.SIZES["stress"]:
        return {}
    return {"target": ("<=", 300.0), "target_text": "≤ 300 MB at stress size"}


def incremental_recompute(loaded: Loaded, *, runs: int) -> Figure:
    """In-process: record a visit, then time ``deadlines.recompute`` of that one subject (what
    every write does before it commits); rolled back after each run."""
    from spo_tracker.app import deadlines
    from spo_tracker.bootstrap import Env
    from spo_tracker.core.clock import FixedClock

    figure = Figure(
        "caseload",
        "incremental recompute (1 subject, in-process)",
        "s",
        size=loaded.subjects,
        target=("<=", 0.050),
        target_text="≤ 50 ms",
        note=f"after recording a visit to {loaded.subject}; function-level, no start-up",
    )
    env = Env(db=str(loaded.db), actor="benchmark", clock=FixedClock(SWEEP_AT))
    for attempt in range(runs + 1):
        try:
            with env.unit_of_work() as store:
                visit = d.Visit(date=dt.date.fromisoformat(VISIT_DATE))
                store.add_child(loaded.subject, None, "visits", visit, action="visit.add")
                started = time.perf_counter()
                deadlines.recompute(env, store, [loaded.subject], cause="visit.add")
                if attempt:  # the first run warms caches
                    figure.samples.append(time.perf_counter() - started)
                raise Rollback
        except Rollback:
            pass
    env.close()
    return figure


def sweep_figure(loaded: Loaded, *, runs: int) -> Figure:
    """In-process: the sweep that finds what is due and queues the emails (no delivery);
    rolled back after each run, so each run queues everything afresh."""
    from spo_tracker.app import notify as service
    from spo_tracker.bootstrap import Env
    from spo_tracker.config import Settings
    from spo_tracker.core.clock import FixedClock

    figure = Figure("caseload", "sweep + outbox enqueue (in-process)", "s", size=loaded.subjects)
    env = Env(db=str(loaded.db), actor="benchmark", clock=FixedClock(SWEEP_AT), settings=Settings())
    queued = 0
    for _ in range(runs):
        try:
            with env.unit_of_work() as store:
                started = time.perf_counter()
                result = service.sweep(env, store, now=SWEEP_AT)
                figure.samples.append(time.perf_counter() - started)
                queued = result.queued
                raise Rollback
        except Rollback:
            pass
        if figure.samples[-1] > LONG_STEP:
            break  # a long step: one run says enough
    env.close()
    figure.note = f"{queued:,} emails queued on {SWEEP_AT:%Y-%m-%d %H:%M} UTC"
    return figure


def start_up(*, runs: int) -> list[Figure]:
    spo = harness.spo_executable()
    floor = Figure("start-up", "python -c pass (the floor)", "s")
    floor.samples, _ = harness.time_process([sys.executable, "-c", "pass"], runs=runs)
    help_ = Figure(
        "start-up", "spo --help (cold start)", "s", target=("<=", 0.150), target_text="≤ 150 ms"
    )
    help_.samples, _ = harness.time_process([spo, "--help"], runs=runs)
    return [floor, help_]


# ------------------------------------------------------------------------------ showing


def fmt_seconds(seconds: float) -> str:
    return harness.show(seconds, "s")


def fmt(figure: Figure) -> str:
    if not figure.samples:
        return f"skipped: {figure.skipped}"
    verdict = {True: "meets", False: "MISSES", None: ""}[figure.met]
    return f"{figure.show(figure.median):>14}  {figure.target_text} {verdict}".rstrip()


# ------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_deadlines",
        description="Time spo's caseload commands at realistic sizes (prints the figures).",
    )
    parser.add_argument("--sizes", default="300", help="comma-separated sizes (default 300)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-step", type=float, default=1200)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the databases here")
    parser.add_argument("--results-json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="spo-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        harness.use_env(harness.clean_env(workdir / "pycache"))
        figures += start_up(runs=args.runs)
        for size in args.sizes.split(","):
            n = generate.parse_size(size.strip())
            out(f"{n:,} subjects")
            loaded, made = load_size(n, seed=args.seed, workdir=workdir, timeout=args.max_step)
            figures += made
            figures += bench_size(loaded, runs=args.runs, timeout=args.max_step)
    if args.results_json:
        harness.save(args.results_json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
