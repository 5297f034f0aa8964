"""Whose actions a view shows, and which of them: one definition for every entry point. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InvalidInput
from .policy import RULE_IDS
from .record import Officer, Role
from .rules import Action, State, Status
from .text import quote


@dataclass(frozen=True)
class Scope:
    """Whose actions: officers (None = everyone), and other filters."""

    officers: frozenset[str] | None = None
    subject: str | None = None
    rule: str | None = None


def caseload(actor: str, me: Officer | None, officers: Iterable[Officer]) -> frozenset[str] | None:
    """The acting user's caseload: an offender manager's own; a supervisor's team too; the
    SCU sees everyone (None)."""
    if me is None:
        raise InvalidInput(
            f"{quote(actor)} is not an officer's email: give --officer EMAIL, --team TEAM or --all",
            field="--as",
        )
    if me.role is Role.SCU:
        return None
    team = {me.email}
    if me.role is Role.SUPERVISOR:
        team |= {o.email for o in officers if o.supervisor == me.email}
    return frozenset(team)


def check_rule(rule: str | None) -> None:
    if rule is not None and rule not in RULE_IDS:
        import difflib

        # against whole ids and their words: "renewl" is renewal-submission, not smp-review
        words = {w: r for r in reversed(RULE_IDS) for w in (r, *r.split("-"))}
        close = difflib.get_close_matches(rule, list(words), n=1, cutoff=0.5)
        hint = f"did you mean {words[close[0]]}? " if close else ""
        raise InvalidInput(
            f"unknown rule {quote(rule)} ({hint}rules: {', '.join(RULE_IDS)})", field="--rule"
        )


@dataclass(frozen=True)
class Listing:
    """Which actions a list shows on ``as_of``: open ones due within ``within`` days (None:
    any date) and every overdue one; with ``include_closed`` done and cancelled ones too; with
    ``include_future`` those not triggered yet (as upcoming)."""

    as_of: dt.date
    within: int | None = None
    overdue_only: bool = False
    include_closed: bool = False
    include_future: bool = False

    @property
    def due_by(self) -> dt.date | None:
        return None if self.within is None else self.as_of + dt.timedelta(days=self.within)

    def status(self, action: Action) -> Status | None:
        """The status to show ``action`` with, or None to leave it out."""
        status = action.status(self.as_of)
        if status is None:
            if not (self.include_future and action.applies):
                return None
            # not triggered yet: what the facts already say of it, else upcoming
            status = Status.CANCELLED if action.state is State.CANCELLED else Status.UPCOMING
        if not self.include_closed and status in (Status.DONE, Status.CANCELLED):
            return None
        if self.overdue_only and status is not Status.OVERDUE:
            return None
        due_by = self.due_by
        if due_by is not None and status is not Status.OVERDUE and action.due > due_by:
            return None
        return status

    def select(self, actions: Iterable[Action]) -> list[tuple[Action, Status]]:
        """The listed actions with their status, in ``due_order``."""
        pairs = [(a, s) for a in actions if (s := self.status(a)) is not None]
        return sorted(pairs, key=lambda pair: due_order(pair[0]))


def due_order(action: Action) -> tuple[dt.date, str, str, str]:
    """How lists are ordered: by due date, rule, subject, then id (a total order, so every
    path lists ties the same way)."""
    return (action.due, action.rule, action.subject, action.id)
