"""Date arithmetic pinned to its rules: working days (England & Wales bank holidays), years
and months, the 29 February anniversary, the accepted range and the local date.

Expected dates come from the calendar and the rules, never from running the code: 2026's
England & Wales bank holidays are 1 January, 3 April (Good Friday), 6 April (Easter Monday),
4 and 25 May, 31 August, 25 and 28 December (Boxing Day falls on a Saturday).
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from spo_tracker.core.dates import (
    add_months,
    anniversary,
    check_range,
    last_day_of_period,
    local_date,
    parse_date,
    shift,
)
from spo_tracker.core.errors import InvalidInput
from spo_tracker.core.policy import Offset
from tests.support.facts import BANK_HOLIDAYS_2026

day = date.fromisoformat
NONE: frozenset[date] = frozenset()


def working(days: int) -> Offset:
    return Offset(days=days, working_days=True)


# --------------------------------------------------------------------------- working days


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-03-02", 1, "2026-03-03"),  # Monday -> Tuesday
        ("2026-03-06", 1, "2026-03-09"),  # Friday -> Monday: Saturday and Sunday do not count
        ("2026-03-07", 1, "2026-03-09"),  # from a Saturday, the next working day is Monday
        ("2026-03-02", 5, "2026-03-09"),  # five working days are a calendar week
        ("2026-03-04", 3, "2026-03-09"),  # Wed -> Thu 1, Fri 2, Mon 3
        ("2026-03-02", 10, "2026-03-16"),
    ],
)
def test_working_days_skip_saturdays_and_sundays(start: str, days: int, expected: str) -> None:
    assert shift(day(start), working(days), NONE) == day(expected)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-04-02", 1, "2026-04-07"),  # Thu -> (Good Friday, weekend, Easter Monday) -> Tue
        ("2026-04-02", 7, "2026-04-15"),  # Tue 7, Wed 8, Thu 9, Fri 10, Mon 13, Tue 14, Wed 15
        ("2026-05-01", 1, "2026-05-05"),  # Fri -> (weekend, early May bank holiday) -> Tue
        ("2026-12-24", 1, "2026-12-29"),  # Christmas Day and the substitute Boxing Day
    ],
)
def test_working_days_skip_bank_holidays(start: str, days: int, expected: str) -> None:
    assert shift(day(start), working(days), BANK_HOLIDAYS_2026) == day(expected)


def test_a_bank_holiday_is_a_working_day_only_when_the_policy_has_no_holidays() -> None:
    # the same Thursday before Easter with no holiday list: only the weekend is skipped
    assert shift(day("2026-04-02"), working(1), NONE) == day("2026-04-03")


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-03-10", -1, "2026-03-09"),  # Tue -> Mon
        ("2026-03-09", -1, "2026-03-06"),  # Mon -> Fri
        ("2026-03-09", -5, "2026-03-02"),
        ("2026-04-07", -1, "2026-04-02"),  # Tue after Easter -> the Thursday before
    ],
)
def test_working_days_count_backwards_for_a_negative_offset(
    start: str, days: int, expected: str
) -> None:
    assert shift(day(start), working(days), BANK_HOLIDAYS_2026) == day(expected)


def test_zero_working_days_is_the_day_itself_even_at_a_weekend() -> None:
    assert shift(day("2026-03-07"), working(0), BANK_HOLIDAYS_2026) == day("2026-03-07")


def test_calendar_days_count_weekends_and_bank_holidays() -> None:
    offset = Offset(days=7)
    assert shift(day("2026-04-02"), offset, BANK_HOLIDAYS_2026) == day("2026-04-09")
    assert shift(day("2026-04-09"), Offset(days=-7), BANK_HOLIDAYS_2026) == day("2026-04-02")


def test_months_then_working_days() -> None:
    # one month after 3 March is 3 April, Good Friday; one working day on is Tuesday 7 April
    offset = Offset(months=1, days=1, working_days=True)
    assert shift(day("2026-03-03"), offset, BANK_HOLIDAYS_2026) == day("2026-04-07")


# --------------------------------------------------------------------------- years and months


@pytest.mark.parametrize(
    ("start", "offset", "expected"),
    [
        ("2026-03-03", Offset(years=1), "2027-03-03"),
        ("2026-03-03", Offset(years=2), "2028-03-03"),
        ("2026-03-03", Offset(years=-1), "2025-03-03"),
        ("2026-03-03", Offset(years=1, months=1), "2027-04-03"),
        ("2028-02-29", Offset(years=1), "2029-02-28"),  # clamped to the month's end
        ("2026-05-31", Offset(months=-3), "2026-02-28"),
        ("2028-05-31", Offset(months=-3), "2028-02-29"),
        ("2026-01-31", Offset(months=1), "2026-02-28"),
        ("2026-12-15", Offset(months=1), "2027-01-15"),
        ("2026-01-15", Offset(months=-1), "2025-12-15"),
    ],
)
def test_years_and_months_move_the_calendar_date_clamped_to_the_months_end(
    start: str, offset: Offset, expected: str
) -> None:
    assert shift(day(start), offset, NONE) == day(expected)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2000-01-31", 1, "2000-02-29"),  # divisible by 400: a leap year
        ("1900-01-31", 1, "1900-02-28"),  # divisible by 100 only: a common year
        ("2099-12-31", 2, "2100-02-28"),
        ("2096-01-31", 1, "2096-02-29"),
        ("2027-01-31", 1, "2027-02-28"),
        ("2028-03-31", -1, "2028-02-29"),
        ("2026-03-31", -1, "2026-02-28"),
        ("2026-08-31", 1, "2026-09-30"),
    ],
)
def test_add_months_knows_the_gregorian_leap_years(start: str, months: int, expected: str) -> None:
    assert add_months(day(start), months) == day(expected)


# --------------------------------------------------------------------------- anniversaries


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        ("2026-03-03", 2, "2028-03-03"),
        ("2027-02-28", 1, "2028-02-28"),  # a 28 February start stays on 28 February
        ("2028-02-29", 1, "2029-03-01"),  # 29 February in a common year: 1 March
        ("2028-02-29", 2, "2030-03-01"),
        ("2028-02-29", 4, "2032-02-29"),  # a leap year again: 29 February
        ("2024-08-31", 2, "2026-08-31"),
    ],
)
def test_the_anniversary_of_29_february_in_a_common_year_is_1_march(
    start: str, years: int, expected: str
) -> None:
    assert anniversary(day(start), years) == day(expected)


@pytest.mark.parametrize(
    ("made", "last_day"),
    [
        ("2024-08-31", "2026-08-30"),  # the brief's example
        ("2026-03-03", "2028-03-02"),
        ("2028-02-29", "2030-02-28"),  # a period starting 29 Feb ends with 28 Feb
        ("2027-03-01", "2029-02-28"),
        ("2027-02-28", "2029-02-27"),
    ],
)
def test_a_two_year_period_beginning_with_the_day_made_ends_the_day_before_the_anniversary(
    made: str, last_day: str
) -> None:
    assert last_day_of_period(day(made), 2) == day(last_day)


# --------------------------------------------------------------------------- parsing and range


@pytest.mark.parametrize("text", ["1900-01-01", "2026-03-03", "2199-12-31", " 2026-03-03\n"])
def test_accepted_dates_run_from_1900_to_2199(text: str) -> None:
    assert parse_date(text, "--date") == day(text.strip())


@pytest.mark.parametrize("value", ["1899-12-31", "2200-01-01"])
def test_a_date_outside_1900_to_2199_is_refused_naming_the_field_and_the_range(
    value: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_date(value, "--made")
    assert caught.value.field == "--made"
    assert value in str(caught.value)
    assert "1900-01-01..2199-12-31" in str(caught.value)
    with pytest.raises(InvalidInput) as direct:
        check_range(day(value), "made")
    assert direct.value.field == "made"


@pytest.mark.parametrize("text", ["20260303", "2026-3-3", "03/03/2026", "2026-03-03T10:00", ""])
def test_only_the_yyyy_mm_dd_form_is_a_date(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_date(text, "--date")
    assert caught.value.field == "--date"
    assert "YYYY-MM-DD" in str(caught.value)


def test_a_value_that_is_not_text_is_refused_as_bad_input() -> None:
    value: Any = 20260303
    with pytest.raises(InvalidInput) as caught:
        parse_date(value, "made")
    assert caught.value.field == "made"
    assert "20260303" in str(caught.value)


def test_an_impossible_calendar_date_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_date("2027-02-29", "--date")
    assert caught.value.field == "--date"
    assert "2027-02-29 is not a real date" in str(caught.value)


# --------------------------------------------------------------------------- local date


def test_the_local_date_is_the_date_in_the_given_time_zone_not_in_utc() -> None:
    moment = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)  # 00:30 BST on 1 April
    assert local_date(moment, "Europe/London") == day("2026-04-01")
    assert local_date(moment, "America/New_York") == day("2026-03-31")
    assert local_date(moment, "Pacific/Auckland") == day("2026-04-01")
    late = dt.datetime(2026, 1, 15, 12, 0, tzinfo=ZoneInfo("Pacific/Auckland"))  # 23:00 UTC
    assert local_date(late, "Europe/London") == day("2026-01-14")
