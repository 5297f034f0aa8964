"""Actions -> iCalendar bytes (RFC 5545, RFC 7986). Pure: no database, no clock.

Everything that could vary between two renderings of the same data is an argument: the date
to evaluate statuses on (``as_of``), and each action's last change (``updated_at``), which
becomes its DTSTAMP and LAST-MODIFIED. So unchanged data gives identical bytes, and an HTTP
ETag computed from them changes only when the content does.

What leaves the system is minimal: the subject's reference and initials, the rule, the dates,
and the explanation's trigger, arithmetic and policy clause. Completion, override and
cancellation texts can carry free-text notes (names, places): they are never copied here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from icalendar import (
    Alarm,
    Calendar,
    Component,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vDuration,
    vRecur,
    vText,
)
from icalendar.enums import CLASS, STATUS, TRANSP
from icalendar.error import InvalidCalendar

from ..core.policy import Policy
from ..core.reminders import OWNER_WORDS, record_command
from ..core.rules import Action, Status
from ..core.text import printable, quote

PRODID = "-//spo-tracker//SPO deadlines//EN"
UID_DOMAIN = "spo-tracker"
DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_REFRESH = "PT1H"
# Reminders fire at 09:00 on their day (an all-day event starts at midnight, local time).
ALARM_HOUR = dt.timedelta(hours=9)
CLOSED = (Status.DONE, Status.CANCELLED)


@dataclass(frozen=True)
class Entry:
    """One persisted action and what the calendar needs besides the engine's value."""

    action: Action
    initials: str  # the subject's initials ("J.S."), "" when unknown
    sequence: int  # changes of the action's due date or state (from its history)
    updated_at: dt.datetime  # when the persisted action last changed (aware)


def text_value(value: str) -> str:
    """A TEXT value as it may go into a calendar: line breaks and tabs kept (icalendar's
    vText writes them as RFC 5545 escapes, with ``; , \\``), every other control character
    shown as an escape (RFC 5545 allows none in TEXT)."""
    return printable(value, lines=True)


def parse_duration(text: str) -> dt.timedelta:
    """A positive ISO 8601 duration such as ``PT1H`` or ``P1D`` (ValueError otherwise)."""
    try:
        value = vDuration.from_ical(text.strip())  # type: ignore[no-untyped-call]
    except (InvalidCalendar, ValueError):
        raise ValueError(f"{quote(text)} is not an ISO 8601 duration such as PT1H") from None
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ValueError(f"{quote(text)} must be a positive duration such as PT1H")
    return value


def duration_text(value: dt.timedelta) -> str:
    encoded: bytes = vDuration(value).to_ical()  # type: ignore[no-untyped-call]
    return encoded.decode("ascii")


def event_uid(action_id: str) -> str:
    """Stable: the action id is a hash of its identity (subject, rule, order, occurrence)."""
    return f"{action_id}@{UID_DOMAIN}"


def status_on(action: Action, as_of: dt.date) -> Status:
    """The action's status on ``as_of``; one not triggered yet counts as upcoming."""
    return action.status(as_of) or Status.UPCOMING


def stamp(entry: Entry, as_of: dt.date, timezone: str = DEFAULT_TIMEZONE) -> dt.datetime:
    """When what the event shows last changed: the action's last change, or the start of the
    day it became overdue or lapsed (its SUMMARY changed then, though no row did). UTC,
    whole seconds."""
    moments = [entry.updated_at.astimezone(dt.UTC)]
    status = status_on(entry.action, as_of)
    action = entry.action
    if status is Status.OVERDUE:
        moments.append(_day_start(action.due + dt.timedelta(days=1), timezone))
    elif (
        status is Status.CANCELLED and action.lapses_on is not None and action.cancelled_on is None
    ):
        moments.append(_day_start(action.lapses_on, timezone))
    return max(moments).replace(microsecond=0)


def _day_start(day: dt.date, timezone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)


def newest_stamp(
    entries: Iterable[Entry], as_of: dt.date, timezone: str = DEFAULT_TIMEZONE
) -> dt.datetime | None:
    """The latest ``stamp`` of ``entries`` (None when there are none)."""
    return max((stamp(e, as_of, timezone) for e in entries), default=None)


def summary(entry: Entry, status: Status) -> str:
    action = entry.action
    who = f"SPO {action.subject} ({entry.initials})" if entry.initials else f"SPO {action.subject}"
    title = action.explanation.title
    if status is Status.OVERDUE:
        return f"OVERDUE: {who}: {title} due"
    if status in CLOSED:
        return f"{who}: {title} ({status})"
    return f"{who}: {title} due"


