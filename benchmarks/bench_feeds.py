"""Calendar feed benchmarks: how long one ~500-event feed takes to build, and how many
requests per second the real feed server answers with the whole feed (200) and with
"not modified" (304).

    .venv/bin/python -m benchmarks.bench_feeds [--runs 3] [--quick] [--results-json FILE]

The caseload is generated (``benchmarks.generate``, seed 1) around today's date in London —
the day the server evaluates feeds on — and imported into a fresh SQLite file with the real
``spo init`` and ``spo import``. Generated teams hold 60 subjects, whose team feed has ~200
events; to get the ~500 events the scale issue asks about, teams are laid out with 150
subjects each (same generator, same mix of cases, fewer and bigger teams), and the benchmark
subscribes to the team whose feed is largest. How many events the feed holds is counted by
parsing the body the server sends, and given in each figure's note.

- Generation: ``feeds.build_feed`` for that team, in this process (read the actions, render
  the calendar, hash it): one warm-up call and ``--runs`` timed calls (at least 3).
- Serving: a token made with ``spo calendar token create``, ``spo serve`` started as its own
  process on 127.0.0.1 (never another interface), and ``wrk -t1 -c8`` for a fixed time
  (5 s; 1 s with ``--quick``) against the feed's URL: plain GETs (every answer a 200 with the
  whole body), then GETs with ``If-None-Match: <the ETag>`` (every answer a 304). wrk runs
  on one core and the server on the other of this 2-core machine. A run with any answer
  other than 2xx/3xx fails the benchmark; before the 304 runs one request checks the status
  really is 304 with an empty body, and the bytes wrk read in a 304 run must be far too few
  to contain a single body. Afterwards the server is stopped (SIGTERM) and its fetch log
  must hold at least one row per request wrk counted: batching must not lose any.

wrk is required: without it the benchmark fails (it is never skipped).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from . import generate, harness
from .harness import Figure, out, run_once, spo_executable, time_call

GROUP = "feeds"
SUBJECTS = 300
QUICK_SUBJECTS = 150
TEAM_SUBJECTS = 150  # per team (the generator's default is 60): a team feed of ~500 events
SEED = 1
CONNECTIONS = 8
DURATION = 5.0
QUICK_DURATION = 1.0
TARGET_304 = 2000.0
HOST = "127.0.0.1"
TIMEZONE = "Europe/London"


# ------------------------------------------------------------------------------ set-up


def london_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def build_database(path: Path, *, subjects: int, as_of: dt.date) -> None:
    """A fictional caseload around ``as_of`` in teams of TEAM_SUBJECTS, imported into
    ``path`` with the real ``spo init`` and ``spo import`` (in this process)."""
    with mock.patch.object(generate, "SUBJECTS_PER_TEAM", TEAM_SUBJECTS):
        officers, people = generate.build_caseload(subjects, SEED, as_of)
    document = path.with_suffix(".json")
    generate.write_json(document, officers, people)
    os.environ.setdefault("SPO_USER", generate.SCU_EMAIL)
    generate.import_into(str(path), document)
    document.unlink()


def largest_team(db: Path, as_of: dt.date) -> tuple[str, int]:
    """The team whose feed on ``as_of`` has the most events, and how many."""
    from spo_tracker.app import calendars as feeds
    from spo_tracker.bootstrap import Env

    env = Env(db=str(db), actor="benchmark")
    sizes = []
    with env.reading() as reader:
        teams = sorted({o.team for o in reader.officers() if o.team})
        for team in teams:
            source = feeds.read_feed_source(
                reader, feeds.FeedScope("team", team), as_of=as_of, strict=False
            )
            sizes.append((feeds.render_feed(source, env.policy).events, team))
    events, team = max(sizes)
    return team, events


def make_token(db: Path, team: str, base_url: str) -> str:
    """A feed token for ``team`` made with the real CLI; returns the feed's URL."""
    env = harness.ENV | {"SPO_DB": str(db), "SPO_FEED_BASE_URL": base_url}
    _, printed = run_once(
        [spo_executable(), "calendar", "token", "create", "--team", team, "--label", "benchmark"],
        capture=True,
        env=env,
    )
    found = re.search(r"(http://\S+/calendars/[A-Za-z0-9_-]+\.ics)", printed)
    if found is None:
        raise RuntimeError(f"no feed URL in the output of spo calendar token create: {printed}")
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, headers: dict[str, str] | None = None) -> Answer:
    """One GET, whatever the status (urllib treats a 304 as an error)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


class Server:
    """``spo serve`` on loopback in its own process; its log goes to a file."""

    def __init__(self, db: Path, port: int, log: Path) -> None:
        self.log = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [spo_executable(), "serve", "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=harness.ENV | {"SPO_DB": str(db)},
        )

    def wait_ready(self, url: str, timeout: float = 60) -> Answer:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"spo serve exited {self.process.returncode}: {self.tail()}")
            try:
                answer = fetch(url)
            except OSError:
                answer = None
            if answer is not None:
                if answer.status != 200:
                    raise RuntimeError(f"the feed answered {answer.status}, not 200")
                return answer
            if time.monotonic() > deadline:
                raise RuntimeError(f"spo serve did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, as systemd stops it: the server writes its queued fetch log and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def tail(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log.read_bytes()[-2000:].decode(errors="replace")


# ------------------------------------------------------------------------------ wrk


@dataclass(frozen=True)
class Load:
    """What one wrk run reported."""

    rate: float  # Requests/sec
    requests: int
    bytes_read: float
    bad: int  # non-2xx/3xx answers
    errors: str  # socket errors line, if any


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_wrk(text: str) -> Load:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    done = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMG]?B) read", text)
    if rate is None or done is None:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"^\s*Socket errors:.*$", text, re.MULTILINE)
    return Load(
        rate=float(rate.group(1)),
        requests=int(done.group(1)),
        bytes_read=float(done.group(2)) * _UNITS[done.group(3)],
        bad=int(bad.group(1)) if bad else 0,
        errors=errors.group(0).strip() if errors else "",
    )


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(
            "wrk is not installed (Debian/Ubuntu: apt-get install wrk): the feed server "
            "benchmark needs a bounded load client, so it fails rather than skip"
        )
    return found


def load(wrk: str, url: str, duration: float, headers: dict[str, str] | None = None) -> Load:
    """``wrk -t1 -c8 -d<duration>`` against ``url``: fixed connections, fixed time."""
    argv = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*argv, url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip()}")
    result = parse_wrk(done.stdout)
    if result.bad:
        raise RuntimeError(f"{result.bad} answers were not 2xx/3xx:\n{done.stdout}")
    if result.requests == 0:
        raise RuntimeError(f"wrk completed no request:\n{done.stdout}")
    return result


# ------------------------------------------------------------------------------ measure


def time_generation(db: Path, team: str, as_of: dt.date, runs: int) -> tuple[list[float], str]:
    """Seconds per ``feeds.build_feed`` of the team (in this process), and a note."""
    from spo_tracker.app import calendars as feeds
    from spo_tracker.bootstrap import Env

    env = Env(db=str(db), actor="benchmark")
    scope = feeds.FeedScope("team", team)
    with env.reading() as reader:

        def build() -> object:
            source = feeds.read_feed_source(reader, scope, as_of=as_of, strict=False)
            return feeds.render_feed(source, env.policy)

        samples = time_call(build, runs=runs)
        reads = time_call(
            lambda: feeds.read_feed_source(reader, scope, as_of=as_of, strict=False), runs=runs
        )
    reads.sort()
    return samples, f"reading the actions from SQLite: {reads[len(reads) // 2] * 1000:.0f} ms"


def count_events(body: bytes) -> int:
    import icalendar

    return len(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def fetches_logged(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM feed_fetch WHERE token_id IS NOT NULL"
        ).fetchone()
        (counted,) = conn.execute("SELECT sum(fetch_count) FROM feed_token").fetchone()
    if count != counted:
        raise RuntimeError(f"the fetch log has {count} rows but the tokens count {counted}")
    return int(count)


def run(*, workdir: Path, quick: bool, runs: int) -> list[Figure]:
    """Build the caseload, time ``build_feed``, then load the real server with wrk."""
    wrk = find_wrk()  # before anything slow: no wrk, no benchmark
    runs = max(1, min(runs, 2) if quick else runs)
    duration = QUICK_DURATION if quick else DURATION
    subjects = QUICK_SUBJECTS if quick else SUBJECTS
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "feeds.db"
    for stale in workdir.glob("feeds.db*"):
        stale.unlink()
    as_of = london_today()
    started = time.perf_counter()
    build_database(db, subjects=subjects, as_of=as_of)
    team, events = largest_team(db, as_of)
    out(
        f"feeds: {subjects} subjects imported in {time.perf_counter() - started:.1f} s; "
        f"team {team!r}: {events} events on {as_of}"
    )

    generation, read_note = time_generation(db, team, as_of, max(3, runs))

    port = free_port()
    url = make_token(db, team, f"http://{HOST}:{port}")
    server = Server(db, port, workdir / "serve.log")
    wrk_requests = 0
    try:
        first = server.wait_ready(url)
        body, etag = first.body, first.headers["etag"]
        served_events = count_events(body)
        cached = fetch(url, {"If-None-Match": etag})
        if cached.status != 304 or cached.body or cached.headers.get("etag") != etag:
            raise RuntimeError(
                f"If-None-Match with the current ETag got {cached.status} "
                f"({len(cached.body)} bytes), not an empty 304"
            )
        full, not_modified = [], []
        for _ in range(runs):
            got = load(wrk, url, duration)
            if got.bytes_read < 0.9 * got.requests * len(body):  # wrk rounds its MB
                raise RuntimeError("a 200 run read less than one body per request")
            full.append(got)
            got = load(wrk, url, duration, {"If-None-Match": etag})
            if got.bytes_read > got.requests * 1024:  # a 304 is headers only (~300 bytes)
                raise RuntimeError("a 304 run read bodies: not every answer was a 304")
            not_modified.append(got)
        wrk_requests = sum(r.requests for r in full + not_modified)
        again = fetch(url, {"If-None-Match": etag})
        if again.status != 304:
            raise RuntimeError(f"after the runs the same ETag got {again.status}, not 304")
    except BaseException:
        server.stop()
        out(server.tail())
        raise
    server.stop()
    logged = fetches_logged(db)
    manual = 3  # the readiness GET and the two checks
    if logged < wrk_requests + manual:
        raise RuntimeError(f"{logged} fetches logged for at least {wrk_requests + manual} requests")

    size_note = f"{served_events} events, {len(body) / 1024:.0f} KB"
    load_note = (
        f"wrk -t1 -c{CONNECTIONS} -d{duration:g}s on loopback, spo serve (uvicorn, one "
        f"process); {size_note}; every request logged ({logged:,} fetch rows for "
        f"{wrk_requests + manual:,} requests counted)"
    )
    return [
        Figure(
            group=GROUP,
            label=f"build one team feed ({served_events} events)",
            unit="s",
            samples=generation,
            size=subjects,
            note=f"feeds.build_feed in-process; {size_note}; {read_note}",
        ),
        Figure(
            group=GROUP,
            label="feed server: 200 (whole feed)",
            unit="/s",
            per="requests",
            samples=[r.rate for r in full],
            size=subjects,
            note=load_note,
        ),
        Figure(
            group=GROUP,
            label="feed server: 304 (If-None-Match)",
            unit="/s",
            per="requests",
            samples=[r.rate for r in not_modified],
            size=subjects,
            target=(">=", TARGET_304),
            target_text="≥ 2,000 req/s",
            note=f"{load_note}; one request checked: 304, empty body, same ETag",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_feeds", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="measured runs (3)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SUBJECTS} subjects, 1 s loads, ≤ 2 runs"
    )
    parser.add_argument("--results-json", type=Path, help="write the figures here")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work (and keep files) here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="spo-feeds-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        harness.use_env(harness.clean_env(workdir / "pycache"))
        figures = run(workdir=workdir, quick=args.quick, runs=args.runs)
    for f in figures:
        span = f"{f.show(min(f.samples))} - {f.show(max(f.samples))}"
        verdict = "" if f.met is None else ("meets" if f.met else "MISSES")
        out(f"  {f.label:<36} {f.show(f.median):>14}  ({span})  {f.target_text} {verdict}")
        out(f"  {'':<36} {f.note}")
    if args.results_json:
        harness.save(args.results_json, figures, {"machine": harness.machine()})
        out(f"figures written to {args.results_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
