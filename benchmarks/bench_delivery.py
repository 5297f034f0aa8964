"""Email delivery: ``spo_tracker.service.deliver`` against one new smtplib connection per message.

    .venv/bin/python -m benchmarks.bench_delivery [--messages 1000] [--runs 3] [--quick]
                                                  [--results-json FILE]

A real aiosmtpd server runs on 127.0.0.1 in its own process (so it shares neither the
benchmark's event loop nor its GIL) and counts what it receives, and which Message-IDs.

- The outbox: ``spo init`` and ``spo import`` of the demo caseload into a fresh SQLite file, a
  real sweep (``service.sweep``) at 2026-11-23 10:00 UTC to queue real, rendered reminders,
  escalations and digests, then copies of those rows (each with its own dedupe key and
  Message-ID) queued with ``store.outbox.enqueue`` until there are ``--messages`` of them.
- Baseline: the same rows, each built the standard library's way (``EmailMessage``,
  ``set_content``, ``add_alternative``: how spo built mail before it wrote the bytes itself)
  and sent with ``smtplib.send_message`` over a new connection per message: connect, EHLO,
  MAIL, RCPT, DATA, QUIT.
- Ours: ``service.deliver`` with an ``SmtpTransport`` pointed at the server, on a fresh copy
  of the queued database, called until nothing is due (as ``spo run`` would); every row must
  end ``sent``.
- For comparison (no target): the baseline sending the bytes spo's own ``compose`` writes, so
  that what is left of the difference is the connection per message.
- For comparison (no target): every message, as ``compose`` writes it, over one connection
  with no database at all: what this server takes from one sender at best. The target of 5x
  the baseline can only be met if this ceiling is well above 5x.

Each run times the four back to back (after an unmeasured warm-up of each), and after each
the server must have received exactly the expected messages: the count, each Message-ID once,
and the same set of Message-IDs as the outbox (a hash). ``server-checks.json`` in the work
folder lists every check. Figures: the rates (emails/s) and, per run, the ratio ours/baseline.
The machine is shared: both sides are CPU-bound on 2 vCPUs, so the ratio is the steadier
figure; it falls when other work competes for the CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spo_tracker.adapters.mail.deliver import Outgoing

from .harness import ROOT, Figure, clean_env, machine, out, save, spo_executable, time_call

GROUP = "delivery"
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
DEMO = ROOT / "data" / "demo" / "caseload.json"
MAIL_FROM = "spo-tracker@force.example"
WARMUP_MESSAGES = 50


# ------------------------------------------------------------------------------ the SMTP server
# Runs as ``python -m benchmarks.bench_delivery --serve-smtp PORT``. It prints ``ready`` once it
# listens, then answers lines on stdin: ``stats`` -> one JSON line, ``reset`` -> ``ok``; it stops
# at end of input.

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages = 0
        self.ids: dict[bytes, int] = {}

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        head = content.split(b"\r\n\r\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        key = found.group(1) if found else b""
        with self.lock:
            self.messages += 1
            self.ids[key] = self.ids.get(key, 0) + 1
        return "250 OK"

    def stats(self) -> dict[str, int | str]:
        with self.lock:
            return {
                "messages": self.messages,
                "distinct": len(self.ids),
                "repeated": sum(n - 1 for n in self.ids.values()),
                "ids": id_digest(key.decode("ascii", "replace") for key in self.ids),
            }

    def reset(self) -> None:
        with self.lock:
            self.messages = 0
            self.ids.clear()


def id_digest(message_ids: Iterable[str]) -> str:
    """One hash of a set of Message-IDs: the server's and the outbox's must agree."""
    return hashlib.sha256("\n".join(sorted(message_ids)).encode()).hexdigest()[:16]


def serve_smtp(port: int) -> int:
    from aiosmtpd.controller import Controller

    counter = _Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                sys.stdout.write(json.dumps(counter.stats()) + "\n")
            elif command == "reset":
                counter.reset()
                sys.stdout.write("ok\n")
            else:
                sys.stdout.write(json.dumps({"error": command}) + "\n")
            sys.stdout.flush()
    finally:
        controller.stop()
    return 0


def free_port() -> int:
    """aiosmtpd's ``Controller(port=0)`` does not work: find a free port first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """The server process, driven from the benchmark."""

    def __init__(self) -> None:
        self.checks: list[dict[str, int | str]] = []  # every expect() that passed
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_delivery", "--serve-smtp", str(self.port)],
            cwd=ROOT,
            env=clean_env(None),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            self.close()
            raise RuntimeError("the SMTP server did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line()

    def stats(self) -> dict[str, int | str]:
        answer: dict[str, int | str] = json.loads(self._ask("stats"))
        return answer

    def reset(self) -> None:
        if self._ask("reset") != "ok":
            raise RuntimeError("the SMTP server did not reset")

    def expect(self, message_ids: Sequence[str], what: str) -> dict[str, int | str]:
        """The server received exactly these messages, each once; what it counted."""
        n = len(message_ids)
        want = {"messages": n, "distinct": n, "repeated": 0, "ids": id_digest(message_ids)}
        got = self.stats()
        if got != want:
            raise AssertionError(f"{what}: expected {want}, the server got {got}")
        self.checks.append({"what": what, **got})
        return got

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# ------------------------------------------------------------------------------ the outbox


def spo(db: Path, *args: str) -> None:
    env = clean_env(None)
    done = subprocess.run(
        [spo_executable(), "--db", str(db), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"spo {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")


def settings() -> Any:
    from spo_tracker.config import Settings

    return Settings(mail_from=MAIL_FROM, scu_email="scu@force.example", maildir="/nonexistent")


def queued_database(path: Path, messages: int) -> None:
    """A SQLite file whose outbox holds ``messages`` pending rows of real rendered mail."""
    from sqlmodel import Session, col, select

    from spo_tracker.app import notify as service
    from spo_tracker.bootstrap import Env
    from spo_tracker.core.clock import FixedClock
    from spo_tracker.store import outbox
    from spo_tracker.store.db import make_engine
    from spo_tracker.store.schema import resolve_url
    from spo_tracker.store.service_models import OutboxRow

    spo(path, "init")
    spo(path, "import", str(DEMO))
    env = Env(db=str(path), actor="benchmark", clock=FixedClock(NOW), settings=settings())
    with env.unit_of_work() as store:
        service.sweep(env, store, now=NOW)
    env.close()
    engine = make_engine(resolve_url(str(path)))
    try:
        with Session(engine) as session:
            real = session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
            if not real:
                raise RuntimeError("the sweep queued nothing")
            have = len(real)
            if have > messages:
                for extra in real[messages:]:
                    session.delete(extra)
            columns = [c.name for c in OutboxRow.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
            copies: list[dict[str, Any]] = []
            for k in range(max(0, messages - have)):
                source = real[k % have]
                row = {name: getattr(source, name) for name in columns}
                row["dedupe_key"] = f"{source.dedupe_key}#bench-{k}"
                row["message_id"] = service.message_id(row["dedupe_key"])
                copies.append(row)
            for start in range(0, len(copies), 500):
                outbox.enqueue(session, copies[start : start + 500])
            session.commit()
    finally:
        engine.dispose()
    counts = outbox_states(path)
    if counts["pending"] != messages:
        raise RuntimeError(f"expected {messages} pending rows: {counts}")


def outbox_states(path: Path) -> dict[str, int]:
    from spo_tracker.bootstrap import Env

    with Env(db=str(path), actor="benchmark").reading() as reader:
        return reader.outbox_counts()


def copy_database(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def rows_as_messages(path: Path) -> list[dict[str, str]]:
    """What the baseline sends: the fields ``deliver`` builds each message from."""
    from sqlmodel import Session, col, select

    from spo_tracker.store.db import make_engine
    from spo_tracker.store.schema import resolve_url
    from spo_tracker.store.service_models import OutboxRow

    engine = make_engine(resolve_url(str(path)))
    try:
        with Session(engine) as session:
            rows = session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
            return [
                {
                    "recipient": r.recipient,
                    "subject": r.subject_line,
                    "text": r.body_text,
                    "html": r.body_html,
                    "message_id": r.message_id,
                }
                for r in rows
            ]
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ the two senders


def build(row: dict[str, str]) -> EmailMessage:
    """The baseline's message: the standard library's own way to write a multipart/alternative
    email (``EmailMessage``, ``set_content``, ``add_alternative``), as spo built its mail
    before it wrote the bytes itself."""
    message = EmailMessage()
    message["From"] = MAIL_FROM
    message["To"] = row["recipient"]
    message["Subject"] = row["subject"]
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = row["message_id"]
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row["text"])
    message.add_alternative(row["html"], subtype="html")
    return message


def baseline(port: int, rows: Sequence[dict[str, str]]) -> None:
    """One new connection per message: connect, EHLO, MAIL, RCPT, DATA, QUIT."""
    for row in rows:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            refused = client.send_message(build(row))
            if refused:
                raise RuntimeError(f"refused: {refused}")


def composed(row: dict[str, str]) -> Outgoing:
    """The message spo's own ``compose`` writes for this row."""
    from spo_tracker.adapters.mail.deliver import compose

    return compose(
        sender=MAIL_FROM,
        recipient=row["recipient"],
        subject=row["subject"],
        text=row["text"],
        html=row["html"],
        message_id=row["message_id"],
        date=NOW,
    )


def send_bytes(client: smtplib.SMTP, message: Outgoing) -> None:
    refused = client.sendmail(message.sender, [message.recipient], message.data)
    if refused:
        raise RuntimeError(f"refused: {refused}")


def baseline_composed(port: int, rows: Sequence[dict[str, str]]) -> None:
    """As ``baseline``, but each message is the bytes spo's own ``compose`` writes: what is
    left of the difference is the connection per message."""
    for row in rows:
        message = composed(row)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            send_bytes(client, message)


def one_connection(port: int, rows: Sequence[dict[str, str]]) -> None:
    """Every message, as spo's ``compose`` writes it, over one connection and with no database:
    what the server can take from one sender at best (a ceiling, not a way to deliver: a crash
    would leave no record of what was sent)."""
    messages = [composed(row) for row in rows]
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for message in messages:
            send_bytes(client, message)


def ours(path: Path, url: str) -> int:
    """``service.deliver`` passes (as ``spo run`` makes them) until nothing is due."""
    from spo_tracker.adapters.mail.deliver import SmtpTransport, parse_smtp_url
    from spo_tracker.app import notify as service
    from spo_tracker.bootstrap import Env

    config = settings()
    sent = 0
    while True:
        transport = SmtpTransport(parse_smtp_url(url, None, config.smtp_timeout_seconds))
        env = Env(db=str(path), actor="benchmark", settings=config)
        try:
            result = asyncio.run(service.deliver(env, transport=transport, now=NOW))
        finally:
            env.close()
        if result.failed or result.dead:
            raise RuntimeError(f"delivery failed: {result}")
        if not result.sent:
            return sent
        sent += result.sent


# ------------------------------------------------------------------------------ the benchmark


@dataclass
class Rates:
    baseline: list[float]
    ours: list[float]
    composed: list[float]
    ceiling: list[float]

    def ratios(self) -> list[float]:
        return [o / b for o, b in zip(self.ours, self.baseline, strict=True)]


def measure(folder: Path, sink: SmtpSink, messages: int, runs: int) -> Rates:
    template = folder / "queued.db"
    queued_database(template, messages)
    rows = rows_as_messages(template)
    ids = [row["message_id"] for row in rows]
    rates = Rates([], [], [], [])

    # warm-up (unmeasured): imports, connections, the server's first sessions
    warm = min(WARMUP_MESSAGES, messages)
    sink.reset()
    baseline(sink.port, rows[:warm])
    sink.expect(ids[:warm], "baseline warm-up")
    sink.reset()
    baseline_composed(sink.port, rows[:warm])
    sink.expect(ids[:warm], "composed baseline warm-up")
    sink.reset()
    one_connection(sink.port, rows[:warm])
    sink.expect(ids[:warm], "one connection warm-up")
    warm_db = folder / "warm.db"
    queued_database(warm_db, warm)
    sink.reset()
    ours(warm_db, sink.url)
    sink.expect([row["message_id"] for row in rows_as_messages(warm_db)], "spo warm-up")

    for run in range(1, runs + 1):
        sink.reset()
        [seconds] = time_call(lambda: baseline(sink.port, rows), runs=1, warmup=0)
        sink.expect(ids, f"baseline run {run}")
        rates.baseline.append(messages / seconds)

        db = copy_database(template, folder / f"run-{run}.db")
        sink.reset()
        [seconds] = time_call(lambda db=db: ours(db, sink.url), runs=1, warmup=0)  # type: ignore[misc]
        sink.expect(ids, f"spo run {run}")
        states = outbox_states(db)
        if states != dict.fromkeys(states, 0) | {"sent": messages}:
            raise AssertionError(f"spo run {run}: outbox ended {states}")
        rates.ours.append(messages / seconds)

        sink.reset()
        [seconds] = time_call(lambda: baseline_composed(sink.port, rows), runs=1, warmup=0)
        sink.expect(ids, f"composed baseline run {run}")
        rates.composed.append(messages / seconds)

        sink.reset()
        [seconds] = time_call(lambda: one_connection(sink.port, rows), runs=1, warmup=0)
        sink.expect(ids, f"one connection run {run}")
        rates.ceiling.append(messages / seconds)
        out(
            f"  run {run}: baseline {rates.baseline[-1]:,.0f} emails/s, "
            f"spo {rates.ours[-1]:,.0f} emails/s ({rates.ours[-1] / rates.baseline[-1]:.2f}x); "
            f"baseline with spo's message bytes {rates.composed[-1]:,.0f} emails/s; "
            f"one connection, no database {rates.ceiling[-1]:,.0f} emails/s "
            f"({rates.ceiling[-1] / rates.baseline[-1]:.2f}x)"
        )
    return rates


def figures(rates: Rates, messages: int) -> list[Figure]:
    return [
        Figure(
            group=GROUP,
            label="baseline: smtplib, one connection per message",
            unit="/s",
            per="emails",
            samples=rates.baseline,
            size=messages,
            note="connect, EHLO, MAIL, RCPT, DATA, QUIT for each message",
        ),
        Figure(
            group=GROUP,
            label="spo deliver (SQLite outbox → SMTP)",
            unit="/s",
            per="emails",
            samples=rates.ours,
            size=messages,
            target=(">=", 200.0),
            target_text="≥ 200 emails/s",
            note="claim, send, record: every row ends `sent`",
        ),
        Figure(
            group=GROUP,
            label="spo deliver / baseline",
            unit="x",
            samples=rates.ratios(),
            size=messages,
            target=(">=", 5.0),
            target_text="≥ 5 × baseline",  # noqa: RUF001
            note="per run, both measured back to back against the same server",
        ),
        Figure(
            group=GROUP,
            label="for comparison: smtplib, one connection per message, spo's message bytes",
            unit="/s",
            per="emails",
            samples=rates.composed,
            size=messages,
            note="the baseline with the message written by spo's compose(): the connection "
            "per message is the only difference left",
        ),
        Figure(
            group=GROUP,
            label="for comparison: every message over one connection, no database",
            unit="/s",
            per="emails",
            samples=rates.ceiling,
            size=messages,
            note="spo's message bytes, nothing recorded: what this server takes from one "
            "sender at best; "
            + "x, ".join(f"{c / b:.1f}" for c, b in zip(rates.ceiling, rates.baseline, strict=True))
            + "x the baseline, per run",
        ),
    ]


def run(*, workdir: Path, quick: bool, runs: int, messages: int = 1000) -> list[Figure]:
    """Every sender, ``runs`` times each (``quick``: at most 200 messages and 1 run)."""
    if quick:
        messages = min(messages, 200)
        runs = 1
    runs = max(1, runs)
    folder = workdir / "delivery"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out(f"delivery: {messages} emails, {runs} run(s), aiosmtpd in its own process")
    sink = SmtpSink()
    try:
        rates = measure(folder, sink, messages, runs)
    finally:
        sink.close()
        # what the server counted at each step, for whoever wants to check (the smoke test)
        (folder / "server-checks.json").write_text(json.dumps(sink.checks, indent=2) + "\n")
    return figures(rates, messages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_delivery", description=__doc__
    )
    parser.add_argument("--messages", type=int, default=1000, help="emails per run (1000)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (3)")
    parser.add_argument("--quick", action="store_true", help="200 emails, 1 run")
    parser.add_argument("--results-json", type=Path, help="write the figures here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--serve-smtp", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_smtp:
        return serve_smtp(args.serve_smtp)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    about = machine()
    with tempfile.TemporaryDirectory(prefix="spo-bench-delivery-") as temp:
        workdir = args.keep or Path(temp)
        found = run(workdir=workdir, quick=args.quick, runs=args.runs, messages=args.messages)
    out()
    for figure in found:
        verdict = {None: "", True: "  (met)", False: "  (MISSED)"}[figure.met]
        spread = f"{figure.show(min(figure.samples))} .. {figure.show(max(figure.samples))}"
        target = f", target {figure.target_text}" if figure.target_text else ""
        out(f"{figure.label}: {figure.show(figure.median)} [{spread}]{target}{verdict}")
    if args.results_json:
        save(args.results_json, found, {"machine": about, "argv": sys.argv})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
