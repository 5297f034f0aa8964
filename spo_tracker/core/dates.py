"""Calendar dates: strict parsing, periods of years, month and working-day arithmetic, and
the local date of a moment. Pure: every moment is an argument, never the clock."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from .errors import InvalidInput
from .text import quote

if TYPE_CHECKING:
    from .policy import Offset

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only
# Dates outside this range are typing mistakes, not SPO facts.
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)


def parse_date(value: str, field: str) -> date:
    """Parse a strict ISO ``YYYY-MM-DD`` date, naming ``field`` in the error."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise InvalidInput(f"{quote(value)} is not a date in the form YYYY-MM-DD", field=field)
    try:
        parsed = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{text} is not a real date ({exc})", field=field) from None
    return check_range(parsed, field)


def check_range(value: date, field: str) -> date:
    if not EARLIEST <= value <= LATEST:
        raise InvalidInput(
            f"{value.isoformat()} is outside the accepted range "
            f"{EARLIEST.isoformat()}..{LATEST.isoformat()}",
            field=field,
        )
    return value


def anniversary(start: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February falls on 1 March in a common year.

    UK law treats a period of years starting on 29 February as ending with 28 February, so
    the anniversary (the first day after the period) is 1 March.
    """
    target = start + relativedelta(years=years)
    if (start.month, start.day) == (2, 29) and target.day == 28:
        return target + timedelta(days=1)
    return target


def last_day_of_period(start: date, years: int) -> date:
    """The last day of a period of ``years`` years *beginning with* ``start``.

    Made 2026-03-03, a 2-year period ends on 2028-03-02.
    """
    return anniversary(start, years) - timedelta(days=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the end of a shorter month (31 January plus one
    month is 28 or 29 February) — what ``dateutil``'s ``relativedelta(months=n)`` does, which
    a property test holds this to; written out because building a ``relativedelta`` for each
    of the ~250,000 offsets of a national recompute cost a fifth of the engine's time."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = _MONTH_DAYS[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        last = 29
    return dt.date(year, month, min(day.day, last))


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def shift(day: dt.date, offset: Offset, holidays: frozenset[dt.date]) -> dt.date:
    """``day`` moved by ``offset``: years and months clamp to the month's end, then days."""
    moved = day
    if offset.years or offset.months:
        moved = add_months(day, offset.years * 12 + offset.months)
    if not offset.working_days:
        return moved + dt.timedelta(days=offset.days)
    step = _ONE_DAY if offset.days >= 0 else -_ONE_DAY
    remaining = abs(offset.days)
    while remaining:
        moved += step
        if moved.weekday() < 5 and moved not in holidays:
            remaining -= 1
    return moved


_ONE_DAY = dt.timedelta(days=1)


def local_date(moment: dt.datetime, timezone: str) -> date:
    """The calendar date of ``moment`` in ``timezone`` (never the UTC date): 00:30 in London
    on 1 April, summer time, is 1 April though it is still 31 March in UTC."""
    return moment.astimezone(ZoneInfo(timezone)).date()
