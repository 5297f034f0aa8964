"""The email service against a real SMTP server (aiosmtpd on 127.0.0.1) and a real SQLite file.

Issue 4's guarantees 4a-4f are the tests named ``test_4a_...`` to ``test_4f_...``. Time is
driven by ``spo run --once --now``; nothing sleeps. Where a process must die, or two must run
at once, ``spo`` runs as a subprocess; otherwise in-process through the conftest runner.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from spo_tracker.adapters.mail.deliver import transport_from
from spo_tracker.adapters.mail.render import TEMPLATES
from spo_tracker.app import notify as service
from spo_tracker.config import load_settings
from spo_tracker.core.record import initials as initials_of
from tests.conftest import Spo
from tests.integration.conftest import ADMIN, SCU
from tests.support.documents import renamed_copy
from tests.support.env import make_env
from tests.support.smtp import Received, SmtpServer, StartSmtp, free_port

REPO = Path(__file__).resolve().parents[2]
SPO_BIN = Path(sys.executable).with_name("spo")
DEMO = REPO / "data" / "demo" / "caseload.json"

OM = "om1@force.example"
DS = "ds1@force.example"

# The caseload fixture's order was made 2026-03-03 and served 2026-03-04: on 8 March the grant
# checklist and notification check are overdue, the initial visit and SMP are 2 days off.
T0 = dt.datetime(2026, 3, 8, 10, 0, tzinfo=dt.UTC)
DEMO_NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


pytestmark = pytest.mark.usefixtures("service_settings")


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


class HtmlText(HTMLParser):
    """The text a mail client shows for an HTML part (tags dropped, as a browser does)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "br", "tr", "td", "th", "li", "h1", "h2", "h3", "table", "div"):
            self.parts.append(" ")

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return "".join(parser.parts)


# --------------------------------------------------------------------------- helpers


def run_once(spo: Spo, when: dt.datetime | str, code: int = 0) -> str:
    moment = when if isinstance(when, str) else iso(when)
    return spo("run", "--once", "--now", moment, code=code).out


