"""The peer benchmark: ``spo due`` against Taskwarrior's ``task due`` on the same items.

    .venv/bin/python -m benchmarks.bench_peer --subjects 10000 [--runs 5]
    .venv/bin/python -m benchmarks.bench_peer --db existing.db

The pending items of an spo database (its open actions: each has a due date) are read
straight from the SQLite file and loaded into a fresh, isolated Taskwarrior data directory as
the same number of pending tasks, with the same due dates and descriptions. Then both tools
are timed as a user runs them, a whole process each time, writing to a pipe: one warm-up run
and ``--runs`` measured runs (``benchmarks.harness.time_process``). The target: ``spo due
--all`` at national size no slower than ``task due`` (ratio of medians ≤ 1.0).

What ``task due`` is. Taskwarrior 2.6 has no report called ``due``: ``task due`` runs the
default command, the ``next`` report ("most urgent tasks": ``status:pending -WAITING
limit:page``, sorted by urgency), with the bare word ``due`` as a filter, which keeps the
tasks that have a due date. So it loads every task, filters, computes every task's urgency
and sorts them all, then prints one page: to a pipe, ``defaultheight`` (24) lines, i.e. 17
tasks and "N tasks, truncated to 17 lines". ``due=7`` (the days within which a task counts
as due) only changes urgency and colour, not which tasks the command selects. ``spo due
--all`` prints every action overdue or due within 14 days. Both figures are kept as the
tools ship; ``task due limit:0`` (every row printed) is timed beside them for information.

Taskwarrior's configuration (a generated ``.taskrc``, chosen with ``TASKRC``; the data
directory with ``TASKDATA``): everything at its default except

- ``data.location``: the benchmark's own directory, so the user's tasks are never touched;
- ``confirmation=off``: no prompt can block a run (the timed commands never ask anyway);
- ``news.version``: set to the installed release, so the "Recently upgraded ... run 'task
  news'" notice a brand-new configuration gets is not printed on every run (a real user has
  read it once).

``verbose`` stays at its default (header, footer with the task count, "override" notices on
stderr): that is what a user sees, and the footer tells how many tasks matched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import generate, harness
from .harness import Figure, out, run_once, spo_executable, time_process

AS_OF = "2026-11-23"
NATIONAL = 10_000  # subjects: the size the ratio's target is set at
GROUP = "peer"
#: the days ``spo due`` looks ahead by default (overdue plus due within 14 days)
SPO_WITHIN = 14
UUID_NAMESPACE = uuid.UUID("6f2b8f7e-4b1a-4d7e-9a57-5e0c2d3b7a11")


# ------------------------------------------------------------------------------ Taskwarrior


def task_version(task: str) -> str:
    done = subprocess.run([task, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def ensure_taskwarrior() -> str:
    """The ``task`` executable; installed with apt-get (Debian package ``taskwarrior``) if
    missing. Raises SystemExit if it is missing and cannot be installed."""
    found = shutil.which("task")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise SystemExit(
            "bench_peer: Taskwarrior (`task`) is not installed and there is no apt-get to "
            "install it with: install Taskwarrior 2.6 (Debian package `taskwarrior`) first"
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            raise SystemExit(
                "bench_peer: Taskwarrior (`task`) is not installed, and installing it needs "
                "root but there is no sudo: run `apt-get install -y taskwarrior` as root"
            )
        # without a terminal to type a password on, fail at once rather than hang
        prefix = [sudo] if sys.stdin.isatty() else [sudo, "-n"]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, apt, "install", "-y", "taskwarrior"]
    out("Taskwarrior is not installed: " + shlex.join(install))
    done = subprocess.run(install, env=env, check=False)
    if done.returncode != 0:
        # a fresh machine may not have its package lists yet
        out("install failed; updating the package lists and trying again")
        subprocess.run([*prefix, apt, "update"], env=env, check=False)
        done = subprocess.run(install, env=env, check=False)
    found = shutil.which("task")
    if done.returncode != 0 or not found:
        raise SystemExit(
            f"bench_peer: could not install Taskwarrior: `{shlex.join(install)}` exited "
            f"{done.returncode}{'' if found else ' and no `task` is on PATH'}; install the "
            "Debian package `taskwarrior` by hand and run again"
        )
    return found


def taskwarrior_dir(workdir: Path) -> Path:
    return workdir / "taskwarrior"


def task_env(workdir: Path) -> dict[str, str]:
    """The benchmark's environment with Taskwarrior pointed at the generated files."""
    home = taskwarrior_dir(workdir)
    return harness.ENV | {"TASKRC": str(home / "taskrc"), "TASKDATA": str(home / "data")}


