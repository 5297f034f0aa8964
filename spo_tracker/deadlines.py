"""Use cases for deadlines: recompute and persist actions, complete or override them, and the
views officers and the SCU read (what is due, a subject's plan, compliance figures).

The rules engine decides; this module gathers facts from the store, asks the engine, and
applies the answer. Dates to evaluate on (``as_of``, ``today``) always come from the caller.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from . import domain as d
from .errors import InvalidInput
from .policy import RULE_IDS, Policy
from .rules import Action, Facts, Status, derive_actions
from .store.repo import Store, action_from_row

Progress = Callable[[int], None]
BATCH = 250


def recompute(
    *,
    store: Store,
    refs: Sequence[str],
    policy: Policy,
    today: dt.date,
    cause: str,
    unallocated_officer: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Derive every action of ``refs`` afresh and persist the differences; returns changes."""
    store.record_policy(
        name=policy.name, version=policy.version, digest=policy.digest, text=policy.text
    )
    store.lock_subjects(refs)
    ids = store.subject_ids(refs)
    changes = 0
    for start in range(0, len(refs), BATCH):
        chunk = list(refs[start : start + BATCH])
        existing = store.action_rows(chunk)
        derived = [
            (
                ids[subject.reference],
                derive_actions(Facts(subject, unallocated_officer), policy),
                existing.get(subject.reference, []),
            )
            for subject in store.load_subjects(chunk)
        ]
        changes += store.reconcile_actions(
            derived, cause=cause, today=today, policy_version=f"{policy.version} ({policy.digest})"
        )
        if progress is not None:
            progress(len(chunk))
    return changes


# ------------------------------------------------------------------------------ overrides


def _known_action(store: Store, action_id: str) -> Action:
    return action_from_row(store.action_row(action_id))


def mark_done(*, store: Store, action_id: str, on: dt.date, note: str | None) -> Action:
    action = _known_action(store, action_id)
    if on < action.trigger_date:
        raise InvalidInput(
            f"{on} is before the action was triggered ({action.trigger_date})", field="date"
        )
    _add_override(store, action, d.ActionOverride(action.id, d.OverrideKind.DONE, on, note))
    return action


def override(
    *,
    store: Store,
    action_id: str,
    due: dt.date | None,
    waive: bool,
    reason: str,
    today: dt.date,
) -> Action:
    action = _known_action(store, action_id)
    if (due is None) == (not waive):
        raise InvalidInput("give either --due DATE or --waive", field="due_date")
    if due is not None and due < action.trigger_date:
        raise InvalidInput(
            f"{due} is before the action was triggered ({action.trigger_date})", field="due"
        )
    entry = (
        d.ActionOverride(action.id, d.OverrideKind.DUE, due, reason)
        if due is not None
        else d.ActionOverride(action.id, d.OverrideKind.WAIVE, today, reason)
    )
    _add_override(store, action, entry)
    return action


def _add_override(store: Store, action: Action, entry: d.ActionOverride) -> None:
    entry.actor = store.actor
    problems = d.check_override(entry)
    if problems:
        option = {"reason": "reason", "date": "date"}.get(problems[0].path, problems[0].path)
        raise InvalidInput(problems[0].message, field=option)
    store.add_child(action.subject, None, "action_overrides", entry, action=f"action.{entry.kind}")


# ------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class Scope:
    """Whose actions: officers (None = everyone), and other filters."""

    officers: frozenset[str] | None = None
    subject: str | None = None
    rule: str | None = None


def default_scope(store: Store, actor: str) -> frozenset[str] | None:
    """The acting user's caseload: an offender manager's own; a supervisor's team too; the
    SCU sees everyone."""
    me = store.get_officer(actor.lower())
    if me is None:
        raise InvalidInput(
            f"{actor!r} is not an officer's email: give --officer EMAIL, --team TEAM or --all",
            field="--as",
        )
    if me.role is d.Role.SCU:
        return None
    team = {me.email}
    if me.role is d.Role.SUPERVISOR:
        team |= {o.email for o in store.list_officers() if o.supervisor == me.email}
    return frozenset(team)


