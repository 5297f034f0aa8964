"""Calendar-date helpers shared by validation and (later) the rules engine. Pure."""

from __future__ import annotations

import re
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from .errors import InvalidInput

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only
# Dates outside this range are typing mistakes, not SPO facts.
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)


def parse_date(value: str, field: str) -> date:
    """Parse a strict ISO ``YYYY-MM-DD`` date, naming ``field`` in the error."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise InvalidInput(f"{value!r} is not a date in the form YYYY-MM-DD", field=field)
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