# ------------------------------------------------------------------------------ the items


@dataclass(frozen=True)
class Item:
    """One pending item: an open action, with its due date."""

    id: str
    subject: str
    order: str | None
    title: str
    due: dt.date

    @property
    def description(self) -> str:
        return " ".join(p for p in (self.title, self.subject, self.order) if p)


def read_items(db: Path) -> list[Item]:
    """The open actions of an spo SQLite database (every one has a due date), by due date."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT id, subject_ref, order_ref, rule, explanation, due FROM action "
            "WHERE state = 'open' AND due IS NOT NULL ORDER BY due, id"
        ).fetchall()
    finally:
        conn.close()
    items = []
    for action, subject, order, rule, explanation, due in rows:
        title = str(json.loads(explanation or "{}").get("title") or rule)
        items.append(Item(action, subject, order, title, dt.date.fromisoformat(due)))
    return items


def subject_count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM subject").fetchone()[0])
    finally:
        conn.close()


# ------------------------------------------------------------------------------ loading


def _f4(value: str) -> str:
    """A string attribute as Taskwarrior 2.6 writes it in ``pending.data`` (``composeF4``:
    JSON-escaped, then ``[``/``]`` as ``&open;``/``&close;``)."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    return escaped.replace("[", "&open;").replace("]", "&close;")


def _epoch(day: dt.date) -> int:
    """Local midnight of ``day``, as Taskwarrior stores ``due:DAY``."""
    return int(dt.datetime.combine(day, dt.time()).timestamp())


def load_taskwarrior(task: str, items: Sequence[Item], workdir: Path, shift: dt.timedelta) -> str:
    """A fresh Taskwarrior with one pending task per item, due ``item.due + shift``.

    Taskwarrior 2.x: ``pending.data`` is written directly, one ``[name:"value" ...]`` line a
    task with the attributes in name order, as Taskwarrior writes it (``task import`` of 20,000
    tasks is slow); the load is then checked by Taskwarrior itself (``task count``, and the
    first task's description and due date read back). Any other major version (3.x keeps its
    tasks in SQLite): ``task import`` of a JSON file. Returns the load method.
    """
    home = taskwarrior_dir(workdir)
    if home.exists():
        shutil.rmtree(home)
    data = home / "data"
    data.mkdir(parents=True)
    version = task_version(task)
    news = re.match(r"(\d+)\.(\d+)", version)
    lines = [
        "# generated by benchmarks/bench_peer.py: Taskwarrior's defaults, except",
        f"data.location={data}",
        "confirmation=off",
    ]
    if news:
        lines.append(f"news.version={news.group(1)}.{news.group(2)}.0")
    (home / "taskrc").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = task_env(workdir)
    now = int(time.time())
    if version.startswith("2."):
        method = "pending.data written directly"
        with (data / "pending.data").open("w", encoding="utf-8") as fh:
            for item in items:
                attrs = {
                    "description": _f4(item.description),
                    "due": str(_epoch(item.due + shift)),
                    "entry": str(now),
                    "modified": str(now),
                    "status": "pending",
                    "uuid": str(uuid.uuid5(UUID_NAMESPACE, item.id)),
                }
                fh.write("[" + " ".join(f'{k}:"{v}"' for k, v in sorted(attrs.items())) + "]\n")
        (data / "completed.data").touch()
    else:
        method = "task import"
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        tasks = [
            {
                "description": item.description,
                "due": dt.datetime.fromtimestamp(_epoch(item.due + shift), dt.UTC).strftime(
                    "%Y%m%dT%H%M%SZ"
                ),
                "entry": stamp,
                "modified": stamp,
                "status": "pending",
                "uuid": str(uuid.uuid5(UUID_NAMESPACE, item.id)),
            }
            for item in items
        ]
        path = home / "import.json"
        path.write_text(json.dumps(tasks), encoding="utf-8")
        run_once([task, "rc.verbose=nothing", "import", str(path)], timeout=3600, env=env)

    count = pending_count(task, workdir)
    if count != len(items):
        raise RuntimeError(
            f"Taskwarrior counts {count} pending tasks after loading {len(items)} items"
        )
    if items and method.startswith("pending.data"):
        argv = [task, "rc.verbose=nothing", "_get", "1.description", "1.due"]
        _, got = run_once(argv, capture=True, env=env)
        first = items[0]
        want = f"{first.description} {(first.due + shift).isoformat()}T00:00:00"
        if got.strip() != want:
            raise RuntimeError(f"Taskwarrior reads task 1 back as {got.strip()!r}, not {want!r}")
    return method


