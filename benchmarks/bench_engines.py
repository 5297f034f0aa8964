"""Reads on PostgreSQL against the same reads on SQLite, on the same caseload.

    .venv/bin/python -m benchmarks.bench_engines [--subjects 300] [--runs 15] [--pg-url URL]

One generated caseload (``benchmarks.generate``) is imported into a fresh SQLite file and a
fresh PostgreSQL database: a server given with ``--pg-url`` (an empty database spo may
migrate), else a throwaway one started from the machine's binaries (``initdb``/``pg_ctl``, as
the test suite starts it). Then each read command an officer types runs as a whole process,
alternating between the engines run by run, so that load on the machine falls on both alike;
a warm-up run of each first. The PostgreSQL database is vacuumed and analysed after the
import (``settle``: what autovacuum would do within minutes). Each figure is the median; the
ratio is PostgreSQL's median over SQLite's, held to the 1.5x target of issue 19.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import generate, harness
from .harness import Figure, out

AS_OF = "2026-11-23"
TARGET = 1.5


@contextlib.contextmanager
def postgres_url(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    sys.path.insert(0, str(harness.ROOT))
    from tests.support.postgres import running_server

    with running_server() as server:
        yield server.create_empty_database()


def load(db: str, path: Path, timeout: float) -> None:
    spo = harness.spo_executable()
    harness.run_once([spo, "--db", db, "init"], timeout=timeout)
    harness.run_once([spo, "--db", db, "import", str(path)], timeout=timeout)


def settle(url: str) -> None:
    """What autovacuum does within a minute or two of a bulk load, done now: statistics for
    the planner and the visibility map, so that the reads are timed on a database in its
    steady state rather than on one whose first reads set every row's hint bits."""
    import psycopg2

    from spo_tracker.store.schema import libpq_url

    conn = psycopg2.connect(libpq_url(url))
    try:
        conn.autocommit = True  # VACUUM runs outside a transaction
        with conn.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    finally:
        conn.close()


def commands(officer: str, subject: str) -> list[tuple[str, list[str]]]:
    return [
        ("spo due (one officer)", ["--as", officer, "due", "--as-of", AS_OF]),
        ("spo due --all", ["due", "--all", "--as-of", AS_OF]),
        ("spo due --all --json", ["due", "--all", "--json", "--as-of", AS_OF]),
        ("spo show SUBJECT", ["show", subject]),
    ]


def measure(
    subjects: int, *, runs: int, pg_url: str | None, seed: int = 1, timeout: float = 600
) -> list[Figure]:
    spo = harness.spo_executable()
    officers, people = generate.build_caseload(subjects, seed)
    om = next(o.email for o in officers if o.role.value == "offender-manager")
    subject = next(s.reference for s in people if s.visits)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="spo-engines-") as folder, postgres_url(pg_url) as pg:
        path = Path(folder) / "caseload.json"
        generate.write_json(path, officers, people)
        sqlite = str(Path(folder) / "bench.db")
        for db in (sqlite, pg):
            load(db, path, timeout)
        settle(pg)
        for label, args in commands(om, subject):
            outputs = {}
            for name, db in (("sqlite", sqlite), ("postgresql", pg)):
                _, outputs[name] = harness.run_once(
                    [spo, "--db", db, *args], timeout=timeout, capture=True
                )
            if outputs["sqlite"] != outputs["postgresql"]:
                raise RuntimeError(f"{label}: the engines print different output")
            samples: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            for _ in range(runs):
                for name, db in (("sqlite", sqlite), ("postgresql", pg)):
                    seconds, _ = harness.run_once([spo, "--db", db, *args], timeout=timeout)
                    samples[name].append(seconds)
            for name in ("sqlite", "postgresql"):
                figures.append(
                    Figure("engines", f"{label} on {name}", "s", samples[name], size=subjects)
                )
            ratio = statistics.median(samples["postgresql"]) / statistics.median(samples["sqlite"])
            figures.append(
                Figure(
                    "engines",
                    f"{label}: PostgreSQL / SQLite",
                    "x",
                    [ratio],
                    size=subjects,
                    target=("<=", TARGET),
                    target_text=f"≤ {TARGET}x",
                )
            )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=generate.SIZES["force"])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pg-url", metavar="URL", help="an empty PostgreSQL database to use")
    args = parser.parse_args(argv)
    harness.use_env(harness.clean_env(Path(tempfile.mkdtemp(prefix="spo-pycache-"))))
    figures = measure(args.subjects, runs=args.runs, pg_url=args.pg_url)
    out(f"{args.subjects:,} subjects, {args.runs} runs each, engines alternating")
    for figure in figures:
        spread = ""
        if figure.unit == "s":
            spread = (
                f"  (range {min(figure.samples) * 1000:.0f}-{max(figure.samples) * 1000:.0f} ms)"
            )
            value = f"{figure.median * 1000:.0f} ms"
        else:
            value = f"{figure.median:.2f}x  target {figure.target_text}: " + (
                "met" if figure.met else "MISSED"
            )
        out(f"  {figure.label:<45} {value}{spread}")
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
