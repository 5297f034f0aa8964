"""The clock seam: only the outermost shell reads the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

FORCE_TZ = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        if at.utcoffset() is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at


def local_today(clock: Clock) -> date:
    """Today's calendar date in the force's time zone (never UTC midnight)."""
    return clock.now().astimezone(FORCE_TZ).date()
