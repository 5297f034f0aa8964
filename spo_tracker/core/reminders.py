"""Which email an action calls for on a given day, and who receives it. Pure.

A reminder goes before the due date (the policy's lead days) and on the day; an escalation
once the action is overdue, again every ``escalation.interval_days``. Only the latest stage
that has fallen due counts: after downtime an officer gets one catch-up email per action, not
one per missed stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .policy import Rule
from .record import Officer
from .rules import Action, Status


@dataclass(frozen=True)
class Stage:
    kind: str  # "reminder" or "escalation"
    name: str  # lead-42 | due | overdue-0, overdue-1, ...
    fires_on: dt.date


def current_stage(action: Action, rule: Rule, interval_days: int, today: dt.date) -> Stage | None:
    """The latest reminder stage that has fallen due by ``today`` for an open action."""
    status = action.status(today)
    if status is None or status in (Status.DONE, Status.CANCELLED):
        return None
    candidates: list[Stage] = []
    for lead in rule.reminders:
        fires = action.due - dt.timedelta(days=lead)
        if fires >= action.trigger_date:
            candidates.append(Stage("reminder", f"lead-{lead}", fires))
    if rule.due_day_reminder:
        candidates.append(Stage("reminder", "due", action.due))
    if rule.escalate and today > action.due:
        k = (today - action.due - dt.timedelta(days=1)).days // interval_days
        fires = action.due + dt.timedelta(days=1 + k * interval_days)
        candidates.append(Stage("escalation", f"overdue-{k}", fires))
    fired = [s for s in candidates if s.fires_on <= today]
    return max(fired, key=lambda s: s.fires_on) if fired else None


def when_text(action: Action, today: dt.date) -> str:
    days = (action.due - today).days
    if days > 1:
        return f"due in {days} days"
    if days == 1:
        return "due tomorrow"
    if days == 0:
        return "due today"
    return f"overdue by {-days} day{'s' if days < -1 else ''}"


@dataclass(frozen=True)
class Directory:
    """Who is who: the officers, and the force's SCU and admin mailboxes."""

    officers: Mapping[str, Officer]
    scu_email: str | None = None
    admin_email: str | None = None

    @classmethod
    def of(
        cls, officers: Iterable[Officer], scu_email: str | None, admin_email: str | None
    ) -> Directory:
        return cls({o.email: o for o in officers}, scu_email, admin_email)

    def supervisor_of(self, email: str | None) -> str | None:
        officer = self.officers.get(email or "")
        return officer.supervisor if officer else None

    def fallback(self) -> list[str]:
        return [x for x in (self.scu_email or self.admin_email,) if x]

    def reminder_to(self, action: Action) -> list[tuple[str, str]]:
        """(email, why they get it) for a reminder or a change notice."""
        if action.officer:
            return [(action.officer, "the offender manager")]
        return [(x, "the SCU (the subject has no offender manager)") for x in self.fallback()]

    def escalation_to(self, action: Action) -> list[tuple[str, str]]:
        out = self.reminder_to(action)
        supervisor = self.supervisor_of(action.officer)
        if supervisor:
            out.append((supervisor, "the offender manager's supervisor"))
        elif self.scu_email and action.officer:
            out.append((self.scu_email, "the SCU (no supervisor on record)"))
        return list(dict.fromkeys(out))

    def breach_to(self, action: Action) -> list[str]:
        """A breach alert goes at once to the offender manager, the supervisor and the SCU."""
        candidates = [action.officer, self.supervisor_of(action.officer), self.scu_email]
        return list(dict.fromkeys(r for r in candidates if r))


@dataclass(frozen=True)
class Digest:
    """One officer's day: overdue, due today, due in the coming week."""

    officer: str
    overdue: list[Action]
    today: list[Action]
    week: list[Action]


def digests(items: Iterable[tuple[Action, Status]], today: dt.date) -> list[Digest]:
    """Each officer's digest (officers with nothing to say are left out), by email."""
    by_officer: dict[str, list[tuple[Action, Status]]] = {}
    for action, status in items:
        if action.officer:
            by_officer.setdefault(action.officer, []).append((action, status))
    week = today + dt.timedelta(days=7)
    result = []
    for officer, pairs in sorted(by_officer.items()):
        overdue = [a for a, s in pairs if s is Status.OVERDUE]
        due_today = [a for a, s in pairs if s is Status.DUE_TODAY]
        soon = [
            a for a, s in pairs if s not in (Status.OVERDUE, Status.DUE_TODAY) and a.due <= week
        ]
        if overdue or due_today or soon:
            result.append(Digest(officer, _by_due(overdue), _by_due(due_today), _by_due(soon)))
    return result


def _by_due(actions: list[Action]) -> list[Action]:
    return sorted(actions, key=lambda a: (a.due, a.subject))