def pending_count(task: str, workdir: Path, *filters: str) -> int:
    argv = [task, "rc.verbose=nothing", "count", "status:pending", *filters]
    _, output = run_once(argv, capture=True, env=task_env(workdir))
    return int(output.strip())


# ------------------------------------------------------------------------------ the run


def _matched(output: str) -> tuple[int | None, int]:
    """(tasks matched, per Taskwarrior's footer; task rows printed) of a report's output."""
    found = re.search(r"^(\d+) tasks?\b", output, re.MULTILINE)
    rows = sum(
        1
        for line in output.splitlines()
        if re.match(r"\s*\d+\s", line) and not re.match(r"\d+ tasks?\b", line)
    )
    return (int(found.group(1)) if found else None), rows


def run(*, db: Path, size: int, workdir: Path, runs: int, as_of: str = AS_OF) -> list[Figure]:
    """Load Taskwarrior with ``db``'s pending items and time ``task due`` against ``spo due``.

    ``db`` is an spo SQLite file already loaded with ``size`` subjects; Taskwarrior's files go
    in ``workdir``. Raises if the load or any check fails.
    """
    task = ensure_taskwarrior()
    spo = spo_executable()
    items = read_items(db)
    day = dt.date.fromisoformat(as_of)
    # Taskwarrior has no --as-of: "now" is the wall clock. spo is asked about ``as_of``, so
    # every due date is moved by (today - as_of) on its way into Taskwarrior: a task is then
    # overdue, due within 7 days (Taskwarrior's ``due``) or 14 (spo's window) for Taskwarrior
    # today exactly when the action is for spo on ``as_of``, and urgency (which weighs how
    # near the due date is) sees the same spread of dates spo does.
    shift = dt.datetime.now().astimezone().date() - day
    method = load_taskwarrior(task, items, workdir, shift)
    env = task_env(workdir)

    # Taskwarrior's view of the dates, checked against the items: tasks due before the end of
    # today + 14 days (spo's window: overdue or due within 14 days), and due before today.
    window = sum(1 for i in items if i.due <= day + dt.timedelta(days=SPO_WITHIN))
    tw_window = pending_count(task, workdir, f"due.before:today+{SPO_WITHIN + 1}d")
    overdue = sum(1 for i in items if i.due < day)
    tw_overdue = pending_count(task, workdir, "due.before:today")
    if (tw_window, tw_overdue) != (window, overdue):
        raise RuntimeError(
            f"Taskwarrior's dates are off: {tw_window} tasks due by today+{SPO_WITHIN}d and "
            f"{tw_overdue} before today, for {window} and {overdue} items (shift {shift.days} d)"
        )
    # ``due=7``: the tasks Taskwarrior itself calls due (+DUE: due today or in the next 6
    # days). It does not change what ``task due`` selects (every pending task with a due
    # date), but with the shift a national caseload has plenty of them; say so if none.
    due_soon = pending_count(task, workdir, "+DUE")
    if not due_soon:
        out(f"note: no task is +DUE (due within 7 days of today) among {len(items)} items")

    # First-run work (Taskwarrior creating undo/backlog files, the garbage collection the
    # report runs, the page cache) happens here, not in a timed run; and the report must
    # actually list the tasks.
    _, first = run_once([task, "due"], capture=True, env=env)
    matched, _ = _matched(first)
    if matched != len(items):
        raise RuntimeError(f"`task due` matched {matched} tasks, not {len(items)}:\n{first[-500:]}")

    task_times, task_out = time_process([task, "due"], runs=runs, env=env)
    _, task_rows = _matched(task_out)
    all_times, all_out = time_process([task, "due", "limit:0"], runs=runs, env=env)
    _, all_rows = _matched(all_out)

    base = [spo, "--db", str(db), "due", "--all", "--as-of", as_of]
    spo_times, spo_out = time_process(base, runs=runs)
    json_times, json_out = time_process([*base, "--json"], runs=runs)
    listed = len(json.loads(json_out)["actions"])
    spo_lines = len(spo_out.splitlines())

    loaded = f"{len(items):,} pending tasks ({method}; {due_soon:,} +DUE within 7 days)"
    figures = [
        Figure(
            GROUP,
            "task due",
            "s",
            task_times,
            size=size,
            note=f"{loaded}; matched {matched:,}, printed {task_rows} rows "
            f"({len(task_out.splitlines())} lines: one page to a pipe)",
        ),
        Figure(
            GROUP,
            "task due limit:0",
            "s",
            all_times,
            size=size,
            note=f"every row: {all_rows:,} rows, {len(all_out.splitlines()):,} lines",
        ),
        Figure(
            GROUP,
            "spo due --all",
            "s",
            spo_times,
            size=size,
            note=f"{listed:,} actions listed of {len(items):,} open ({window:,} overdue or due "
            f"within {SPO_WITHIN} days), {spo_lines:,} lines",
        ),
        Figure(
            GROUP,
            "spo due --all --json",
            "s",
            json_times,
            size=size,
            note=f"{listed:,} actions, {len(json_out):,} bytes",
        ),
    ]
    # The target is set at national size; at other sizes the ratio is shown, not judged.
    national = size == NATIONAL
    ratio = Figure(
        GROUP,
        "spo due --all ÷ task due",
        "x",
        [figures[2].median / figures[0].median],
        size=size,
        target=("<=", 1.0) if national else None,
        target_text="≤ 1.0 \u00d7 task due" if national else "(≤ 1.0 \u00d7 at 10,000)",
        note="ratio of the medians; same pending items, shifted to Taskwarrior's today",
    )
    return [*figures, ratio]


