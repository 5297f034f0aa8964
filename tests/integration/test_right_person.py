"""The right person gets the right next step: owners, escalation one step up, messages checked
against the record as they leave, team and force digests, headers Outlook acts on, and a
``spo status`` monitoring can use. Against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest

from tests.conftest import Spo
from tests.integration.conftest import SCU
from tests.integration.test_service import DS, OM, outbox_rows, run_once
from tests.support.smtp import SmtpServer, StartSmtp, free_port

pytestmark = pytest.mark.usefixtures("service_settings")


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def rules_in(spo: Spo, actor: str) -> set[str]:
    doc = spo("due", "--as", actor, "--as-of", "2026-04-03", "--json").json()
    assert isinstance(doc, dict)
    return {str(a["rule"]) for a in doc["actions"]}


@pytest.mark.both_engines
def test_the_supervisor_review_is_the_supervisors_and_escalates_to_the_scu(
    caseload: Spo, smtp: SmtpServer
) -> None:
    spo = caseload  # S-001 high risk from 2026-03-03: reviewed monthly, first due 2026-04-03
    assert "smp-review" in rules_in(spo, DS)
    assert "smp-review" not in rules_in(spo, OM)
    run_once(spo, at("2026-04-03"))
    review = "supervisor review of the Subject Management Pack"
    assert [r.subject for r in smtp.to(DS) if review in r.subject]
    assert not [r for r in smtp.to(OM) if review in r.subject]
    run_once(spo, at("2026-04-05"))
    escalated = [r for r in smtp.received if review in r.subject and r.subject.startswith("OVER")]
    assert {r.recipient for r in escalated} == {DS, SCU}
    [scu] = [r for r in escalated if r.recipient == SCU]
    assert "you receive this as the SCU, above the supervisor" in scu.text()
    assert f"spo review add S-001 --date DATE --by {DS}" in scu.text()


@pytest.mark.both_engines
def test_an_escalation_says_what_is_overdue_what_to_do_and_who_was_told(
    caseload: Spo, smtp: SmtpServer
) -> None:
    spo = caseload  # the initial visit is due 2026-03-10
    run_once(spo, at("2026-03-08"))
    run_once(spo, at("2026-03-11"))
    [escalation] = [
        r for r in smtp.to(DS) if r.subject.startswith("OVERDUE") and "initial visit" in r.subject
    ]
    text = escalation.text()
    assert "initial visit for S-001 (J.S.) is overdue by 1 day" in text
    assert "To do:      Visit the subject." in text
    assert "spo visit add S-001 --date DATE --kind initial" in text
    assert f"Already told: {OM}." in text
    assert "the offender manager's supervisor" in text


def test_a_reminder_whose_action_is_done_before_it_leaves_is_dropped(
    caseload: Spo, start_smtp: StartSmtp, monkeypatch: pytest.MonkeyPatch, db_path: object
) -> None:
    spo = caseload
    port = free_port()
    monkeypatch.setenv("SPO_SMTP_URL", f"smtp://127.0.0.1:{port}")  # nobody listening yet
    run_once(spo, at("2026-03-08"))
    queued = {r["action_id"]: r for r in outbox_rows(str(db_path)) if r["kind"] == "reminder"}
    visit = next(r for r in queued.values() if "initial visit" in r["subject_line"])
    assert visit["state"] in ("pending", "failed")  # waiting: the server is down
    spo("visit", "add", "S-001", "--date", "2026-03-08", "--kind", "initial")
    server = start_smtp(port)
    run_once(spo, at("2026-03-08", 14))
    rows = {r["id"]: r for r in outbox_rows(str(db_path))}
    assert rows[visit["id"]]["state"] == "dropped"
    assert "initial visit is done on 2026-03-08" in rows[visit["id"]]["last_error"]
    assert not [r for r in server.received if "initial visit" in r.subject]
    assert [r for r in server.received if "notification check" in r.subject]  # still open: sent
    assert "1 dropped" in spo("status", code=1).out  # (the clock has moved on: stale)


def test_a_breach_alert_queued_before_the_outcome_says_it_is_recorded(
    caseload: Spo, start_smtp: StartSmtp, monkeypatch: pytest.MonkeyPatch, db_path: object
) -> None:
    spo = caseload
    port = free_port()
    monkeypatch.setenv("SPO_SMTP_URL", f"smtp://127.0.0.1:{port}")
    spo("breach", "add", "S-001", "--date", "2026-03-08", "--crime-ref", "13/9/26", "--arrested")
    run_once(spo, at("2026-03-08"))
    alerts = [r for r in outbox_rows(str(db_path)) if r["kind"] == "breach"]
    assert {r["recipient"] for r in alerts} == {OM, DS, SCU}
    assert all("urgent arrest" in r["body_text"] for r in alerts)
    spo(
        "breach",
        "update",
        "S-001/breach-1",
        "--outcome",
        "remanded in custody",
        "--date",
        "2026-03-08",
    )
    server = start_smtp(port)
    run_once(spo, at("2026-03-08", 14))
    received = [r for r in server.received if r.subject.startswith("BREACH")]
    assert {r.recipient for r in received} == {OM, DS, SCU}
    for r in received:
        assert "Its outcome has been recorded since" in r.text()
        assert "remanded" not in r.everything()  # that it is recorded, never what it says
    stored = [r for r in outbox_rows(str(db_path)) if r["kind"] == "breach"]
    assert all("recorded since" in r["body_text"] for r in stored)  # the record says what went


@pytest.mark.both_engines
def test_team_and_force_digests_once_a_day_each_and_each_can_be_turned_off(
    caseload: Spo, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = caseload
    for hour in (7, 8, 12):
        run_once(spo, at("2026-03-11", hour))
    run_once(spo, at("2026-03-12", 8))
    team = Counter(r.subject.split(":")[0] for r in smtp.to(DS, "SPO team digest"))
    force = Counter(r.subject.split(":")[0] for r in smtp.to(SCU, "SPO force digest"))
    assert team == {"SPO team digest 2026-03-11": 1, "SPO team digest 2026-03-12": 1}
    assert force == {"SPO force digest 2026-03-11": 1, "SPO force digest 2026-03-12": 1}
    [digest] = [r for r in smtp.to(DS, "SPO team digest") if "2026-03-11" in r.subject]
    assert f"{OM}: " in digest.text()
    assert "initial visit" in digest.text()
    monkeypatch.setenv("SPO_TEAM_DIGEST", "false")
    monkeypatch.setenv("SPO_FORCE_DIGEST", "no")
    before = len(smtp.received)
    run_once(spo, at("2026-03-13", 8))
    later = smtp.received[before:]
    assert not [r for r in later if "team digest" in r.subject or "force digest" in r.subject]
    assert [r for r in later if r.subject.startswith("SPO digest 2026-03-13")]


def test_messages_carry_what_outlook_acts_on(
    caseload: Spo, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPO_MAIL_FROM", "spo@force.example")
    monkeypatch.setenv("SPO_MAIL_FROM_NAME", "West Yorkshire SPO tracker")
    run_once(caseload, at("2026-03-08"))
    run_once(caseload, at("2026-03-11"))
    escalation = next(r for r in smtp.received if r.subject.startswith("OVERDUE"))
    reminder = next(r for r in smtp.received if r.subject.startswith("SPO S-001"))
    for message in (escalation, reminder):
        headers = message.message
        assert headers["From"] == "West Yorkshire SPO tracker <spo@force.example>"
        assert headers["Auto-Submitted"] == "auto-generated"
        assert headers["X-Auto-Response-Suppress"] == "All"
        assert str(headers["Message-ID"]).endswith("@force.example>")
        html = message.html()
        assert html.startswith("<!DOCTYPE html>")
        assert '<html lang="en-GB">' in html
        assert '<meta charset="utf-8">' in html
    assert escalation.message["Importance"] == "high"
    assert reminder.message["Importance"] is None
    assert escalation.message["List-Id"] == (
        "SPO escalations <escalation.spo-tracker.force.example>"
    )
    assert reminder.message["List-Id"] == "SPO reminders <reminder.spo-tracker.force.example>"


def test_change_notices_give_the_cause_in_words(caseload: Spo, smtp: SmtpServer) -> None:
    spo = caseload
    run_once(spo, at("2026-03-08"))
    spo("order", "vary", "O-001", "--date", "2026-03-08", "--expires", "2029-03-02")
    run_once(spo, at("2026-03-08", 12))
    [change] = [r for r in smtp.to(OM) if "renewal submission moved" in r.subject]
    assert "order O-001 varied on 2026-03-08" in change.text()
    assert "order.vary" not in change.everything()


def test_status_exits_non_zero_when_mail_is_undeliverable_or_the_service_stale(
    caseload: Spo, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = caseload
    result = spo("status", "--json", code=1)  # never ran
    doc = json.loads(result.out)
    assert doc["ok"] is False
    assert "the sweep has never run" in doc["problems"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_once(spo, now)
    assert json.loads(spo("status", "--json").out)["ok"] is True
    smtp.refuse[OM] = "550 no such mailbox"
    spo("visit", "add", "S-001", "--date", "2026-03-08", "--kind", "routine")
    spo("breach", "add", "S-001", "--date", "2026-03-09")  # an alert to OM: refused for good
    run_once(spo, now + dt.timedelta(seconds=5))
    doc = json.loads(spo("status", "--json", code=1).out)
    assert any("could not be delivered" in p for p in doc["problems"])
    assert "problem:" in spo("status", code=1).out
