"""One "today" for every entry point: ``spo due``, the emails and the calendar feeds all take
the date from the one time zone setting (``SPO_TIMEZONE``, else the policy's), never from UTC.

The moment is 18:30 UTC on 10 March 2026: still the 10th in London, already 08:30 on the 11th
on Kiritimati (UTC+14). S-001's initial visit is due on the 10th, so the same moment makes it
due today in London and overdue on Kiritimati, for every entry point alike.
"""

from __future__ import annotations

import datetime as dt
import email
import mailbox
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import time_machine

from spo_tracker.config import load_settings
from spo_tracker.core.clock import FixedClock
from spo_tracker.entry.server import build_server
from tests.conftest import Spo
from tests.support.env import make_env

INSTANT = dt.datetime(2026, 3, 10, 18, 30, tzinfo=dt.UTC)


def _initial_visit(spo: Spo) -> dict[str, object]:
    doc = spo("due", "--all", "--json").json()
    assert isinstance(doc, dict)
    [visit] = [a for a in doc["actions"] if a["rule"] == "initial-visit"]
    return {"as_of": doc["as_of"], **visit}


def _mail(folder: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(m.as_bytes()) for m in mailbox.Maildir(folder)]


def _text(message: email.message.Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text part")


def _served_feed(db_url: str, token: str) -> str:
    """The token's feed from the real server, whose clock reads INSTANT."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = make_env(db_url, clock=FixedClock(INSTANT), settings=load_settings())
    server = build_server(env, "127.0.0.1", port, handle_signals=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            assert time.monotonic() < deadline, "the server took too long to start"
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/calendars/{token}.ics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode("utf-8")).replace("\r\n ", "")
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize(
    ("zone", "today", "status", "summary"),
    [
        ("Pacific/Kiritimati", "2026-03-11", "overdue", "OVERDUE: SPO S-001 (J.S.): initial visit"),
        ("Europe/London", "2026-03-10", "due-today", "SPO S-001 (J.S.): initial visit due"),
    ],
)
def test_due_emails_and_feeds_agree_on_the_date_in_the_configured_zone(
    caseload: Spo,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
    today: str,
    status: str,
    summary: str,
) -> None:
    spo = caseload
    maildir = tmp_path / "maildir"
    monkeypatch.setenv("SPO_TIMEZONE", zone)
    monkeypatch.setenv("SPO_MAILDIR", str(maildir))
    token = spo("calendar", "token", "create", "--officer", "om1@force.example").out
    token = token.split("/calendars/")[1].split(".ics")[0]
    with time_machine.travel(INSTANT, tick=False):
        visit = _initial_visit(spo)
        assert (visit["as_of"], visit["status"]) == (today, status)
        exported = spo("calendar", "export", "--officer", "om1@force.example").out
        spo("run", "--once")
    served = _served_feed(db_url, token)
    for calendar in (exported.replace("\r\n ", ""), served):
        assert f"SUMMARY:{summary}" in calendar
    digests = [m for m in _mail(maildir) if m["Subject"].startswith("SPO digest")]
    assert {m["Subject"].split(":")[0] for m in digests} == {f"SPO digest {today}"}
    om1 = next(m for m in digests if m["To"] == "om1@force.example")
    heading = "Overdue (" if status == "overdue" else "Due today ("
    section = _text(om1).split(heading, 1)[1].split("\n\n", 1)[0]
    assert "S-001 (J.S.)  initial visit" in section
    visits = [m["Subject"] for m in _mail(maildir) if "initial visit" in m["Subject"]]
    if status == "overdue":
        assert "OVERDUE SPO S-001 (J.S.): initial visit overdue by 1 day" in visits
    else:
        assert visits == ["SPO S-001 (J.S.): initial visit due today"]
