"""Calendars through the CLI: exports, tokens, the checker, the folder, and what never leaks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from spo_tracker.adapters import ical
from spo_tracker.app import calendars as feeds
from spo_tracker.bootstrap import Env
from spo_tracker.config import Settings
from spo_tracker.core.clock import FixedClock
from spo_tracker.store import tokens
from spo_tracker.store.repo import Store
from tests.conftest import Spo
from tests.support.env import make_env, open_store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo" / "caseload.json"
GOLDEN = ROOT / "tests" / "golden"
AS_OF = "2026-03-05"
NOW = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)


# ------------------------------------------------------------------------------ helpers


def parse_everywhere(data: bytes) -> icalendar.Calendar:
    """Every generated calendar must read in icalendar, ical and recurring-ical-events."""
    cal = icalendar.Calendar.from_ical(data)
    strict = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    events = cal.walk("VEVENT")
    assert len(strict.events) == len(events)
    assert len(recurring_ical_events.of(cal).between((2000, 1, 1), (2040, 1, 1))) == len(events)
    assert ical.lint(data).problems == []
    return cal


def export(spo: Spo, *args: str) -> bytes:
    return spo("calendar", "export", *args).out.encode("utf-8")


def events_by_rule(data: bytes) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
        rule = event["CATEGORIES"].cats[0]
        assert rule not in found, f"two {rule} events"
        found[rule] = event
    return found


def plain(data: bytes) -> str:
    """The text as a reader sees it: unfolded, unescaped."""
    text = data.decode("utf-8").replace("\r\n ", "").replace("\r\n", "\n")
    for escaped, raw in (("\\n", "\n"), ("\\N", "\n"), ("\\,", ","), ("\\;", ";")):
        text = text.replace(escaped, raw)
    return text.replace("\\\\", "\\")


def normalise(data: bytes) -> str:
    """For golden files: unfolded, LF, and the row timestamps (wall-clock) replaced."""
    text = data.decode("utf-8").replace("\r\n ", "").replace("\r\n", "\n")
    return re.sub(r"^(DTSTAMP|LAST-MODIFIED):\d{8}T\d{6}Z$", r"\1:<stamp>", text, flags=re.M)


def assert_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    text = normalise(data)
    if os.environ.get("SPO_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with SPO_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


Opener = Callable[..., AbstractContextManager[Store]]


@pytest.fixture
def store_at(db_url: str) -> Opener:
    """``with store_at() as s:`` one transaction on the test database, at a fixed time."""

    def opener(actor: str = "tester") -> AbstractContextManager[Store]:
        return open_store(db_url, actor=actor, clock=FixedClock(NOW))

    return opener


@pytest.fixture
def env_at(db_url: str) -> Callable[[Settings], Env]:
    """An Env on the test database with these settings, at NOW."""

    def make(settings: Settings) -> Env:
        return make_env(db_url, now=NOW, settings=settings)

    return make


def token_from(out: str) -> tuple[int, str]:
    token_id = int(re.search(r"feed token (\d+)", out).group(1))  # type: ignore[union-attr]
    token = re.search(r"/calendars/([A-Za-z0-9_-]+)\.ics", out).group(1)  # type: ignore[union-attr]
    return token_id, token


# ------------------------------------------------------------------------------ export


@pytest.mark.both_engines
def test_export_writes_one_all_day_event_per_open_action(caseload: Spo) -> None:
    data = export(caseload, "--officer", "om1@force.example", "--as-of", AS_OF)
    cal = parse_everywhere(data)
    events = events_by_rule(data)
    assert {"initial-visit", "grant-checklist", "renewal-submission"} <= set(events)
    for event in cal.walk("VEVENT"):
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        assert not isinstance(start, dt.datetime)
        assert end == start + dt.timedelta(days=1)
        assert str(event["UID"]).endswith("@spo-tracker")
        assert "DTSTAMP" in event
    visit = events["initial-visit"]
    assert str(visit["SUMMARY"]) == "SPO S-001 (J.S.): initial visit due"
    assert visit["DTSTART"].dt == dt.date(2026, 3, 10)
    assert "spo explain" in str(visit["DESCRIPTION"])
    overdue = events["grant-checklist"]  # due 2026-03-04
    assert str(overdue["SUMMARY"]).startswith("OVERDUE: ")
    assert "John Smith" not in data.decode()


@pytest.mark.both_engines
def test_unchanged_data_gives_identical_bytes(caseload: Spo) -> None:
    args = ("--officer", "om1@force.example", "--as-of", AS_OF)
    assert export(caseload, *args) == export(caseload, *args)
    caseload("recompute", "--all")  # recomputing without a change changes nothing
    assert export(caseload, *args) == export(caseload, *args)


def test_export_to_a_file_is_owner_only_and_the_same_as_stdout(
    caseload: Spo, tmp_path: Path
) -> None:
    target = tmp_path / "om1.ics"
    out = caseload("calendar", "export", "--team", "North", "--as-of", AS_OF, "-o", str(target)).out
    assert "exported" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == export(caseload, "--team", "North", "--as-of", AS_OF)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.both_engines
def test_export_matches_its_golden_file(caseload: Spo) -> None:
    data = export(caseload, "--subject", "S-001", "--as-of", AS_OF)
    parse_everywhere(data)
    assert_golden("export-subject-s001.ics", data)


@pytest.mark.both_engines
def test_a_varied_order_moves_the_renewal_event_with_the_same_uid(caseload: Spo) -> None:
    args = ("--all", "--as-of", AS_OF)
    before = events_by_rule(export(caseload, *args))["renewal-submission"]
    caseload("order", "vary", "O-001", "--date", "2026-03-05", "--expires", "2029-01-31")
    data = export(caseload, *args)
    parse_everywhere(data)
    after = events_by_rule(data)["renewal-submission"]
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"].dt == dt.date(2028, 10, 31)  # 3 months before the new expiry
    assert before["DTSTART"].dt == dt.date(2027, 12, 2)
    # and again: the same UID, a higher SEQUENCE still
    caseload("order", "vary", "O-001", "--date", "2026-03-05", "--expires", "2029-02-28")
    again = events_by_rule(export(caseload, *args))["renewal-submission"]
    assert again["UID"] == before["UID"]
    assert again["SEQUENCE"] > after["SEQUENCE"]


@pytest.mark.both_engines
def test_done_actions_leave_feeds_and_exports_for_import_cancel_them(caseload: Spo) -> None:
    args = ("--officer", "om1@force.example", "--as-of", AS_OF)
    before = events_by_rule(export(caseload, *args))["initial-visit"]
    caseload("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial")
    assert "initial-visit" not in events_by_rule(export(caseload, *args))
    data = export(caseload, *args, "--include-closed")
    parse_everywhere(data)
    closed = events_by_rule(data)["initial-visit"]
    assert str(closed["STATUS"]) == "CANCELLED"
    assert closed["UID"] == before["UID"]
    assert closed["SEQUENCE"] > before["SEQUENCE"]


@pytest.mark.both_engines
def test_an_officer_with_nothing_due_gets_a_valid_empty_calendar(caseload: Spo) -> None:
    caseload("officer", "add", "idle@force.example", "--name", "I", "--role", "offender-manager")
    data = export(caseload, "--officer", "idle@force.example", "--as-of", AS_OF)
    cal = parse_everywhere(data)
    assert cal.walk("VEVENT") == []
    cal.validate()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        ((), "give exactly one of --officer, --team, --subject or --all", 2),
        (("--officer", "om1@force.example", "--all"), "give exactly one of", 2),
        (("--officer", "nobody@force.example"), "officer nobody@force.example not found", 3),
        (("--team", "Nowhere"), "team 'Nowhere' not found", 3),
        (("--subject", "S-999"), "subject S-999 not found", 3),
        (("--all", "--as-of", "2026-02-30"), "--as-of", 2),
    ],
)
@pytest.mark.both_engines
def test_bad_export_scopes_are_one_line_errors(
    caseload: Spo, args: tuple[str, ...], message: str, code: int
) -> None:
    result = caseload("calendar", "export", *args, code=code)
    assert result.err.count("\n") == 1
    assert message in result.err
    assert result.out == ""


def test_a_bad_refresh_setting_is_refused(caseload: Spo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPO_FEED_REFRESH", "1:00:00")
    result = caseload("calendar", "export", "--all", code=2)
    assert "feed_refresh" in result.err or "duration" in result.err


# ------------------------------------------------------------------------------ tokens


def test_a_token_is_shown_once_and_stored_only_as_a_hash(
    caseload: Spo, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPO_FEED_BASE_URL", "https://spo.force.example/")
    out = caseload(
        "calendar", "token", "create", "--officer", "OM1@force.example", "--label", "phone"
    ).out
    token_id, token = token_from(out)
    assert f"https://spo.force.example/calendars/{token}.ics" in out
    assert f"webcal://spo.force.example/calendars/{token}.ics" in out
    assert len(token) >= 43  # 256 bits, URL-safe base64
    listed = caseload("calendar", "token", "list", "--json").out
    assert token not in listed
    assert hashlib.sha256(token.encode()).hexdigest() not in listed
    doc = json.loads(listed)
    assert doc["tokens"][0] == {
        **doc["tokens"][0],
        "id": token_id,
        "scope": "officer",
        "target": "om1@force.example",
        "label": "phone",
        "revoked_at": None,
        "last_used_at": None,
        "fetch_count": 0,
    }
    assert token not in caseload("calendar", "token", "list").out
    assert token not in caseload("audit", "--json").out
    stored = b"".join(
        p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)
    )
    assert token.encode() not in stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored


@pytest.mark.both_engines
def test_tokens_verify_until_revoked(caseload: Spo, store_at: Opener) -> None:
    token_id, token = token_from(caseload("calendar", "token", "create", "--team", "North").out)
    with store_at() as s:
        row = feeds.verify_token(s, token)
        assert row is not None
        assert row.id == token_id
        assert feeds.verify_token(s, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert feeds.verify_token(s, "") is None
    assert (
        f"revoked feed token {token_id}"
        in caseload("calendar", "token", "revoke", str(token_id)).out
    )
    assert "already revoked" in caseload("calendar", "token", "revoke", str(token_id)).out
    with store_at() as s:
        assert feeds.verify_token(s, token) is None
    doc = json.loads(caseload("calendar", "token", "list", "--json").out)
    assert doc["tokens"][0]["revoked_at"] is not None
    audit = caseload("audit", "feed-token:1", "--json").json()
    assert isinstance(audit, dict)
    assert [e["action"] for e in audit["entries"]] == ["feed_token.create", "feed_token.revoke"]


@pytest.mark.both_engines
def test_bad_token_commands_are_refused(caseload: Spo) -> None:
    for args, message, code in (
        (("create",), "give exactly one of --officer or --team", 2),
        (("create", "--officer", "nobody@force.example"), "not found", 3),
        (("create", "--team", "Nowhere"), "team 'Nowhere' not found", 3),
        (("create", "--officer", "om1@force.example", "--team", "North"), "exactly one", 2),
        (("revoke", "99"), "feed token 99 not found", 3),
    ):
        result = caseload("calendar", "token", *args, code=code)
        assert message in result.err, result.err
        assert result.err.count("\n") == 1
    caseload("calendar", "token", "create", "--subject", "S-001", code=2)  # no such option


@pytest.mark.both_engines
def test_deactivating_an_officer_revokes_their_feeds(caseload: Spo, store_at: Opener) -> None:
    _, own = token_from(
        caseload("calendar", "token", "create", "--officer", "ds1@force.example").out
    )
    _, made = token_from(
        caseload("--as", "ds1@force.example", "calendar", "token", "create", "--team", "North").out
    )
    _, other = token_from(
        caseload("calendar", "token", "create", "--officer", "om1@force.example").out
    )
    with store_at() as s:
        assert tokens.revoke_officer_tokens(s, "DS1@force.example") == 2
    with store_at() as s:
        assert feeds.verify_token(s, own) is None
        assert feeds.verify_token(s, made) is None
        assert feeds.verify_token(s, other) is not None
        assert tokens.revoke_officer_tokens(s, "ds1@force.example") == 0


# ------------------------------------------------------------------------------ check


def test_check_accepts_our_exports_including_empty_ones(caseload: Spo, tmp_path: Path) -> None:
    full, empty = tmp_path / "all.ics", tmp_path / "empty.ics"
    caseload("calendar", "export", "--all", "--include-closed", "-o", str(full))
    caseload("officer", "add", "idle@force.example", "--name", "I", "--role", "offender-manager")
    caseload("calendar", "export", "--officer", "idle@force.example", "-o", str(empty))
    out = caseload("calendar", "check", str(full)).out
    assert "ok" in out
    assert "icalendar, ical, recurring-ical-events" in out
    assert "0 event(s)" in caseload("calendar", "check", str(empty)).out


def test_check_reports_what_clients_trip_on(spo: Spo, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ics"
    event = (
        "BEGIN:VEVENT\r\nUID:same@x\r\nDTSTART;VALUE=DATE:20260310\r\n"
        "DTEND;VALUE=DATE:20260312\r\nSUMMARY:s\r\nEND:VEVENT\r\n"
    )
    bad.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nREFRESH-INTERVAL:PT1H\r\n"
        + event * 2
        + "END:VCALENDAR\r\n",
        newline="",
    )
    result = spo("calendar", "check", str(bad), code=2)
    for problem in ("VALUE=DURATION", "no DTSTAMP", "appears 2 times", "expected 2026-03-11"):
        assert problem in result.out, result.out
    assert "problem(s)" in result.out
    missing = spo("calendar", "check", str(tmp_path / "missing.ics"), code=2)
    assert "cannot read" in missing.err


# ------------------------------------------------------------------------------ the folder


def test_the_calendar_folder_gets_one_file_per_officer_and_team(
    caseload: Spo, env_at: Callable[[Settings], Env], tmp_path: Path
) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    stale = folder / "officer-gone@force.example.ics"
    stale.write_text("old")
    keep = folder / "README.txt"
    keep.write_text("not ours")
    settings = Settings(calendar_folder=str(folder))
    at = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)
    result = feeds.write_calendar_folder(env_at(settings), now=at)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "README.txt",
        "officer-ds1@force.example.ics",
        "officer-om1@force.example.ics",
        "team-north.ics",
    ]
    assert result.removed == [stale]
    for path in folder.glob("*.ics"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_mtime == at.timestamp()
        parse_everywhere(path.read_bytes())
    om1 = (folder / "officer-om1@force.example.ics").read_bytes()
    assert om1 == export(caseload, "--officer", "om1@force.example", "--as-of", "2026-03-05")
    again = feeds.write_calendar_folder(env_at(settings), now=at)
    assert again.written == []
    assert len(again.unchanged) == 3
    assert feeds.write_calendar_folder(env_at(Settings()), now=at) == (
        feeds.FolderResult([], [], [])
    )


# ------------------------------------------------------------------------------ no leaks


def _demo_secrets() -> list[str]:
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    secrets: set[str] = set()
    for subject in doc["subjects"]:
        secrets |= {n["name"] for n in subject["names"]}
        secrets |= {a["address"] for a in subject["addresses"]}
        for notification in subject.get("notifications", []):
            secrets |= set(notification.get("names") or [])
            if notification.get("address"):
                secrets.add(notification["address"])
        if subject.get("date_of_birth"):
            dob = subject["date_of_birth"]
            secrets |= {dob, dob.replace("-", "")}
    assert len(secrets) > 20
    return sorted(secrets)


@pytest.mark.both_engines
def test_no_feed_or_export_carries_names_addresses_or_dates_of_birth(
    spo: Spo, env_at: Callable[[Settings], Env], tmp_path: Path
) -> None:
    spo("import", str(DEMO))
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    officers = [o["email"] for o in doc["officers"]]
    teams = sorted({o["team"] for o in doc["officers"] if o.get("team")})
    outputs: dict[str, bytes] = {}
    for email in officers:
        outputs[email] = export(spo, "--officer", email)
    for team in teams:
        outputs[team] = export(spo, "--team", team)
    outputs["all"] = export(spo, "--all")
    outputs["all closed"] = export(spo, "--all", "--include-closed")
    outputs["all past"] = export(spo, "--all", "--include-closed", "--as-of", "2027-06-01")
    folder = tmp_path / "share"
    at = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    feeds.write_calendar_folder(env_at(Settings(calendar_folder=str(folder))), now=at)
    for path in folder.glob("*.ics"):
        outputs[path.name] = path.read_bytes()
    for team in teams:
        outputs[f"feed {team}"] = feeds.build_feed(
            env_at(Settings()), feeds.FeedScope("team", team), as_of=dt.date(2026, 11, 23)
        ).body
    assert sum(len(icalendar.Calendar.from_ical(b).walk("VEVENT")) for b in outputs.values()) > 50
    secrets = _demo_secrets()
    surnames = {n["name"].split()[-1] for s in doc["subjects"] for n in s["names"]}
    surnames = {name for name in surnames if len(name.rstrip(".")) > 2}
    for name, data in outputs.items():
        parse_everywhere(data)
        text = plain(data)
        lowered = text.lower()
        for secret in secrets:
            assert secret.lower() not in lowered, f"{secret!r} leaked into {name}"
        for surname in surnames:  # not even a surname on its own
            assert not re.search(rf"\b{re.escape(surname)}\b", text), f"{surname} in {name}"


@pytest.mark.both_engines
def test_summaries_use_reference_and_initials(spo: Spo) -> None:
    spo("import", str(DEMO))
    cal = icalendar.Calendar.from_ical(export(spo, "--all"))
    summaries = [str(e["SUMMARY"]) for e in cal.walk("VEVENT")]
    assert summaries
    pattern = re.compile(r"^(OVERDUE: )?SPO S-\d{3}( \(([A-Z0-9]\.)+\))?: .+ due$")
    assert all(pattern.match(s) for s in summaries), summaries
