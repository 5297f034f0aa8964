"""Whole-process timings of the deadline engine's commands at realistic caseload sizes.

    .venv/bin/python -m benchmarks.bench_deadlines [--sizes 300,10000] [--runs 5]

For each size: generate a fictional caseload (``benchmarks.generate``), ``spo init`` and
``spo import`` it into a fresh SQLite file (the import is timed once), then time each command
as a user runs it — a new ``spo`` process each time, wall clock, one warm-up run and then
``--runs`` measured runs (median, min, max):

- ``spo --help`` (start-up);
- ``spo due --all --json --as-of 2026-11-23`` and ``spo due --officer OM --as-of ...``;
- ``spo recompute --all`` (full recompute, reported as subjects/s);
- ``spo visit add SUBJECT --date 2026-11-20`` (a write that recomputes that one subject).

The table is printed and written into BENCHMARKS.md between the ``bench_deadlines`` markers
(the rest of the file is left alone), with the machine and the exact command. A size whose
import is estimated (from the previous size) to exceed ``--max-step`` seconds is skipped, and
every process is killed at ``--max-step``. ``--profile DIR`` also runs each step once under
cProfile and writes ``.prof`` files with a top-functions summary next to them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import pstats
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spo_tracker import domain as d

from . import generate

AS_OF = "2026-11-23"
VISIT_DATE = "2026-11-20"
NATIONAL = generate.SIZES["national"]
ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN bench_deadlines results (generated: edit benchmarks/bench_deadlines.py) -->"
END = "<!-- END bench_deadlines results -->"


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[float, int], bool]  # (median seconds, subjects) -> met?


TARGETS = {
    "help": Target("≤ 150 ms", lambda s, _n: s <= 0.150),
    "due-all": Target("≤ 0.19 s at 10,000", lambda s, _n: s <= 0.19),
    "due-officer": Target("≤ 0.19 s at 10,000", lambda s, _n: s <= 0.19),
    "recompute": Target("≥ 5,000 subjects/s", lambda s, n: n / s >= 5000),
    "visit-add": Target("≤ 50 ms", lambda s, _n: s <= 0.050),
}


# ------------------------------------------------------------------------------ results


@dataclass
class Step:
    key: str
    label: str
    argv: list[str]
    times: list[float] = field(default_factory=list)
    note: str = ""
    skipped: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)


@dataclass
class SizeResult:
    subjects: int
    officers: int = 0
    generate_s: float = 0.0
    json_mb: float = 0.0
    import_s: float | None = None
    db_mb: float = 0.0
    officer: str = ""
    officer_subjects: int = 0
    subject: str = ""
    actions: int = 0
    steps: list[Step] = field(default_factory=list)
    skipped: str = ""


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def verdict(step: Step, subjects: int) -> str:
    target = TARGETS.get(step.key)
    if target is None or not step.times:
        return ""
    return "meets" if target.met(step.median, subjects) else "**misses**"


# ------------------------------------------------------------------------------ running spo


def spo_executable() -> str:
    beside = Path(sys.executable).parent / "spo"
    found = str(beside) if beside.exists() else shutil.which("spo")
    if not found:
        raise SystemExit("no spo executable: run from the project's venv (.venv/bin/python)")
    return found


def clean_env(pycache: Path | None) -> dict[str, str]:
    """The user's environment without spo settings that would change what is measured.

    With ``pycache``, bytecode is cached there (``PYTHONPYCACHEPREFIX``) even if the caller's
    environment disables it (``PYTHONDONTWRITEBYTECODE``): an installed spo has its bytecode
    compiled, so recompiling every module in every process would not be what users see.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SPO_DB", "SPO_POLICY", "SPO_UNALLOCATED_OFFICER", "COLUMNS"}
    }
    env["SPO_USER"] = "benchmark"
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


ENV: dict[str, str] = clean_env(None)  # set by main()


def run_once(argv: Sequence[str], *, timeout: float, capture: bool = False) -> tuple[float, str]:
    """Run a whole process; returns (wall seconds, stdout if captured)."""
    started = time.perf_counter()
    done = subprocess.run(
        list(argv),
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}"
        )
    return elapsed, done.stdout.decode() if capture else ""