def check_rule(rule: str | None) -> None:
    if rule is not None and rule not in RULE_IDS:
        raise InvalidInput(f"unknown rule {rule!r} (rules: {', '.join(RULE_IDS)})", field="rule")


def due(
    *,
    store: Store,
    scope: Scope,
    as_of: dt.date,
    within: int | None,
    overdue_only: bool = False,
    include_closed: bool = False,
    include_future: bool = False,
) -> list[tuple[Action, Status]]:
    """Actions in scope as they stand on ``as_of``, most urgent first. ``include_future``
    adds those not triggered yet (a flag's review window, an order's end) as upcoming."""
    check_rule(scope.rule)
    rows = store.query_actions(
        officers=scope.officers,
        subject=scope.subject,
        rule=scope.rule,
        due_by=None if within is None else as_of + dt.timedelta(days=within),
        open_on=None if include_closed else as_of,
    )
    result = []
    for row in rows:
        action = action_from_row(row)
        status = action.status(as_of)
        if status is None:
            if not include_future:
                continue
            status = Status.UPCOMING
        if not include_closed and status in (Status.DONE, Status.CANCELLED):
            continue
        if overdue_only and status is not Status.OVERDUE:
            continue
        result.append((action, status))
    return sorted(result, key=lambda pair: due_order(pair[0]))


def due_order(action: Action) -> tuple[dt.date, str, str, str]:
    """How ``spo due`` lists actions: by due date, rule, subject, then id (a total order, so
    every path lists ties the same way)."""
    return (action.due, action.rule, action.subject, action.id)


def evaluate(
    actions: Iterable[Action],
    *,
    as_of: dt.date,
    within: int | None,
    include_closed: bool,
    overdue_only: bool = False,
) -> list[tuple[Action, Status]]:
    """The same filtering as ``due`` for actions derived in memory (replays)."""
    result = []
    for action in actions:
        status = action.status(as_of)
        if status is None:
            continue
        if not include_closed and status in (Status.DONE, Status.CANCELLED):
            continue
        if overdue_only and status is not Status.OVERDUE:
            continue
        if (
            within is not None
            and status is not Status.OVERDUE
            and (action.due > as_of + dt.timedelta(days=within))
        ):
            continue
        result.append((action, status))
    return sorted(result, key=lambda pair: due_order(pair[0]))


# ------------------------------------------------------------------------------ compliance


@dataclass
class Tally:
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    missed: int = 0  # cancelled or lapsed after its due date without being done

    @property
    def counted(self) -> int:
        return self.on_time + self.late + self.overdue + self.missed

    @property
    def percent_on_time(self) -> float | None:
        return round(100 * self.on_time / self.counted, 1) if self.counted else None

    def add(self, action: Action, status: Status, as_of: dt.date) -> None:
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


def compliance(
    *,
    store: Store,
    date_from: dt.date,
    date_to: dt.date,
    as_of: dt.date,
    team: str | None,
) -> Compliance:
    """Actions due between the two dates: done on time, late, still open, missed."""
    if date_to < date_from:
        raise InvalidInput(f"{date_to} is before --from {date_from}", field="to")
    teams = {o.email: o.team or "(no team)" for o in store.list_officers()}
    officers = None
    if team is not None:
        officers = frozenset(email for email, t in teams.items() if t == team)
        if not officers:
            raise InvalidInput(f"no officers in team {team!r}", field="team")
    report = Compliance(date_from, date_to, as_of)
    for row in store.query_actions(
        officers=officers,
        subject=None,
        rule=None,
        due_by=date_to,
        open_on=None,
        due_from=date_from,
    ):
        action = action_from_row(row)
        status = action.status(as_of)
        if status is None:
            continue
        officer = action.officer or "(unallocated)"
        for tally in (
            report.by_rule[action.rule],
            report.by_team[teams.get(officer, "(no team)")],
            report.by_officer[officer],
            report.total,
        ):
            tally.add(action, status, as_of)
    return report
