"""Actions -> iCalendar: pure rendering, checked with three independent parsers."""

from __future__ import annotations

import ast
import datetime as dt
import os
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from spo_tracker.adapters import ical
from spo_tracker.bootstrap import load_policy
from spo_tracker.core.policy import Policy
from spo_tracker.core.record import initials
from spo_tracker.core.rules import Action, Explanation

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATED = dt.datetime(2026, 3, 3, 10, 15, 30, 123456, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 3, 5)
SECRETS = ("Note about Jane Doe", "waived: victim moved", "Cancelled: told J. Smith")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def make_action(policy: Policy, rule: str = "initial-visit", **changes: Any) -> Action:
    due = changes.pop("due", dt.date(2026, 3, 10))
    explanation = Explanation(
        rule=rule,
        title=policy.rules[rule].title,
        trigger="full order O-001 granted",
        trigger_date=dt.date(2026, 3, 3),
        arithmetic=f"due 7 days after the grant (2026-03-03), on {due}",
        clause=policy.rules[rule].clause,
        policy=policy.label(),
        completion=changes.pop("completion", None),
        cancellation=changes.pop("cancellation", None),
        override=changes.pop("override", None),
    )
    values: dict[str, Any] = {
        "id": "85992ff6f7",
        "rule": rule,
        "subject": "S-001",
        "order": "O-001",
        "key": "O-001",
        "officer": "om1@force.example",
        "trigger_date": dt.date(2026, 3, 3),
        "window_opens": dt.date(2026, 3, 3),
        "due": due,
        "completed": None,
        "cancelled_on": None,
        "lapses_on": None,
        "soon_from": due - dt.timedelta(days=7),
        "explanation": explanation,
    }
    values.update(changes)
    return Action(**values)


def entry(action: Action, sequence: int = 0, updated: dt.datetime = UPDATED) -> ical.Entry:
    return ical.Entry(action=action, initials="J.S.", sequence=sequence, updated_at=updated)


def render(policy: Policy, *entries: ical.Entry, **options: Any) -> bytes:
    options.setdefault("as_of", AS_OF)
    options.setdefault("name", "SPO deadlines: officer om1@force.example")
    return ical.build_calendar(list(entries), policy=policy, **options)


def parse_everywhere(data: bytes) -> icalendar.Calendar:
    """The calendar as icalendar, the strict ical package and recurring-ical-events read it."""
    cal = icalendar.Calendar.from_ical(data)
    strict = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    events = cal.walk("VEVENT")
    assert len(strict.events) == len(events)
    for ours, theirs in zip(events, strict.events, strict=True):
        assert theirs.uid == str(ours["UID"])
    occurrences = recurring_ical_events.of(cal).between((2000, 1, 1), (2040, 1, 1))
    assert len(occurrences) == len(events)
    assert ical.lint(data).problems == []
    return cal


def normalise(data: bytes) -> str:
    """Golden comparison: line endings and folding are the serialiser's business."""
    return data.decode("utf-8").replace("\r\n ", "").replace("\r\n", "\n")