def measure(step: Step, *, runs: int, timeout: float) -> str:
    """One warm-up run (its output returned), then ``runs`` timed runs within the budget."""
    try:
        warm, output = run_once(step.argv, timeout=timeout, capture=True)
    except subprocess.TimeoutExpired:
        step.skipped = f"timed out after {timeout:.0f} s"
        return ""
    runs = max(1, min(runs, int(timeout // max(warm, 1e-3))))
    for _ in range(runs):
        step.times.append(run_once(step.argv, timeout=timeout)[0])
    return output


def profile_step(step: Step, folder: Path, timeout: float) -> None:
    """Run the step once under cProfile; write NAME.prof and NAME.txt (top functions)."""
    prof = folder / f"{step.key}.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "benchmarks.spo_main"]
    argv += step.argv[1:]
    subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV | {"PYTHONPATH": str(ROOT)},
        timeout=timeout,
        check=False,
    )
    if not prof.exists():
        return
    with (folder / f"{step.key}.txt").open("w", encoding="utf-8") as fh:
        stats = pstats.Stats(str(prof), stream=fh)
        stats.strip_dirs().sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)


# ------------------------------------------------------------------------------ one size


def bench_size(
    n: int, *, seed: int, runs: int, timeout: float, workdir: Path, profile: Path | None
) -> SizeResult:
    result = SizeResult(subjects=n)
    spo = spo_executable()
    started = time.perf_counter()
    officers, subjects = generate.build_caseload(n, seed)
    path = workdir / f"caseload-{n}.json"
    size = generate.write_json(path, officers, subjects)
    result.generate_s = time.perf_counter() - started
    result.officers, result.json_mb = len(officers), size / 1e6
    out(f"  generated {len(officers)} officers, {n} subjects in {fmt_time(result.generate_s)}")

    db = workdir / f"bench-{n}.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)  # a --keep folder from an earlier run
    run_once([spo, "--db", str(db), "init"], timeout=timeout)
    try:
        result.import_s, _ = run_once([spo, "--db", str(db), "import", str(path)], timeout=timeout)
    except subprocess.TimeoutExpired:
        result.skipped = f"import timed out after {timeout:.0f} s"
        return result
    result.db_mb = db.stat().st_size / 1e6
    out(f"  imported in {fmt_time(result.import_s)} ({n / result.import_s:,.0f} subjects/s)")

    # One offender manager (the first of the first team) and one subject under an order in
    # force, in the area, with visits: the typical target of a visit.
    om = next(o for o in officers if o.role is d.Role.OFFENDER_MANAGER)
    result.officer = om.email
    result.officer_subjects = sum(1 for s in subjects if s.current_officer() == om.email)
    result.subject = next(
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
    base = [spo, "--db", str(db)]
    result.steps = [
        Step("python", "python start-up (floor)", [sys.executable, "-c", "pass"]),
        Step("help", "spo --help", [spo, "--help"]),
        Step(
            "due-all", "spo due --all --json", [*base, "due", "--all", "--json", "--as-of", AS_OF]
        ),
        Step(
            "due-officer",
            "spo due --officer OM",
            [*base, "due", "--officer", om.email, "--as-of", AS_OF],
        ),
        Step("recompute", "spo recompute --all", [*base, "recompute", "--all"]),
        Step(
            "visit-add",
            "spo visit add (1 subject)",
            [*base, "visit", "add", result.subject, "--date", VISIT_DATE],
        ),
    ]
    for step in result.steps:
        output = measure(step, runs=runs, timeout=timeout)
        if step.key == "due-all" and output:
            result.actions = len(json.loads(output)["actions"])
            step.note = f"{result.actions:,} actions listed"
        elif step.key == "due-officer":
            step.note = f"{result.officer_subjects} subjects on the caseload"
        elif step.key == "recompute" and step.times:
            found = re.search(r"(\d+) change", output)
            rate = n / step.median
            step.note = f"{rate:,.0f} subjects/s" + (f"; {found.group(1)} changes" if found else "")
        elif step.key == "visit-add":
            step.note = f"{result.subject}"
        shown = f"{fmt_time(step.median)}" if step.times else step.skipped
        out(f"  {step.label:<28} {shown:>10}  {step.note}  {verdict(step, n)}")
    if profile is not None:
        folder = profile / str(n)
        folder.mkdir(parents=True, exist_ok=True)
        for step in result.steps[1:]:
            profile_step(step, folder, timeout)
        fresh = workdir / f"profile-{n}.db"
        fresh.unlink(missing_ok=True)
        run_once([spo, "--db", str(fresh), "init"], timeout=timeout)
        profile_step(
            Step("import", "", [spo, "--db", str(fresh), "import", str(path)]), folder, timeout
        )
        out(f"  profiles in {folder}")
    return result


# ------------------------------------------------------------------------------ report


def machine() -> dict[str, str]:
    def command(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    memory = "?"
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        found = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
        cpu = found.group(1).strip() if found else "?"
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
        kb = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE)
        memory = f"{int(kb.group(1)) / 1024 / 1024:.1f} GiB" if kb else "?"
    except OSError:
        pass
    from spo_tracker import __version__

    return {
        "uname -a": command("uname", "-a"),
        "nproc": command("nproc") or str(os.cpu_count()),
        "CPU": cpu,
        "memory": memory,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite": sqlite3.sqlite_version,
        "spo-tracker": __version__,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(
    results: list[SizeResult], command: str, runs: int, when: str, info: dict[str, str]
) -> str:
    lines = [
        BEGIN,
        "",
        f"Measured {when} with:",
        "",
        "```sh",
        command,
        "```",
        "",
        "| machine | |",
        "|---|---|",
    ]
    lines += [f"| {k} | `{v}` |" for k, v in info.items()]
    lines += [
        "",
        f"Wall-clock time of a whole `spo` process (fresh interpreter each time), median of "
        f"{runs} runs after one warm-up run, min and max alongside; SQLite file on local disk.",
        "",
    ]
    for r in results:
        lines.append(f"### {r.subjects:,} subjects")
        lines.append("")
        if r.skipped:
            lines += [f"Skipped: {r.skipped}.", ""]
            continue
        assert r.import_s is not None
        lines += [
            f"{r.officers:,} officers; caseload generated and written in "
            f"{fmt_time(r.generate_s)} ({r.json_mb:.1f} MB of JSON); `spo import` (one run, "
            f"includes validation and the recompute of every subject) "
            f"**{fmt_time(r.import_s)}** ({r.subjects / r.import_s:,.0f} subjects/s); database "
            f"{r.db_mb:.0f} MB; {r.actions:,} actions open or due within 14 days on {AS_OF}. "
            f"`OM` = `{r.officer}`.",
            "",
            "| step | median | min - max | runs | notes | target | verdict |",
            "|---|---:|---:|---:|---|---|---|",
        ]
        for s in r.steps:
            target = TARGETS.get(s.key)
            if s.times:
                span = f"{fmt_time(min(s.times))} - {fmt_time(max(s.times))}"
                lines.append(
                    f"| `{s.label}` | {fmt_time(s.median)} | {span} | {len(s.times)} | "
                    f"{s.note} | {target.text if target else ''} | {verdict(s, r.subjects)} |"
                )
            else:
                lines.append(f"| `{s.label}` | - | - | 0 | {s.skipped} | | |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_markdown(path: Path, section: str) -> None:
    """Replace the marked section of ``path`` (create the file, or append the section)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end != -1:
        text = text[:start] + section + text[end + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_deadlines",
        description="Time spo's deadline commands at realistic caseload sizes.",
    )
    parser.add_argument(
        "--sizes",
        default="300,10000",
        help="comma-separated subject counts or names (force=300, national=10000, "
        "stress=100000); default 300,10000",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per step (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-step",
        type=float,
        default=600,
        help="seconds: kill a process after this, and skip a size whose import is estimated "
        "to take longer (default 600)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="Markdown file whose marked section is replaced (default BENCHMARKS.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--results-json", type=Path, help="also write the raw results here")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write cProfile output here")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the databases here")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run spo with the inherited environment even if it disables .pyc caching",
    )
    args = parser.parse_args(argv)
    # On SIGTERM, unwind like Ctrl-C so subprocess.run kills the spo process it is waiting on.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [generate.parse_size(s.strip()) for s in args.sizes.split(",") if s.strip()]
    command = "python -m benchmarks.bench_deadlines " + shlex.join(
        sys.argv[1:] if argv is None else list(argv)
    )
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()

    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="spo-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        ENV.clear()
        ENV.update(clean_env(None if args.no_bytecode_cache else workdir / "pycache"))
        info["bytecode cache"] = (
            "off (as inherited)"
            if args.no_bytecode_cache
            else "on (PYTHONPYCACHEPREFIX in the work folder; warm-up runs fill it)"
        )
        for n in sizes:
            out(f"{n:,} subjects")
            previous = next((r for r in reversed(results) if r.import_s), None)
            if previous is not None and previous.import_s is not None:
                estimate = previous.import_s * n / previous.subjects
                if estimate > args.max_step:
                    reason = (
                        f"import estimated at {estimate / 60:.0f} min from the "
                        f"{previous.subjects:,}-subject run, over the {args.max_step:.0f} s limit"
                    )
                    out(f"  skipped: {reason}")
                    results.append(SizeResult(subjects=n, skipped=reason))
                    continue
            results.append(
                bench_size(
                    n,
                    seed=args.seed,
                    runs=args.runs,
                    timeout=args.max_step,
                    workdir=workdir,
                    profile=args.profile,
                )
            )
    section = report(results, command, args.runs, when, info)
    out()
    out(section)
    if not args.no_write:
        write_markdown(args.output, section)
        out(f"\nwritten to {args.output}")
    if args.results_json:
        args.results_json.write_text(
            json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
