"""Compliance figures: for actions due in a period, how many were done on time, late, are
still open or overdue, or were missed. Pure."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .rules import Status
from .rules.actions import status_on


class Due(NamedTuple):
    """What compliance needs of an action: who, which rule, and its dates."""

    rule: str
    officer: str | None
    trigger_date: dt.date
    due: dt.date
    completed: dt.date | None
    cancelled_on: dt.date | None
    lapses_on: dt.date | None
    soon_from: dt.date
    applies: bool
    # its completion date was changed after it was first recorded (a corrected fact, or a
    # corrected override): counted, and shown, beside the figures
    corrected: bool = False

    def status(self, as_of: dt.date) -> Status | None:
        return status_on(
            as_of,
            trigger_date=self.trigger_date,
            due=self.due,
            completed=self.completed,
            cancelled_on=self.cancelled_on,
            lapses_on=self.lapses_on,
            soon_from=self.soon_from,
            applies=self.applies,
        )


@dataclass
class Tally:
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    missed: int = 0  # cancelled or lapsed after its due date without being done
    corrected: int = 0  # of those counted, how many had their completion corrected

    @property
    def counted(self) -> int:
        return self.on_time + self.late + self.overdue + self.missed

    @property
    def percent_on_time(self) -> float | None:
        return round(100 * self.on_time / self.counted, 1) if self.counted else None

    def add(self, action: Due, status: Status, as_of: dt.date) -> None:
        if action.corrected:
            self.corrected += 1
        if status is Status.DONE:
            if action.completed is not None and action.completed > action.due:
                self.late += 1
            else:
                self.on_time += 1
        elif status is Status.CANCELLED:
            stopped = action.cancelled_on or action.lapses_on or as_of
            if stopped > action.due:
                self.missed += 1
        elif status is Status.OVERDUE:
            self.overdue += 1
        else:
            self.open += 1


@dataclass
class Compliance:
    date_from: dt.date
    date_to: dt.date
    as_of: dt.date
    by_rule: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_team: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_officer: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    total: Tally = field(default_factory=Tally)
    team: str | None = None  # the team reported on; None: the force


def tally(
    actions: Iterable[Due],
    *,
    teams: Mapping[str, str],
    date_from: dt.date,
    date_to: dt.date,
    as_of: dt.date,
) -> Compliance:
    """Count ``actions`` (those due in the period) by rule, team, officer and in all."""
    report = Compliance(date_from, date_to, as_of)
    for action in actions:
        status = action.status(as_of)
        if status is None:
            continue
        officer = action.officer or "(unallocated)"
        for t in (
            report.by_rule[action.rule],
            report.by_team[teams.get(officer, "(no team)")],
            report.by_officer[officer],
            report.total,
        ):
            t.add(action, status, as_of)
    return report