def assert_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    text = normalise(data)
    if os.environ.get("SPO_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with SPO_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ helpers


def test_initials_of_a_full_name_take_each_part() -> None:
    assert initials("John Adam Smith") == "J.A.S."
    assert initials("mary-jane  o'neil") == "M.J.O."
    assert initials("") == ""


def test_refresh_duration_must_be_a_positive_iso_duration() -> None:
    assert ical.parse_duration("PT1H") == dt.timedelta(hours=1)
    assert ical.parse_duration("P1D") == dt.timedelta(days=1)
    for bad in ("1:00:00", "an hour", "-PT1H", "PT0S"):
        with pytest.raises(ValueError, match="duration"):
            ical.parse_duration(bad)


# ------------------------------------------------------------------------------ events


def test_an_open_action_is_one_all_day_event_ending_the_next_day(policy: Policy) -> None:
    cal = parse_everywhere(render(policy, entry(make_action(policy))))
    (event,) = cal.walk("VEVENT")
    assert event["DTSTART"].dt == dt.date(2026, 3, 10)
    assert not isinstance(event["DTSTART"].dt, dt.datetime)
    assert event["DTEND"].dt == dt.date(2026, 3, 11)
    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert str(event["SUMMARY"]) == "SPO S-001 (J.S.): initial visit due"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["CATEGORIES"].cats == ["initial-visit"]
    assert str(event["UID"]) == "85992ff6f7@spo-tracker"
    assert str(event["TRANSP"]) == "TRANSPARENT"


def test_uid_dtstamp_and_last_modified_come_from_the_data_not_the_clock(policy: Policy) -> None:
    first = render(policy, entry(make_action(policy)))
    again = render(policy, entry(make_action(policy)))
    assert first == again
    (event,) = icalendar.Calendar.from_ical(first).walk("VEVENT")
    assert event["DTSTAMP"].dt == UPDATED.replace(microsecond=0)
    assert event["LAST-MODIFIED"].dt == UPDATED.replace(microsecond=0)
    later = render(policy, entry(make_action(policy), updated=UPDATED + dt.timedelta(hours=1)))
    (moved,) = icalendar.Calendar.from_ical(later).walk("VEVENT")
    assert moved["UID"] == event["UID"]
    assert moved["DTSTAMP"].dt == UPDATED.replace(microsecond=0) + dt.timedelta(hours=1)


def test_a_moved_due_date_keeps_the_uid_with_a_higher_sequence(policy: Policy) -> None:
    before = render(policy, entry(make_action(policy), sequence=0))
    after = render(policy, entry(make_action(policy, due=dt.date(2026, 3, 20)), sequence=1))
    (old,) = icalendar.Calendar.from_ical(before).walk("VEVENT")
    (new,) = icalendar.Calendar.from_ical(after).walk("VEVENT")
    assert old["UID"] == new["UID"]
    assert new["SEQUENCE"] > old["SEQUENCE"]
    assert new["DTSTART"].dt == dt.date(2026, 3, 20)


def test_an_overdue_action_stays_visible_and_says_overdue(policy: Policy) -> None:
    cal = parse_everywhere(render(policy, entry(make_action(policy)), as_of=dt.date(2026, 3, 12)))
    (event,) = cal.walk("VEVENT")
    assert str(event["SUMMARY"]).startswith("OVERDUE: SPO S-001 (J.S.)")
    assert event["DTSTART"].dt == dt.date(2026, 3, 10)
    assert "OVERDUE" in str(event["DESCRIPTION"])
    assert event.walk("VALARM") == []  # no reminders for what is already late
    # the summary changed when it became overdue (midnight London), so DTSTAMP moves there
    assert event["DTSTAMP"].dt == dt.datetime(2026, 3, 11, tzinfo=dt.UTC)


def test_feeds_leave_out_done_and_cancelled_actions(policy: Policy) -> None:
    done = make_action(policy, id="aaaaaaaaaa", completed=dt.date(2026, 3, 4))
    cancelled = make_action(policy, id="bbbbbbbbbb", cancelled_on=dt.date(2026, 3, 4))
    lapsed = make_action(policy, id="cccccccccc", lapses_on=dt.date(2026, 3, 5))
    cal = parse_everywhere(render(policy, entry(done), entry(cancelled), entry(lapsed)))
    assert cal.walk("VEVENT") == []


def test_files_for_import_carry_closed_actions_as_cancelled_with_a_higher_sequence(
    policy: Policy,
) -> None:
    open_copy = render(policy, entry(make_action(policy), sequence=2))
    done = make_action(policy, completed=dt.date(2026, 3, 4), completion="Done: visited.")
    closed = render(policy, entry(done, sequence=2), include_closed=True)
    (was,) = icalendar.Calendar.from_ical(open_copy).walk("VEVENT")
    (now,) = parse_everywhere(closed).walk("VEVENT")
    assert str(now["STATUS"]) == "CANCELLED"
    assert now["UID"] == was["UID"]
    assert now["SEQUENCE"] > was["SEQUENCE"]
    assert str(now["SUMMARY"]) == "SPO S-001 (J.S.): initial visit (done)"


def test_descriptions_never_carry_free_text_notes(policy: Policy) -> None:
    action = make_action(
        policy,
        completion=f"Done: {SECRETS[0]}.",
        override=f"Due date set to 2026-03-10 by ds1: {SECRETS[1]}.",
        cancellation=SECRETS[2],
        cancelled_on=dt.date(2026, 3, 9),
    )
    for include_closed in (False, True):
        for as_of in (AS_OF, dt.date(2026, 3, 9)):
            text = normalise(
                render(policy, entry(action), as_of=as_of, include_closed=include_closed)
            )
            for secret in SECRETS:
                assert secret not in text.replace("\\,", ",")
    text = normalise(render(policy, entry(action), as_of=AS_OF))
    assert "changed by an override" in text
    assert "spo explain 85992ff6f7" in text


def test_the_description_explains_and_points_back_to_the_tool(policy: Policy) -> None:
    (event,) = icalendar.Calendar.from_ical(render(policy, entry(make_action(policy)))).walk(
        "VEVENT"
    )
    text = str(event["DESCRIPTION"])
    assert "full order O-001 granted on 2026-03-03" in text
    assert "due 7 days after the grant (2026-03-03), on 2026-03-10" in text
    assert "West Yorkshire Police policy" in text
    assert "spo explain 85992ff6f7" in text


def test_a_flag_review_shows_its_window(policy: Policy) -> None:
    action = make_action(
        policy,
        rule="flag-review",
        key="F-001:0",
        order=None,
        due=dt.date(2027, 3, 31),
        window_opens=dt.date(2027, 2, 28),
    )
    (event,) = parse_everywhere(render(policy, entry(action))).walk("VEVENT")
    assert event["DTSTART"].dt == dt.date(2027, 3, 31)
    assert "Review window: opens 2027-02-28, due by 2027-03-31" in str(event["DESCRIPTION"])


def test_alarms_follow_the_policy_lead_times(policy: Policy) -> None:
    rule = policy.rules["renewal-submission"]
    action = make_action(policy, rule="renewal-submission", due=dt.date(2027, 12, 1))
    (event,) = parse_everywhere(render(policy, entry(action))).walk("VEVENT")
    triggers = [alarm["TRIGGER"].dt for alarm in event.walk("VALARM")]
    expected = [dt.timedelta(days=-d, hours=9) for d in sorted(rule.reminders, reverse=True)]
    if rule.due_day_reminder:
        expected.append(dt.timedelta(hours=9))
    assert triggers == expected
    assert all(str(a["ACTION"]) == "DISPLAY" for a in event.walk("VALARM"))


# ------------------------------------------------------------------------------ the calendar


def test_calendar_properties_for_subscriptions(policy: Policy) -> None:
    data = render(policy, entry(make_action(policy)))
    text = normalise(data)
    lines = text.splitlines()
    assert "METHOD:PUBLISH" in lines
    assert "VERSION:2.0" in lines
    assert "PRODID:-//spo-tracker//SPO deadlines//EN" in lines
    assert [line for line in lines if line.startswith("NAME:")] == [
        "NAME:SPO deadlines: officer om1@force.example"
    ]
    assert len([line for line in lines if line.startswith("X-WR-CALNAME:")]) == 1
    assert "X-WR-TIMEZONE:Europe/London" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert "X-PUBLISHED-TTL:PT1H" in lines
    assert "BEGIN:VTIMEZONE" not in lines  # all-day events need none
    assert data.endswith(b"END:VCALENDAR\r\n")


def test_the_refresh_interval_is_configurable(policy: Policy) -> None:
    lines = normalise(render(policy, refresh="PT30M")).splitlines()
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT30M" in lines
    assert "X-PUBLISHED-TTL:PT30M" in lines
    with pytest.raises(ValueError, match="duration"):
        render(policy, refresh="1:00:00")


def test_an_empty_calendar_is_still_valid(policy: Policy) -> None:
    data = render(policy)
    cal = parse_everywhere(data)
    cal.validate()  # icalendar's own check wants at least one component
    assert cal.walk("VEVENT") == []
    assert data == render(policy)
    assert_golden("calendar-empty.ics", data)


def test_a_calendar_of_several_actions_matches_its_golden_file(policy: Policy) -> None:
    entries = [
        entry(make_action(policy)),
        entry(
            make_action(
                policy,
                id="0f1e2d3c4b",
                rule="flag-review",
                order=None,
                key="F-001:0",
                due=dt.date(2027, 3, 31),
                window_opens=dt.date(2027, 2, 28),
            ),
            sequence=1,
        ),
        entry(
            make_action(policy, id="1234567890", rule="grant-checklist", due=dt.date(2026, 3, 4))
        ),
        entry(
            make_action(policy, id="abcdefabcd", rule="smp-created", completed=dt.date(2026, 3, 4)),
            sequence=1,
        ),
    ]
    data = render(policy, *entries, include_closed=True)
    parse_everywhere(data)
    assert_golden("calendar-officer.ics", data)


def test_events_are_ordered_by_due_date_whatever_the_input_order(policy: Policy) -> None:
    a = entry(make_action(policy, id="aaaaaaaaaa", due=dt.date(2026, 3, 20)))
    b = entry(make_action(policy, id="bbbbbbbbbb", due=dt.date(2026, 3, 10)))
    assert render(policy, a, b) == render(policy, b, a)


# ------------------------------------------------------------------------------ lint


def _event(uid: str | None = "x@y", start: str = "20260310", end: str | None = "20260311") -> str:
    lines = ["BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", f"DTSTART;VALUE=DATE:{start}"]
    if uid:
        lines.append(f"UID:{uid}")
    if end:
        lines.append(f"DTEND;VALUE=DATE:{end}")
    return "\r\n".join([*lines, "SUMMARY:s", "END:VEVENT"])


def _calendar(*body: str, head: str = "REFRESH-INTERVAL;VALUE=DURATION:PT1H") -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", head, *body, "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (_calendar(_event(uid=None)), "has no UID"),
        (_calendar(_event(), _event()), "appears 2 times"),
        (_calendar(_event(end="20260312")), "expected 2026-03-11"),
        (_calendar(_event(end="20260310")), "expected 2026-03-11"),
        (_calendar(_event(end=None)), "no DTEND"),
        (_calendar(_event(), head="REFRESH-INTERVAL:PT1H"), "VALUE=DURATION"),
        (_calendar(_event(), head="X-PUBLISHED-TTL:1:00:00"), "X-PUBLISHED-TTL"),
        (
            _calendar(_event().replace("DTSTAMP:20260101T000000Z\r\n", "")),
            "has no DTSTAMP",
        ),
        (
            _calendar(
                _event(end=None).replace(
                    "DTSTART;VALUE=DATE:20260310", "DTSTART;TZID=Europe/Paris:20260310T090000"
                )
            ),
            "no VTIMEZONE",
        ),
        (b"not a calendar", "not an iCalendar document"),
    ],
)
def test_lint_reports_what_clients_trip_on(document: bytes, problem: str) -> None:
    problems = ical.lint(document).problems
    assert any(problem in p for p in problems), problems


