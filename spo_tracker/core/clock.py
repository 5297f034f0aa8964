"""The clock seam. The core only ever receives moments; the shell's clock
(``bootstrap.SystemClock``) is the one thing that reads the wall clock."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class FixedClock:
    def __init__(self, at: datetime) -> None:
        if at.utcoffset() is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at
