"""What the access log costs: ``spo show`` and ``spo due`` at national size with every
consultation logged and chained, against the same commands of an earlier spo that logs
nothing, in the same run; and how fast the log grows.

    .venv/bin/python -m benchmarks.bench_access --before OTHER/.venv/bin/spo [--size national]

``--before`` is the ``spo`` of a checkout from before the access log (its own virtualenv:
``git worktree add /tmp/before 60cda65`` and ``pip install -e .`` there). Both import the
same generated caseload into databases of their own; the commands are then run in turn, one
of each, so both meet the same machine load. Each figure is the median of ``--runs`` whole
processes after a warm-up. Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import generate, harness

AS_OF = "2026-11-23"
# consultations per officer per working day assumed for the growth estimate (spo due, spo
# show or explain of a few subjects, a plan): an estimate, not a measurement
READS_PER_OFFICER_DAY = 20
WORKING_DAYS = 250
_MACHINE = ("CPU", "cores (nproc)", "memory")


def _import(spo: str, db: Path, document: Path, env: dict[str, str]) -> None:
    for args in (["init"], ["import", str(document)]):
        done = subprocess.run(
            [spo, "--db", str(db), *args], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"{spo} {' '.join(args)} failed: {done.stderr[-2000:]}")


def _median_ms(times: Sequence[float]) -> float:
    return statistics.median(times) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the spo executable to compare with")
    parser.add_argument("--size", type=generate.parse_size, default=generate.SIZES["national"])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    after = harness.spo_executable()
    with tempfile.TemporaryDirectory(prefix="spo-bench-access-") as folder:
        work = Path(folder)
        env = harness.clean_env(work / "pycache")
        officers, subjects = generate.build_caseload(args.size, args.seed)
        scu = next(o.email for o in officers if o.role.value == "scu")
        manager = next(o for o in officers if o.role.value == "offender-manager")
        mine = [s for s in subjects if s.current_officer() == manager.email]
        subject = mine[0].reference
        document = work / "caseload.json"
        generate.write_json(document, officers, subjects)
        dbs = {"before": work / "before.db", "after": work / "after.db"}
        _import(args.before, dbs["before"], document, {**env, "SPO_USER": scu})
        _import(after, dbs["after"], document, {**env, "SPO_USER": scu})
        commands = {
            "spo show SUBJECT": ["show", subject],
            "spo due (an offender manager's)": ["due", "--as-of", AS_OF],
        }
        spo = {"before": args.before, "after": after}
        times: dict[tuple[str, str], list[float]] = {}
        for label, command in commands.items():
            for _ in range(args.runs + 1):  # the first of each is the warm-up, dropped below
                for version in ("before", "after"):
                    argv_ = [spo[version], "--db", str(dbs[version]), *command]
                    seconds, _ = harness.run_once(argv_, env={**env, "SPO_USER": manager.email})
                    times.setdefault((label, version), []).append(seconds)
        with sqlite3.connect(dbs["after"]) as conn:
            rows, size = conn.execute(
                "SELECT count(*), sum(length(at) + length(actor) + length(operation) + "
                "length(what) + length(purpose) + length(subjects) + length(recipients) + "
                "length(detail) + length(hash) + 8) FROM access_log WHERE operation = "
                "'consultation'"
            ).fetchone()
        per_row = size / rows if rows else 0.0
        n_officers = len(officers)
        yearly_rows = n_officers * READS_PER_OFFICER_DAY * WORKING_DAYS
    machine = harness.machine()
    load = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
    lines = [
        "### The access log's cost",
        "",
        f"`python -m benchmarks.bench_access --before BEFORE/.venv/bin/spo --size {args.size}`,",
        f"{args.runs} runs each after a warm-up, the two versions in turn; BEFORE is commit",
        "60cda65 (no access log). Machine: "
        + ", ".join(
            f"{k} {v}" for k, v in machine.items() if k in ("CPU", "cores (nproc)", "memory")
        ),
        f"; load average {' '.join(load)} at the end; {args.size:,} subjects, {n_officers} "
        "officers, acting as an offender manager with access control on.",
        "",
        "| command | before (ms) | with the access log (ms) | change (median of paired runs) |",
        "|---|---:|---:|---:|",
    ]
    for label in commands:
        before_runs, after_runs = times[(label, "before")][1:], times[(label, "after")][1:]
        b, a = _median_ms(before_runs), _median_ms(after_runs)
        # each run of one version beside the run of the other made just before it: the
        # median of those ratios, less moved by the machine's load than either median
        paired = statistics.median(x / y for x, y in zip(after_runs, before_runs, strict=True))
        lines.append(f"| `{label}` | {b:.0f} | {a:.0f} | {100 * (paired - 1):+.1f}% |")
    lines += [
        "",
        f"A consultation row takes about {per_row:.0f} bytes of data (the subjects it names, "
        "its purpose, its hash; more for lists). At "
        f"{READS_PER_OFFICER_DAY} reads per officer per working day (an estimate) and "
        f"{n_officers} officers that is about {yearly_rows:,} rows and "
        f"{yearly_rows * per_row / 1e6:.0f} MB a year before indexes, plus one row per email "
        "sent and per write.",
    ]
    harness.out("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