def description(entry: Entry, status: Status, policy: Policy) -> str:
    """Built from the explanation's trigger, arithmetic, clause and policy only."""
    action = entry.action
    why = action.explanation
    title = f"{why.title[:1].upper()}{why.title[1:]}"
    lines = [
        f"{title} due {action.due}.",
        f"Why: {why.trigger} on {why.trigger_date}; {why.arithmetic}.",
        f"Policy: {why.clause} ({why.policy}).",
    ]
    rule = policy.rules.get(action.rule)
    if rule is not None:
        lines.insert(1, f"To do: {rule.action} ({OWNER_WORDS.get(action.owner, action.owner)}).")
    if why.missing and status not in CLOSED:
        # a checklist's items not yet recorded, with the ids its command takes
        lines.insert(2 if rule is not None else 1, why.missing)
    if rule is not None and rule.window is not None and action.window_opens < action.due:
        lines.append(
            f"Review window: opens {action.window_opens}, due by {action.due}; the event sits "
            "on the due date."
        )
    if why.override:
        lines.append("The due date was changed by an override (see spo explain).")
    if status is Status.OVERDUE:
        lines.append(f"OVERDUE: this was due on {action.due} and is still open.")
    elif status in CLOSED:
        lines.append(f"No longer open ({status}): see spo explain for how it ended.")
    if rule is not None and status not in CLOSED:
        lines.append(f"Record it when done: {record_command(rule, action)}")
    lines += [
        f"Action {action.id}: run `spo explain {action.id}` for the full record.",
        "Reference and initials only: the details stay in spo-tracker.",
    ]
    return "\n".join(lines)


def _alarms(entry: Entry, policy: Policy, text: str) -> list[Alarm]:
    rule = policy.rules.get(entry.action.rule)
    if rule is None:
        return []
    days = sorted(set(rule.reminders), reverse=True)
    if rule.due_day_reminder:
        days.append(0)
    alarms = []
    for before in days:
        alarm = Alarm.new(description=text)
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -dt.timedelta(days=before) + ALARM_HOUR)
        alarms.append(alarm)
    return alarms


def event(
    entry: Entry,
    *,
    policy: Policy,
    as_of: dt.date,
    timezone: str = DEFAULT_TIMEZONE,
) -> Event:
    """One all-day VEVENT on the action's due date (DTEND is exclusive: the next day)."""
    action = entry.action
    status = status_on(action, as_of)
    closed = status in CLOSED
    when = stamp(entry, as_of, timezone)
    title = text_value(summary(entry, status))
    ev = Event.new(
        uid=event_uid(action.id),
        stamp=when,
        last_modified=when,
        start=action.due,
        end=action.due + dt.timedelta(days=1),
        summary=title,
        description=text_value(description(entry, status, policy)),
        categories=[text_value(action.rule)],
        # A closed action goes out as CANCELLED with a higher SEQUENCE than the copy a client
        # imported while it was open, so the import replaces that copy instead of ignoring it.
        sequence=entry.sequence + (1 if closed else 0),
        status=STATUS.CANCELLED if closed else STATUS.CONFIRMED,
        transparency=TRANSP.TRANSPARENT,  # a deadline, not a meeting: never shows as busy
        classification=CLASS.PRIVATE,
    )
    if not closed and status is not Status.OVERDUE:
        for alarm in _alarms(entry, policy, title):
            ev.add_component(alarm)
    return ev


def london_timezone() -> Timezone:
    """A compact VTIMEZONE for Europe/London (EU rules since 1996), independent of the
    installed tz database, so its bytes never change."""
    tz = Timezone()
    tz.add("tzid", DEFAULT_TIMEZONE)
    summer = TimezoneDaylight()
    summer.add("tzname", "BST")
    summer.add("tzoffsetfrom", dt.timedelta(hours=0))
    summer.add("tzoffsetto", dt.timedelta(hours=1))
    summer.add("dtstart", dt.datetime(1981, 3, 29, 1, 0))  # noqa: DTZ001 (floating by RFC)
    summer.add("rrule", vRecur(freq="YEARLY", bymonth=3, byday="-1SU"))
    winter = TimezoneStandard()
    winter.add("tzname", "GMT")
    winter.add("tzoffsetfrom", dt.timedelta(hours=1))
    winter.add("tzoffsetto", dt.timedelta(hours=0))
    winter.add("dtstart", dt.datetime(1996, 10, 27, 2, 0))  # noqa: DTZ001 (floating by RFC)
    winter.add("rrule", vRecur(freq="YEARLY", bymonth=10, byday="-1SU"))
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