def spo_process(when: dt.datetime, **env: str) -> subprocess.Popen[str]:
    """``spo run --once --now WHEN`` as its own process (SPO_DB etc. come from os.environ)."""
    return subprocess.Popen(
        [str(SPO_BIN), "run", "--once", "--now", iso(when)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def outbox_rows(db: Path | str) -> list[dict[str, Any]]:
    """Every outbox row, read straight from the database (a SQLite file or a URL)."""
    from sqlalchemy import create_engine, text

    from spo_tracker.store.schema import engine_url

    url = db if isinstance(db, str) and "://" in db else f"sqlite:///{db}"
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            rows = [
                dict(r._mapping) for r in conn.execute(text("SELECT * FROM outbox ORDER BY id"))
            ]
    finally:
        engine.dispose()
    return rows


def assert_each_sent_exactly_once(
    smtp: SmtpServer, db_path: Path | str, *, dropped_ok: bool = False
) -> list[dict[str, Any]]:
    """Every row sent (or, with ``dropped_ok``, dropped at delivery as no longer true), each
    sent one delivered exactly once, and nothing delivered that is not a sent row. Returns
    the sent rows."""
    rows = outbox_rows(db_path)
    assert rows, "nothing was queued"
    if dropped_ok:
        rows = [r for r in rows if r["state"] != "dropped"]
    assert [r["state"] for r in rows] == ["sent"] * len(rows), Counter(r["state"] for r in rows)
    keys = [r["dedupe_key"] for r in rows]
    assert len(keys) == len(set(keys))
    ids = [m.message_id for m in smtp.received]
    duplicates = {k: n for k, n in Counter(ids).items() if n > 1}
    assert not duplicates, f"delivered more than once: {duplicates}"
    assert sorted(ids) == sorted(r["message_id"] for r in rows)
    by_id = {r["message_id"]: r for r in rows}
    for m in smtp.received:
        assert m.recipient == by_id[m.message_id]["recipient"] == str(m.message["To"])
    return rows


def status(spo: Spo, now: dt.datetime, code: int = 0) -> dict[str, Any]:
    """``spo status`` at ``now``: exit 0 when healthy, 1 when something needs attention."""
    doc = spo("status", "--json", "--now", iso(now), code=code).json()
    assert isinstance(doc, dict)
    return doc


# --------------------------------------------------------------------------- 4a-4f


@pytest.mark.both_engines
def test_4a_repeated_sweeps_send_exactly_one_email_per_action_stage_and_recipient(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    run_once(spo, T0)
    first = len(smtp.received)
    # overdue grant checklist and notification check: OM + supervisor; initial visit and SMP
    # reminders: OM; the OM's digest, the supervisor's team digest and the SCU's force digest
    assert first >= 9
    for when in (T0, T0, T0 + minutes(1), T0 + minutes(5), T0 + minutes(35), T0 + minutes(600)):
        run_once(spo, when)
    # the 9-hour gap before the last run is (rightly) reported by the watchdog; nothing else
    # is sent again
    reminders = [m for m in smtp.received if "needs attention" not in m.message["Subject"]]
    assert len(reminders) == first

    rows = assert_each_sent_exactly_once(smtp, db_url)
    per_stage = Counter(
        (r["kind"], r["action_id"], r["stage"], r["occurrence"], r["recipient"]) for r in rows
    )
    assert max(per_stage.values()) == 1
    escalated = {r["recipient"] for r in rows if r["kind"] == "escalation"}
    assert escalated == {OM, DS}
    assert {r["kind"] for r in rows} == {
        "escalation",
        "reminder",
        "digest",
        "team-digest",
        "force-digest",
        "watchdog",
    }


@pytest.mark.both_engines
def test_4b_a_process_killed_between_claim_and_send_delivers_each_email_once_after_restart(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    code, output = finish(spo_process(T0, SPO_FAULT="crash-after-claim"))
    assert code == 70, output
    assert smtp.received == []
    rows = outbox_rows(db_url)
    claimed = [r for r in rows if r["claimed_at"] is not None]
    assert len(claimed) == 1
    assert {r["state"] for r in rows} == {"pending"}

    # Within the claim timeout the claim is respected (its owner might still be sending).
    run_once(spo, T0 + minutes(5))
    assert len(smtp.received) == len(rows) - 1
    assert claimed[0]["message_id"] not in {m.message_id for m in smtp.received}

    # More than 10 minutes later the stale claim is released and the email goes, once.
    run_once(spo, T0 + minutes(11))
    run_once(spo, T0 + minutes(16))
    assert len(assert_each_sent_exactly_once(smtp, db_url)) == len(rows)


@pytest.mark.both_engines
def test_4c_smtp_down_for_an_hour_loses_nothing_and_everything_is_delivered_once_on_return(
    caseload: Spo,
    start_smtp: StartSmtp,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused connection stops the pass with one warning and backs off; the messages keep
    their place (none is backed off on its own) and go out in order when the server
    returns."""
    spo = caseload
    port = free_port()  # nothing listens here yet
    monkeypatch.setenv("SPO_SMTP_URL", f"smtp://127.0.0.1:{port}")
    caplog.set_level(logging.WARNING, logger="spo.service")
    passes = range(0, 61, 5)
    warned = []
    for m in passes:
        caplog.clear()
        run_once(spo, T0 + minutes(m))
        lines = [r for r in caplog.records if r.name == "spo.service" and r.levelno >= 30]
        assert len(lines) <= 1, [r.getMessage() for r in lines]
        warned += [r.getMessage() for r in lines]
    assert warned, "no warning that the server is unreachable"
    assert all("mail server unreachable" in w for w in warned)
    # backed off: later passes waited rather than knocking every five minutes
    assert len(warned) < len(passes)
    rows = outbox_rows(db_url)
    assert len(rows) >= 7
    assert {r["state"] for r in rows} <= {"pending", "failed"}, "a row was lost, sent or given up"
    tried = [r for r in rows if r["attempts"]]
    # each pass tried at most one message per connection before it stopped
    assert 1 <= len(tried) <= 3, tried
    # the first in the queue on every pass that tried; the next ones when a connection
    # started before the first refusal came back
    assert rows[0]["attempts"] == len(warned)
    assert all(r["attempts"] <= len(warned) for r in tried)
    assert all(r["last_error"] for r in tried)
    for r in rows:
        assert r["claimed_at"] is None
        # its place in the queue: never moved back for an outage that was not its own
        assert r["next_attempt_at"] == r["created_at"], r
    # nothing lost, but an hour without mail is for monitoring (spo status) to raise: the
    # watchdog's own alert would go through the same dead server
    health = status(spo, T0 + minutes(60), code=1)
    assert health["ok"] is False
    [down] = [p for p in health["problems"] if "unreachable" in p]
    assert down.startswith(f"the mail server has been unreachable since {T0.isoformat()}")
    assert health["queue"]["sent"] == health["queue"]["dead"] == 0
    assert health["queue"]["pending"] + health["queue"]["failed"] == len(rows)
    assert health["dead"] == []

    server = start_smtp(port)
    for m in range(65, 81, 5):  # the pass backs off 10 minutes at most
        run_once(spo, T0 + minutes(m))
    sent = assert_each_sent_exactly_once(server, db_url)
    assert {r["dedupe_key"] for r in sent} == {r["dedupe_key"] for r in rows}
    # in queue order, give or take the three connections sending side by side
    order = {r["message_id"]: i for i, r in enumerate(rows)}
    arrived = [order[m] for m in server.message_ids() if m in order]
    assert all(abs(i - at) < 3 for at, i in enumerate(arrived)), arrived
    back = status(spo, T0 + minutes(80))
    assert back["queue"]["dead"] == 0
    assert back["ok"] is True, back["problems"]  # the outage is over: nothing to raise


@pytest.mark.both_engines
def test_a_connection_dropped_by_the_server_stops_the_pass_and_backs_off(
    caseload: Spo, smtp: SmtpServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    spo = caseload
    smtp.handler.drop = True  # the server hangs up at DATA
    caplog.set_level(logging.WARNING, logger="spo.service")
    run_once(spo, T0)
    lines = [r.getMessage() for r in caplog.records if r.name == "spo.service"]
    assert len(lines) == 1, lines
    assert "mail server unreachable" in lines[0]
    rows = outbox_rows(db_url)
    assert 1 <= len([r for r in rows if r["attempts"]]) <= 3
    assert all(r["next_attempt_at"] == r["created_at"] for r in rows)
    smtp.handler.drop = False
    run_once(spo, T0 + minutes(0.25))  # inside the backoff: nothing tried
    assert smtp.received == []
    run_once(spo, T0 + minutes(5))
    assert len(assert_each_sent_exactly_once(smtp, db_url)) == len(rows)


def test_4c_a_weekend_long_smtp_outage_still_loses_nothing(
    caseload: Spo,
    start_smtp: StartSmtp,
    monkeypatch: pytest.MonkeyPatch,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Transient failures are retried, never given up: SMTP down from Friday 18:00 to Monday
    08:00 (62 hours) and every email queued on Friday still goes on Monday.

    Between the sweeps ``spo run`` runs its delivery job every 30 seconds; here that job
    (service.deliver, real SQLite, real refused connections) runs once an hour, which is as
    often as the capped backoff lets a failed row be tried."""
    spo = caseload
    port = free_port()
    monkeypatch.setenv("SPO_SMTP_URL", f"smtp://127.0.0.1:{port}")
    caplog.set_level(logging.ERROR, logger="spo.service")  # 62 hours of retry warnings
    friday = dt.datetime(2026, 3, 6, 18, 0, tzinfo=dt.UTC)
    run_once(spo, friday)
    settings = load_settings()

    async def deliver(now: dt.datetime) -> service.DeliveryResult:
        transport = transport_from(settings.smtp_url, None, 5, settings.maildir)
        env = make_env(str(db_path), settings=settings)
        try:
            return await service.deliver(env, transport=transport, now=now)
        finally:
            env.close()

    results = [asyncio.run(deliver(friday + dt.timedelta(hours=h))) for h in range(1, 63)]
    rows = outbox_rows(db_path)
    # a message dropped as no longer true is counted as that, not as undeliverable
    assert sum(r.dropped for r in results) == sum(1 for r in rows if r["state"] == "dropped")
    assert sum(r.dead for r in results) == 0
    assert rows
    # still waiting; or dropped at a delivery attempt because the reminder it carried had
    # stopped being true over the weekend (its action moved on to the next stage)
    states = Counter(r["state"] for r in rows)
    assert set(states) <= {"pending", "failed", "dropped"}, states
    waiting = [r for r in rows if r["state"] in ("pending", "failed")]
    dropped = [r for r in rows if r["state"] == "dropped"]
    assert waiting
    assert all("moved on to another reminder" in str(r["last_error"]) for r in dropped)

    server = start_smtp(port)
    monday = friday + dt.timedelta(hours=62)
    run_once(spo, monday)
    # a row that failed in the last hour waits out its backoff (at most an hour)
    run_once(spo, monday + service.MAX_BACKOFF)
    sent = assert_each_sent_exactly_once(server, db_path, dropped_ok=True)
    # every email still waiting on Monday went, or was dropped then as no longer true (a row
    # whose backoff ran past the weekend's last attempt meets the moved-on stage only now)
    final = {r["dedupe_key"]: r for r in outbox_rows(db_path)}
    for row in waiting:
        end = final[row["dedupe_key"]]
        assert end["state"] == "sent" or (
            end["state"] == "dropped" and "moved on to another reminder" in str(end["last_error"])
        ), end
    # each dropped reminder's action reached the same person on Monday, at its current stage
    told = {(r["action_id"], r["recipient"]) for r in sent}
    dropped = [r for r in final.values() if r["state"] == "dropped"]
    assert all((r["action_id"], r["recipient"]) in told for r in dropped)


@pytest.mark.both_engines
def test_a_clock_that_goes_back_queues_no_older_stage_no_second_digest_and_trips_no_watchdog(
    caseload: Spo, smtp: SmtpServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    spo = caseload
    later = T0 + dt.timedelta(days=14)  # 22 March: the grant checklist at overdue-2
    run_once(spo, later)
    first = outbox_rows(db_url)
    assert any(r["stage"] == "overdue-2" for r in first)
    assert any(r["kind"] == "digest" for r in first)
    caplog.set_level(logging.WARNING, logger="spo.service")
    for back in (dt.timedelta(days=1), dt.timedelta(days=7)):  # 21 March, then 15 March
        run_once(spo, later - back)
        run_once(spo, later - back + minutes(5))
    new = [r for r in outbox_rows(db_url) if r["id"] > first[-1]["id"]]
    # 15 March is overdue-1 for the checklist: older than the overdue-2 already sent
    assert [r for r in new if r["kind"] in ("reminder", "escalation")] == []
    # neither day was digested before, but both are behind the day that was
    assert [r for r in new if r["kind"].endswith("digest")] == []
    assert [r for r in new if r["kind"] == "watchdog"] == []
    warned = [r.getMessage() for r in caplog.records if r.name == "spo.service"]
    assert len(warned) == 1, warned
    assert "the clock went back" in warned[0]
    # put right again: the watchdog sees a sweep that kept running, and nothing is doubled
    run_once(spo, later + minutes(5))
    again = [r for r in outbox_rows(db_url) if r["id"] > first[-1]["id"]]
    assert [r for r in again if r["kind"] == "watchdog"] == []
    assert status(spo, later + minutes(5))["ok"] is True
    assert_each_sent_exactly_once(smtp, db_url)


def test_4d_ten_days_down_sends_one_coalesced_catch_up_email_per_open_action_and_recipient(
    caseload: Spo, smtp: SmtpServer, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = caseload
    run_once(spo, T0)
    before = outbox_rows(db_path)
    control = tmp_path / "control.db"
    shutil.copyfile(db_path, control)  # the same record, for a service that never went down

    back = T0 + dt.timedelta(days=10)  # 18 March
    run_once(spo, back)
    after = [r for r in outbox_rows(db_path) if r["id"] > before[-1]["id"]]
    stages = [r for r in after if r["kind"] in ("reminder", "escalation")]
    per_action = Counter((r["action_id"], r["recipient"]) for r in stages)
    assert per_action, "nothing caught up"
    assert max(per_action.values()) == 1, per_action
    # every action reminded before the gap is still open and is caught up, at a new stage
    sent_before = {(r["action_id"], r["recipient"]): r["stage"] for r in before if r["action_id"]}
    caught_up = {(r["action_id"], r["recipient"]): r["stage"] for r in stages}
    assert {a for a, _ in sent_before} <= {a for a, _ in caught_up}
    for key, stage in caught_up.items():
        assert stage != sent_before.get(key)
    # overdue now: the supervisor is told as well as the OM
    assert {r["recipient"] for r in stages} == {OM, DS}
    assert {r["kind"] for r in stages} == {"escalation"}
    assert_each_sent_exactly_once(smtp, db_path)

    # A service that ran every day would have sent several stages per action in that time.
    monkeypatch.setenv("SPO_DB", str(control))
    daily_start = outbox_rows(control)[-1]["id"]
    for day in range(1, 11):
        run_once(spo, T0 + dt.timedelta(days=day))
    daily = [
        r
        for r in outbox_rows(control)
        if r["id"] > daily_start and r["kind"] in ("reminder", "escalation")
    ]
    daily_per_action = Counter((r["action_id"], r["recipient"]) for r in daily)
    assert max(daily_per_action.values()) > 1
    assert len(daily) > len(stages)


def demo_with_clones(copies: int) -> dict[str, Any]:
    """The demo caseload plus ``copies`` renamed copies of each of its subjects."""
    doc = json.loads(DEMO.read_text())
    extra = [s for k in range(1, copies + 1) for s in renamed_copy(doc, f"-{k}")]
    doc["subjects"] = doc["subjects"] + extra
    return doc


@pytest.mark.both_engines
def test_4e_two_processes_on_one_database_never_send_the_same_email_twice(
    spo: Spo, smtp: SmtpServer, db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "caseload.json"
    source.write_text(json.dumps(demo_with_clones(3)))
    spo("import", str(source))
    smtp.handler.delay = 0.02  # a slow server, so both processes are delivering at once

    procs = [spo_process(DEMO_NOW), spo_process(DEMO_NOW)]
    for proc in procs:
        code, output = finish(proc)
        assert code == 0, output

    rows = assert_each_sent_exactly_once(smtp, db_url)
    assert len(rows) >= 36, "not enough work to race over"
    assert len(smtp.received) == len(rows)
    workers = Counter(r["claimed_by"] for r in rows)
    assert len(workers) == 2, f"only one process delivered, the race was not exercised: {workers}"


@pytest.mark.both_engines
def test_4f_a_dead_message_alerts_the_admin_and_the_supervisor_and_status_shows_it(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    smtp.refuse[OM] = "550 5.1.1 no such user"
    run_once(spo, T0)
    dead = [r for r in outbox_rows(db_url) if r["state"] == "dead"]
    assert dead
    assert {r["recipient"] for r in dead} == {OM}
    assert all("550" in r["last_error"] for r in dead)

    run_once(spo, T0 + minutes(5))
    for recipient in (ADMIN, DS):
        alerts = smtp.to(recipient, "spo-tracker needs attention")
        assert alerts, f"no watchdog alert to {recipient}"
        told = "\n".join(a.text() for a in alerts)
        for r in dead:
            assert f"email #{r['id']}" in told
    health = status(spo, T0 + minutes(5), code=1)
    assert f"{len(dead)} email(s) could not be delivered" in " ".join(health["problems"])
    assert {d["id"] for d in health["dead"]} == {r["id"] for r in dead}
    assert all(d["recipient"] == OM for d in health["dead"])
    assert health["last_sweep"] == iso(T0 + minutes(5))
    assert health["queue"]["dead"] == len(dead)

    # told once, not on every sweep
    alerts_so_far = len([r for r in smtp.received if r.subject.startswith("spo-tracker")])
    run_once(spo, T0 + minutes(10))
    assert len([r for r in smtp.received if r.subject.startswith("spo-tracker")]) == alerts_so_far


@pytest.mark.both_engines
def test_a_permanent_refusal_after_an_interrupted_attempt_is_delivery_uncertain_not_dead(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    """The first attempt was cut off before its outcome was recorded, so the recipient may
    have it: a 5xx on the resend says nothing about that one."""
    spo = caseload
    code, output = finish(spo_process(T0, SPO_FAULT="crash-after-claim"))
    assert code == 70, output
    [interrupted] = [r for r in outbox_rows(db_url) if r["claimed_at"] is not None]
    recipient = interrupted["recipient"]
    smtp.refuse[recipient] = "550 5.1.1 mailbox unavailable"
    run_once(spo, T0 + minutes(11))  # the stale claim is released, the resend refused
    rows = {r["id"]: r for r in outbox_rows(db_url)}
    row = rows[interrupted["id"]]
    assert row["state"] == "uncertain", row
    assert row["interrupted_at"] is not None
    assert "may have arrived" in row["last_error"]
    assert "550" in row["last_error"]
    # the same refusal for a message never interrupted is undeliverable, as before
    others = [r for r in rows.values() if r["recipient"] == recipient and r["kind"] != "watchdog"]
    assert {r["state"] for r in others if r["id"] != row["id"]} <= {"dead"}

    health = status(spo, T0 + minutes(11), code=1)
    assert health["queue"]["uncertain"] == 1
    assert [u["id"] for u in health["uncertain"]] == [row["id"]]
    assert row["id"] not in {d["id"] for d in health["dead"]}
    assert any("delivery uncertain" in p for p in health["problems"])
    listed: Any = spo("outbox", "--failed", "--json").json()
    [shown] = [m for m in listed["messages"] if m["id"] == row["id"]]
    assert shown["state"] == "uncertain"
    assert shown["interrupted_at"] is not None
    assert "uncertain" in spo("outbox", "--failed").out

    run_once(spo, T0 + minutes(16))
    told = "\n".join(a.text() for a in smtp.to(ADMIN, "spo-tracker needs attention"))
    assert f"email #{row['id']}" in told
    assert "delivery uncertain, it may have arrived" in told
    assert (
        f"email #{row['id']} ({row['kind']} for {row['subject_ref']}) to {recipient} could not"
        not in told
    )


@pytest.mark.both_engines
def test_4f_a_stalled_sweep_queues_a_watchdog_alert_to_the_admin(
    caseload: Spo, smtp: SmtpServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = caseload
    monkeypatch.setenv("SPO_WATCHDOG_MINUTES", "30")
    run_once(spo, T0)
    settings = load_settings()
    assert settings.watchdog_minutes == 30

    def watch(now: dt.datetime) -> list[str]:
        env = make_env(db_url, actor="test", now=now, settings=settings)
        try:
            with env.unit_of_work() as store:
                return service.watchdog(env, store, now=now)
        finally:
            env.close()

    assert watch(T0 + minutes(20)) == []
    problems = watch(T0 + minutes(45))
    assert len(problems) == 1
    assert iso(T0) in problems[0]
    alerts = [r for r in outbox_rows(db_url) if r["kind"] == "watchdog"]
    assert [(r["recipient"], r["state"]) for r in alerts] == [(ADMIN, "pending")]
    watch(T0 + minutes(50))  # the same stall is not queued twice
    assert len([r for r in outbox_rows(db_url) if r["kind"] == "watchdog"]) == 1

    run_once(spo, T0 + minutes(51))
    [alert] = smtp.to(ADMIN, "spo-tracker needs attention")
    assert "sweep last completed" in alert.text()
    assert status(spo, T0 + minutes(51))["last_sweep"] == iso(T0 + minutes(51))
    stale = status(spo, T0 + minutes(82), code=1)
    assert any("the last sweep was at" in p for p in stale["problems"])


# --------------------------------------------------------------------------- what is sent


@pytest.mark.both_engines
def test_a_breach_alert_reaches_the_om_the_supervisor_and_the_scu_in_one_sweep(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    run_once(spo, T0)
    assert smtp.to(OM, "BREACH") == []
    spo(
        "breach",
        "add",
        "S-001",
        "--date",
        "2026-03-08",
        "--crime-ref",
        "13/12345/26",
        "--arrested",
    )
    run_once(spo, T0 + minutes(5))
    alerts = [r for r in smtp.received if r.subject.startswith("BREACH")]
    assert sorted(a.recipient for a in alerts) == sorted([OM, DS, SCU])
    for alert in alerts:
        assert "S-001 (J.S.)" in alert.subject
        assert "13/12345/26" in alert.text()
        assert "Arrest recorded: yes" in alert.text()
    run_once(spo, T0 + minutes(10))
    assert len([r for r in smtp.received if r.subject.startswith("BREACH")]) == 3
    assert_each_sent_exactly_once(smtp, db_url)


@pytest.mark.both_engines
def test_a_varied_order_sends_each_owner_an_old_to_new_change_notice(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    run_once(spo, T0)
    spo("order", "vary", "O-001", "--date", "2026-03-08", "--expires", "2028-09-01")
    run_once(spo, T0 + minutes(5))
    changes = [r for r in outbox_rows(db_url) if r["kind"] == "change"]
    assert changes
    # each change goes to the action's owner: the renewal's to the OM, the supervisor's review
    # of the SMP (re-dated by the variation) to the supervisor
    assert {r["recipient"] for r in changes} == {OM, DS}
    [review] = [m.subject for m in smtp.to(DS) if "moved to" in m.subject]
    assert "supervisor review of the Subject Management Pack" in review
    notices = [m.text() for m in smtp.to(OM) if "2027-12-02 -> 2028-06-01" in m.text()]
    assert len(notices) == 1, "no renewal change notice 2027-12-02 -> 2028-06-01"
    assert "renewal submission" in notices[0].lower()
    run_once(spo, T0 + minutes(10))
    assert len([r for r in outbox_rows(db_url) if r["kind"] == "change"]) == len(changes)
    assert_each_sent_exactly_once(smtp, db_url)


@pytest.mark.both_engines
def test_a_discharged_order_tells_the_om_which_actions_are_cancelled(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    run_once(spo, T0)
    spo(
        "order",
        "discharge",
        "O-001",
        "--date",
        "2026-03-09",
        "--subject-consents",
        "--police-consents",
    )
    run_once(spo, T0 + dt.timedelta(days=1))
    cancelled = [m for m in smtp.to(OM) if m.subject.endswith(" cancelled")]
    assert cancelled, [m.subject for m in smtp.to(OM)]
    assert any("renewal submission" in m.subject for m in cancelled)
    changes = [r for r in outbox_rows(db_url) if r["kind"] == "change"]
    assert {r["state"] for r in changes} == {"sent"}
    assert_each_sent_exactly_once(smtp, db_url)


def action_id(spo: Spo, rule: str) -> str:
    doc = spo("due", "--all", "--json", "--include-done", "--within", "3650").json()
    assert isinstance(doc, dict)
    [found] = [a["id"] for a in doc["actions"] if a["rule"] == rule and a["subject"] == "S-001"]
    return str(found)


@pytest.mark.both_engines
def test_moving_a_due_date_rearms_the_reminders_for_the_new_date(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    """Initial visit due 10 March: the 2-day reminder goes on 8 March. The visit is put back to
    20 March: the officer is told (change notice), and must be reminded again on 18 March."""
    spo = caseload
    visit = action_id(spo, "initial-visit")
    run_once(spo, T0)  # 8 March

    def reminders() -> list[Received]:
        return [m for m in smtp.to(OM) if "initial visit due in 2 days" in m.subject]

    assert len(reminders()) == 1
    spo("action", "override", visit, "--due", "2026-03-20", "--reason", "subject in hospital")
    run_once(spo, T0 + dt.timedelta(days=1))
    assert any("2026-03-10 -> 2026-03-20" in m.text() for m in smtp.to(OM))
    run_once(spo, T0 + dt.timedelta(days=10))  # 18 March: 2 days before the new date
    assert len(reminders()) == 2, "no reminder for the new due date 2026-03-20"
    assert "Due:        2026-03-20" in reminders()[-1].text()


@pytest.mark.parametrize(
    ("day", "before", "at_seven", "later"),
    [
        # spring forward: from 01:00Z on 29 March London is on BST, 07:00 local is 06:00Z
        ("2026-03-29", "2026-03-29T05:59:00+00:00", "2026-03-29T07:00:00+01:00", "06:30"),
        # fall back: from 01:00Z on 25 October London is on GMT, 07:00 local is 07:00Z
        ("2026-10-25", "2026-10-25T06:59:00+00:00", "2026-10-25T07:00:00+00:00", "07:30"),
    ],
)
@pytest.mark.both_engines
def test_the_daily_digest_goes_once_per_officer_from_0700_london_on_clock_change_days(
    caseload: Spo,
    smtp: SmtpServer,
    db_url: str,
    day: str,
    before: str,
    at_seven: str,
    later: str,
) -> None:
    spo = caseload

    def digests() -> list[dict[str, Any]]:
        return [r for r in outbox_rows(db_url) if r["kind"] == "digest"]

    run_once(spo, before)  # 06:59 London
    assert digests() == []
    run_once(spo, at_seven)
    # the OM's, and the supervisor's (who owns the SMP reviews)
    assert sorted((r["recipient"], r["occurrence"]) for r in digests()) == [(DS, day), (OM, day)]
    for when in (f"{day}T{later}:00+00:00", f"{day}T12:00:00+00:00", f"{day}T22:59:00+00:00"):
        run_once(spo, when)
    assert len(digests()) == 2
    [digest] = smtp.to(OM, "SPO digest")
    assert digest.subject.startswith(f"SPO digest {day}:")
    assert "overdue" in digest.text().lower()
    next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    run_once(spo, f"{next_day}T08:00:00+00:00")
    assert sorted(r["occurrence"] for r in digests()) == [day, day, next_day, next_day]
    assert_each_sent_exactly_once(smtp, db_url)


@pytest.mark.both_engines
def test_outbox_failed_lists_failures_and_retry_sends_a_dead_message_again(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    smtp.refuse[OM] = "451 4.3.0 try later"
    smtp.refuse[DS] = "550 5.1.1 no such user"
    run_once(spo, T0)
    doc = spo("outbox", "--failed", "--json").json()
    assert isinstance(doc, dict)
    messages = doc["messages"]
    assert {(m["recipient"], m["state"]) for m in messages} == {(OM, "failed"), (DS, "dead")}
    assert all(m["error"] and m["attempts"] == 1 for m in messages)
    failed = [m for m in messages if m["state"] == "failed"]
    assert all(m["next_attempt_at"] > iso(T0)[:19] for m in failed)
    everything = spo("outbox", "--json").json()
    assert isinstance(everything, dict)
    assert len(everything["messages"]) == len(outbox_rows(db_url)) >= len(messages)

    dead = next(m for m in messages if m["state"] == "dead")
    smtp.refuse.clear()
    assert "queued again" in spo("outbox", "retry", str(dead["id"])).out
    [row] = [r for r in outbox_rows(db_url) if r["id"] == dead["id"]]
    assert row["state"] == "pending"
    # `spo outbox retry` makes the row due at the wall-clock moment it ran
    run_once(spo, dt.datetime.now(dt.UTC) + minutes(1))
    assert [m.recipient for m in smtp.received if m.message_id == dead["message_id"]] == [DS]
    [row] = [r for r in outbox_rows(db_url) if r["id"] == dead["id"]]
    assert row["state"] == "sent"

    result = spo("outbox", "retry", str(dead["id"]), code=2)
    assert "not failed" in result.err
    missing = spo("outbox", "retry", "99999", code=3)  # exit 3: not found
    assert missing.err == "error: message 99999 not found\n"


def test_without_an_smtp_url_mail_lands_in_an_owner_only_maildir(
    caseload: Spo, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = caseload
    maildir = tmp_path / "maildir"
    monkeypatch.setenv("SPO_MAILDIR", str(maildir))
    out = run_once(spo, T0)
    assert str(maildir) in out
    rows = outbox_rows(db_path)
    assert rows
    assert {r["state"] for r in rows} == {"sent"}
    files = sorted((maildir / "new").iterdir())
    assert len(files) == len(rows)
    for folder in (maildir, maildir / "new", maildir / "cur", maildir / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, folder
    ids = set()
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        ids.add(str(message["Message-ID"]))
    assert ids == {r["message_id"] for r in rows}
    run_once(spo, T0 + minutes(5))
    assert len(list((maildir / "new").iterdir())) == len(rows)


@pytest.mark.parametrize("configured", [True, False], ids=["SPO_MAILDIR", "default"])
def test_a_maildir_whose_parent_folders_do_not_exist_yet_is_created_owner_only(
    caseload: Spo, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: bool
) -> None:
    """A fresh machine: neither SPO_MAILDIR's parent nor ~/.local/share/spo-tracker exists
    (the database lives elsewhere), yet the embedded default must work offline."""
    spo = caseload
    if configured:
        maildir = tmp_path / "spool" / "spo" / "maildir"
        monkeypatch.setenv("SPO_MAILDIR", str(maildir))
    else:
        monkeypatch.delenv("SPO_MAILDIR")
        maildir = tmp_path / "xdg" / "spo-tracker" / "maildir"  # XDG_DATA_HOME is tmp/xdg
    assert not maildir.parent.exists()
    if configured:
        assert str(maildir) in run_once(spo, T0)
    else:  # the default is read when the settings module is imported: a fresh process
        code, output = finish(spo_process(T0))
        assert code == 0, output
        assert str(maildir) in output
    rows = outbox_rows(db_path)
    assert {r["state"] for r in rows} == {"sent"}, {r["last_error"] for r in rows}
    assert len(list((maildir / "new").iterdir())) == len(rows)
    assert stat.S_IMODE(maildir.parent.stat().st_mode) & 0o077 == 0


@pytest.mark.both_engines
def test_emails_carry_reference_and_initials_but_never_the_name_or_address(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    spo = caseload
    run_once(spo, T0)
    spo("breach", "add", "S-001", "--date", "2026-03-08", "--crime-ref", "13/1/26")
    spo("order", "vary", "O-001", "--date", "2026-03-08", "--expires", "2028-09-01")
    run_once(spo, T0 + minutes(5))
    kinds = {r["kind"] for r in outbox_rows(db_url)}
    assert {"reminder", "escalation", "digest", "breach", "change"} <= kinds
    for message in smtp.received:
        content = message.everything()
        for secret in ("John", "Smith", "High Street", "Leeds"):
            assert secret not in content, f"{secret!r} in {message.subject!r}"
        assert "S-001 (J.S.)" in message.text()
        if not message.subject.startswith(("SPO digest", "SPO team digest", "SPO force")):
            assert "S-001 (J.S.)" in message.subject


@pytest.mark.both_engines
def test_demo_caseload_emails_never_carry_names_addresses_or_condition_texts(
    spo: Spo, smtp: SmtpServer, db_url: str
) -> None:
    doc = json.loads(DEMO.read_text())
    spo("import", str(DEMO))
    run_once(spo, DEMO_NOW)
    assert len(smtp.received) >= 10
    secrets: dict[str, str] = {}
    initials: dict[str, str] = {}
    for subject in doc["subjects"]:
        ref = subject["reference"]
        for name in subject["names"]:
            secrets[name["name"]] = ref
        initials[ref] = initials_of(subject["names"][-1]["name"])
        for address in subject["addresses"]:
            secrets[address["address"]] = ref
            for piece in address["address"].split(","):
                secrets[piece.strip()] = ref
        for order in subject["orders"]:
            for condition in order["conditions"]:
                secrets[condition["text"]] = ref
        for visit in subject["visits"]:
            if visit.get("notes"):
                secrets[visit["notes"]] = ref
    by_id = {r["message_id"]: r for r in outbox_rows(db_url)}
    for message in smtp.received:
        content = message.everything()
        for secret, ref in secrets.items():
            assert secret not in content, f"{ref}'s {secret!r} in {message.subject!r}"
        ref = by_id[message.message_id]["subject_ref"]
        if ref:
            assert f"{ref} ({initials[ref]})" in message.subject


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_with_spo_mail_preview(caseload: Spo, template: str) -> None:
    spo = caseload
    text = spo("mail", "preview", template).out
    assert text.startswith("Subject: ")
    subject_line = text.splitlines()[0]
    assert "\r" not in subject_line
    html = spo("mail", "preview", template, "--html").out
    assert '\n\n<!DOCTYPE html>\n<html lang="en-GB">' in html
    # what a reader sees: no sentences run together where a template line ended
    seen = " ".join(HtmlText.of(html).split())
    assert not re.search(r"[a-z)]\.[A-Z]", seen), seen
    assert "John" not in text + html
    if template != "watchdog":
        assert "S-001" in text
        assert "J.S." in text
    doc = spo("due", "--all", "--json", "--as-of", "2026-03-08").json()
    assert isinstance(doc, dict)
    action_id = doc["actions"][0]["id"]
    if template != "watchdog":
        assert action_id in spo("mail", "preview", template, "--action", action_id).out
    if template in ("reminder", "escalation"):
        # the policy's words as written: "update PNC" never becomes "update pnc"
        todo = spo("explain", action_id, "--json").json()["to_do"]
        assert isinstance(todo, str)
        assert todo != todo.lower()
        sent = spo("mail", "preview", template, "--action", action_id).out
        shown = spo("mail", "preview", template, "--action", action_id, "--html").out
        assert f"{todo[:1].upper()}{todo[1:]}." in sent
        assert f"{todo[:1].upper()}{todo[1:]}." in " ".join(HtmlText.of(shown).split())


def test_an_unknown_template_is_refused(caseload: Spo) -> None:
    result = caseload("mail", "preview", "nonsense", code=2)
    assert "reminder" in result.err


@pytest.mark.both_engines
def test_a_line_break_in_spo_mail_from_is_a_configuration_error_not_a_stuck_queue(
    caseload: Spo, smtp: SmtpServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Header values are safe against CR/LF: a bad From is refused up front (exit 2), and no
    row is left claimed by a crashed delivery pass."""
    spo = caseload
    monkeypatch.setenv("SPO_MAIL_FROM", "spo@force.example\r\nBcc: someone@elsewhere.example")
    result = spo("run", "--once", "--now", iso(T0), code=2)
    assert "SPO_MAIL_FROM" in result.err
    assert smtp.received == []
    assert [r for r in outbox_rows(db_url) if r["claimed_at"] is not None] == []


def test_run_with_now_but_without_once_is_a_usage_error(spo: Spo) -> None:
    result = spo("run", "--now", iso(T0), code=2)
    assert "--once" in result.err


def test_an_officer_who_has_left_gets_no_more_mail_and_the_scu_holds_their_work(
    caseload: Spo, smtp: SmtpServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the subject is allocated again, what the officer who left would have been sent
    goes to the SCU (and their supervisor still hears of what is overdue)."""
    spo = caseload
    monkeypatch.setenv("SPO_SCU_EMAIL", "scu@force.example")
    spo("officer", "deactivate", "om1@force.example")
    later = T0 + dt.timedelta(days=14)  # S-001's grant actions overdue, its review due
    run_once(spo, later)
    rows = outbox_rows(db_url)
    assert rows
    recipients = {r["recipient"] for r in rows}
    assert "om1@force.example" not in recipients
    on_s001 = [r for r in rows if r["subject_ref"] == "S-001" and r["kind"] == "escalation"]
    assert on_s001
    assert {r["recipient"] for r in on_s001} == {"scu@force.example", "ds1@force.example"}
    # the email says why the SCU has it
    scu_rows = [r for r in on_s001 if r["recipient"] == "scu@force.example"]
    assert scu_rows
    assert_each_sent_exactly_once(smtp, db_url)
    [message] = [m for m in smtp.received if m.message_id == scu_rows[0]["message_id"]]
    text = next(
        part.get_payload(decode=True).decode()
        for part in message.message.walk()
        if part.get_content_type() == "text/plain"
    )
    assert "om1@force.example is no longer an active officer" in " ".join(text.split())


def test_an_order_varied_to_run_until_further_order_tells_the_officer_of_what_it_cancelled(
    caseload: Spo, smtp: SmtpServer, db_url: str
) -> None:
    """Its renewal and expiry no longer apply: each open one is a cancellation notice, sent
    (it was dropped at delivery as 'cancelled since the change', the news it carries)."""
    spo = caseload
    run_once(spo, T0)
    spo("order", "vary", "O-001", "--date", "2026-03-08", "--until-further-order")
    run_once(spo, T0 + minutes(10))
    changes = [r for r in outbox_rows(db_url) if r["kind"] == "change"]
    cancelled = [r for r in changes if str(r["stage"]).startswith("cancelled-")]
    rules = {
        str(r["action_id"]): spo("explain", str(r["action_id"]), "--json").json()["action"]["rule"]  # type: ignore[index]
        for r in cancelled
    }
    assert "renewal-submission" in rules.values()
    assert {r["state"] for r in cancelled} == {"sent"}, [
        (r["state"], r["last_error"]) for r in cancelled
    ]
    assert_each_sent_exactly_once(smtp, db_url)


def test_status_reports_a_mail_server_unreachable_for_longer_than_the_watchdog(
    caseload: Spo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every pass runs (so the delivery heartbeat is fresh) yet nothing leaves: monitoring,
    which runs spo status, must hear of it once the outage outlasts watchdog_minutes."""
    spo = caseload
    monkeypatch.setenv("SPO_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens
    start = T0
    for minutes_in in (0, 10, 20):
        run_once(spo, start + minutes(minutes_in))
    early = status(spo, start + minutes(21))  # 21 minutes: within the watchdog's 30
    assert not any("unreachable" in p for p in early["problems"]), early["problems"]
    for minutes_in in (30, 40):
        run_once(spo, start + minutes(minutes_in))
    late = status(spo, start + minutes(41), code=1)
    [problem] = [p for p in late["problems"] if "unreachable" in p]
    assert f"unreachable since {start.isoformat()}" in problem
    assert "email(s) waiting" in problem