# ------------------------------------------------------------------------------ main


def build_database(n: int, seed: int, as_of: str, workdir: Path) -> Path:
    """Generate a caseload of ``n`` subjects and ``spo init`` + ``spo import`` it."""
    spo = spo_executable()
    started = time.perf_counter()
    officers, subjects = generate.build_caseload(n, seed, dt.date.fromisoformat(as_of))
    path = workdir / f"caseload-{n}.json"
    generate.write_json(path, officers, subjects)
    out(f"generated {n:,} subjects in {time.perf_counter() - started:.1f} s")
    db = workdir / f"peer-{n}.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    run_once([spo, "--db", str(db), "init"])
    took, _ = run_once([spo, "--db", str(db), "import", str(path)], timeout=6 * 3600)
    out(f"imported in {took:.1f} s")
    return db


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_peer",
        description="Time `spo due --all` against Taskwarrior's `task due` on the same items.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, help="an existing spo SQLite database")
    source.add_argument(
        "--subjects",
        type=generate.parse_size,
        help="generate and import a caseload of N subjects (or force|national|stress)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default=AS_OF, help=f"spo's reference day (default {AS_OF})")
    parser.add_argument("--results-json", type=Path, help="write the figures here")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work (and keep files) here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.db is not None and not args.db.is_file():
        parser.error(f"--db {args.db}: no such file")
    task = ensure_taskwarrior()
    info = harness.machine() | {"Taskwarrior": task_version(task)}
    with tempfile.TemporaryDirectory(prefix="spo-peer-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        harness.use_env(harness.clean_env(workdir / "pycache"))
        if args.db is not None:
            db = args.db.resolve()
            size = subject_count(db)
        else:
            size = args.subjects
            db = build_database(size, args.seed, args.as_of, workdir)
        figures = run(db=db, size=size, workdir=workdir, runs=args.runs, as_of=args.as_of)
    out(f"\n{size:,} subjects")
    for f in figures:
        span = f"{f.show(min(f.samples))} - {f.show(max(f.samples))}"
        verdict = "" if f.met is None else ("meets" if f.met else "MISSES")
        out(f"  {f.label:<26} {f.show(f.median):>9}  ({span})  {f.target_text} {verdict}")
        out(f"  {'':<26} {f.note}")
    if args.results_json:
        command = "python -m benchmarks.bench_peer " + shlex.join(
            sys.argv[1:] if argv is None else list(argv)
        )
        harness.save(args.results_json, figures, {"machine": info, "command": command})
    return 0


if __name__ == "__main__":
    sys.exit(main())