def build_calendar(
    entries: Sequence[Entry],
    *,
    name: str,
    policy: Policy,
    as_of: dt.date,
    refresh: str = DEFAULT_REFRESH,
    include_closed: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
) -> bytes:
    """The VCALENDAR for ``entries`` as they stand on ``as_of``.

    Feeds (``include_closed=False``) leave out done and cancelled actions: a client drops an
    event that disappears from a subscription. Files meant for import keep them as
    ``STATUS:CANCELLED`` so re-importing removes what an earlier import added.
    """
    interval = parse_duration(refresh)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # icalendar knows neither as TEXT (it would write them raw, unescaped): say so
    cal.add("name", vText(text_value(name)))
    cal.add("x-wr-calname", vText(text_value(name)))
    cal.add("x-wr-timezone", timezone)
    # RFC 7986 wants VALUE=DURATION; X-PUBLISHED-TTL (Outlook) is text, e.g. PT1H.
    cal.add("refresh-interval", interval, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", duration_text(interval))
    shown = [
        e
        for e in sorted(entries, key=lambda e: (e.action.due, e.action.rule, e.action.id))
        if include_closed or status_on(e.action, as_of) not in CLOSED
    ]
    events = [event(e, policy=policy, as_of=as_of, timezone=timezone) for e in shown]
    if not events:
        # RFC 5545 asks for at least one component, and some clients refuse a calendar with
        # none: an officer with nothing due gets a valid, empty-looking calendar.
        cal.add_component(london_timezone())
    for ev in events:
        cal.add_component(ev)
    # Every event is all-day (DATE values), so no other VTIMEZONE is needed; should a timed
    # event ever be added, this adds the zones its TZIDs name.
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


# ------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class Lint:
    """What ``lint`` found: problems clients trip on, and the number of events."""

    problems: list[str]
    events: int
    parsed: bool = True  # False: not readable as iCalendar at all


def lint(data: bytes) -> Lint:
    """Check a calendar the way clients read it: parseable, required properties present,
    stable identities, all-day events one day long, refresh hints well-formed. An empty
    calendar is fine: an officer with nothing due still gets a valid feed."""
    try:
        cal = Calendar.from_ical(data)
    except (ValueError, InvalidCalendar, IndexError, KeyError) as exc:
        return Lint([f"not an iCalendar document: {_one_line(exc)}"], 0, parsed=False)
    problems: list[str] = []
    if cal.name != "VCALENDAR":
        return Lint([f"the document is a {cal.name}, not a VCALENDAR"], 0, parsed=False)
    for prop in ("VERSION", "PRODID"):
        if prop not in cal:
            problems.append(f"the calendar has no {prop}")
    if "VERSION" in cal and str(cal["VERSION"]) != "2.0":
        problems.append(f"VERSION is {cal['VERSION']}, not 2.0")
    refresh = cal.get("REFRESH-INTERVAL")
    if refresh is not None and str(refresh.params.get("VALUE", "")).upper() != "DURATION":
        problems.append("REFRESH-INTERVAL lacks VALUE=DURATION (RFC 7986)")
    ttl = cal.get("X-PUBLISHED-TTL")
    if ttl is not None:
        try:
            parse_duration(str(ttl))
        except ValueError:
            problems.append(f"X-PUBLISHED-TTL {quote(str(ttl))} is not a duration such as PT1H")
    for component in cal.walk():
        for prop, error in getattr(component, "errors", []):
            problems.append(f"{component.name}: property {prop} could not be read: {error}")
    zones = {str(tz.get("TZID")) for tz in cal.walk("VTIMEZONE")}
    seen: dict[tuple[str, str], int] = {}
    events = cal.walk("VEVENT")
    for n, ev in enumerate(events, start=1):
        uid = str(ev.get("UID", "")).strip()
        label = f"event {uid or f'#{n}'}"
        if not uid:
            problems.append(f"event #{n} has no UID: clients duplicate it on every refresh")
        if "DTSTAMP" not in ev:
            problems.append(f"{label} has no DTSTAMP")
        key = (uid, str(ev.get("RECURRENCE-ID", "")))
        if uid:
            seen[key] = seen.get(key, 0) + 1
        problems += _lint_times(ev, label, zones)
        for alarm in ev.walk("VALARM"):
            if "ACTION" not in alarm or "TRIGGER" not in alarm:
                problems.append(f"{label} has a VALARM without ACTION or TRIGGER")
            elif str(alarm["ACTION"]).upper() == "DISPLAY" and "DESCRIPTION" not in alarm:
                problems.append(f"{label} has a DISPLAY alarm without DESCRIPTION")
    for (uid, _), count in sorted(seen.items()):
        if count > 1:
            problems.append(f"UID {uid} appears {count} times: clients keep one or duplicate")
    return Lint(problems, len(events))


def _lint_times(ev: Component, label: str, zones: set[str]) -> list[str]:
    problems = []
    start_prop = ev.get("DTSTART")
    if start_prop is None:
        return [f"{label} has no DTSTART"]
    start = start_prop.dt
    end_prop = ev.get("DTEND")
    if isinstance(start, dt.datetime):
        for prop in (start_prop, end_prop):
            if prop is None:
                continue
            tzid = prop.params.get("TZID")
            if tzid and str(tzid) not in zones:
                problems.append(f"{label} uses time zone {tzid} with no VTIMEZONE")
        if start.tzinfo is None:
            problems.append(f"{label} has a floating start time (no time zone): it shifts")
        return problems
    if end_prop is None:
        if "DURATION" not in ev:
            problems.append(f"{label} is all-day with no DTEND: give DTEND = DTSTART + 1 day")
        return problems
    end = end_prop.dt
    if isinstance(end, dt.datetime):
        problems.append(f"{label} starts on a date but ends at a time")
    elif end != start + dt.timedelta(days=1):
        problems.append(
            f"{label} is all-day from {start} with DTEND {end}: expected {start + dt.timedelta(1)}"
            " (DTEND is exclusive)"
        )
    return problems


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