def test_lint_accepts_an_empty_calendar() -> None:
    result = ical.lint(_calendar())
    assert result.problems == []
    assert result.events == 0


def test_the_renderer_stays_pure() -> None:
    source = Path(ical.__file__).read_text(encoding="utf-8")
    absolute: set[str] = set()
    relative: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            absolute |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            relative.add(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            absolute.add((node.module or "").split(".")[0])
    stdlib = {"__future__", "datetime", "re", "collections", "dataclasses", "zoneinfo"}
    assert absolute <= stdlib | {"icalendar"}
    assert relative <= {"core.policy", "core.reminders", "core.rules", "core.text"}
    for call in ("datetime.now", "date.today", "time.time", ".now(", "utcnow"):
        assert call not in source


# ------------------------------------------------------------------------------ RFC 5545 text

NASTY = "a; b, c\\ d\\; e\\n f\nsecond; line, with\\ all\\\\"


def test_every_text_reaching_a_calendar_is_escaped_and_read_back_exactly_by_two_parsers(
    policy: Policy,
) -> None:
    import dataclasses

    from ical.types.text import TextEncoder

    rule = dataclasses.replace(
        policy.rules["initial-visit"], title=f"visit {NASTY}", action=f"do {NASTY}"
    )
    nasty_policy = dataclasses.replace(policy, rules={**policy.rules, rule.id: rule})
    action = make_action(nasty_policy)
    action = dataclasses.replace(
        action,
        explanation=dataclasses.replace(
            action.explanation,
            title=rule.title,
            trigger=f"trigger {NASTY}",
            arithmetic=f"sum {NASTY}",
            clause=f"clause {NASTY}",
            policy=f"policy {NASTY}",
        ),
    )
    item = ical.Entry(action=action, initials="J;,\\S.", sequence=0, updated_at=UPDATED)
    name = f"SPO deadlines: team North; East, {NASTY}"
    data = render(nasty_policy, item, name=name)
    status = ical.status_on(action, AS_OF)
    summary = ical.summary(item, status)
    description = ical.description(item, status, nasty_policy)
    assert NASTY in description  # every part of the explanation reached it
    assert ";" in summary
    assert "\\" in summary

    # the bytes: no raw line break inside a value, every ; , \ escaped
    assert b"NAME:SPO deadlines: team North\\; East\\, a\\; b\\, c\\\\ d" in data

    cal = parse_everywhere(data)
    [ev] = cal.walk("VEVENT")
    assert str(ev["SUMMARY"]) == summary
    assert str(ev["DESCRIPTION"]) == description
    assert [str(c) for c in ev["CATEGORIES"].cats] == [action.rule]
    [alarm, *_] = ev.walk("VALARM")
    assert str(alarm["DESCRIPTION"]) == summary
    # icalendar keeps NAME and X-WR-CALNAME as unknown (raw) values; read as the TEXT they
    # are, by icalendar's own parser, they are the name exactly
    for prop in ("NAME", "X-WR-CALNAME"):
        as_text = icalendar.Event.from_ical(
            f"BEGIN:VEVENT\r\nSUMMARY:{cal[prop]}\r\nEND:VEVENT\r\n"
        )
        assert str(as_text["SUMMARY"]) == name

    strict = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    assert strict.name == [name] or strict.name == name
    [calname] = [x for x in strict.extras if x.name == "x-wr-calname"]
    assert TextEncoder.__parse_property_value__(calname) == name  # type: ignore[arg-type]
    [theirs] = strict.events
    assert theirs.summary == summary
    assert theirs.description == description
    assert theirs.categories == [action.rule]
    assert theirs.alarm[0].description == summary


def test_control_characters_never_reach_a_calendar(policy: Policy) -> None:
    import dataclasses

    action = make_action(policy)
    action = dataclasses.replace(
        action,
        explanation=dataclasses.replace(action.explanation, trigger="order\x1b[31m\rO-1\x07"),
    )
    data = render(policy, entry(action), name="SPO deadlines: team \x1b]0;x\x07North")
    assert not any(b in data for b in (b"\x1b", b"\x07")), data
    assert b"\r\n" in data
    assert b"\r" not in data.replace(b"\r\n", b"")
    parse_everywhere(data)
