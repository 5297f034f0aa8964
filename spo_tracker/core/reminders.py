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


def stage_key(stage: Stage, action_id: str, recipient: str) -> str:
    """The outbox key of a reminder or escalation: once per action, stage (its date
    included: re-dating an action earns its reminders again) and recipient."""
    return f"{stage.kind}:{action_id}:{stage.name}@{stage.fires_on}:{recipient}"


@dataclass(frozen=True)
class QueuedStage:
    """A reminder or escalation already in the outbox, read back from its key."""

    action_id: str
    recipient: str
    name: str
    fires_on: dt.date

    @classmethod
    def parse(cls, key: str) -> QueuedStage | None:
        parts = key.split(":", 3)
        if len(parts) != 4 or parts[0] not in ("reminder", "escalation") or "@" not in parts[2]:
            return None
        name, _, fires = parts[2].rpartition("@")
        try:
            return cls(parts[1], parts[3], name, dt.date.fromisoformat(fires))
        except ValueError:
            return None

    def due(self, interval_days: int) -> dt.date | None:
        """The due date this stage was worked out from (see ``current_stage``)."""
        if self.name == "due":
            return self.fires_on
        kind, _, n = self.name.partition("-")
        if not n.isdigit():
            return None
        if kind == "lead":
            return self.fires_on + dt.timedelta(days=int(n))
        if kind == "overdue":
            return self.fires_on - dt.timedelta(days=1 + int(n) * interval_days)
        return None


def behind_queued(key: str, queued: Iterable[str], *, due: dt.date, interval_days: int) -> bool:
    """True if ``key`` is a stage older than one already queued for the same action, due
    date and recipient: after the clock went back, ``overdue-149`` must not follow
    ``overdue-150``. A stage of another due date (the action re-dated) is never behind."""
    new = QueuedStage.parse(key)
    if new is None:
        return False
    for other in queued:
        old = QueuedStage.parse(other)
        if (
            old is not None
            and (old.action_id, old.recipient) == (new.action_id, new.recipient)
            and old.fires_on > new.fires_on
            and old.due(interval_days) == due
        ):
            return True
    return False


def when_text(action: Action, today: dt.date) -> str:
    days = (action.due - today).days
    if days > 1:
        return f"due in {days} days"
    if days == 1:
        return "due tomorrow"
    if days == 0:
        return "due today"
    return f"overdue by {-days} day{'s' if days < -1 else ''}"


OWNER_WORDS = {
    "offender-manager": "the offender manager",
    "supervisor": "the offender manager's supervisor",
    "scu": "the SCU",
}


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

    def active(self, email: str | None) -> bool:
        """Not an officer who has left (a mailbox that is nobody's officer record, such as
        the SCU's, counts as active)."""
        if not email:
            return True  # nobody named: nobody who has left
        officer = self.officers.get(email)
        return officer is None or officer.active

    def supervisor_of(self, email: str | None) -> str | None:
        """The officer's supervisor, while they are still active."""
        officer = self.officers.get(email or "")
        supervisor = officer.supervisor if officer else None
        return supervisor if supervisor and self.active(supervisor) else None

    def fallback(self) -> list[str]:
        return [x for x in (self.scu_email or self.admin_email,) if x]

    def reminder_to(self, action: Action) -> list[tuple[str, str]]:
        """(email, why they get it) for a reminder or a change notice: the action's owner;
        the SCU when there is none, or when the owner has left (their mail would go unread
        until the subject is allocated again)."""
        if action.officer and self.active(action.officer):
            return [(action.officer, OWNER_WORDS.get(action.owner, "the officer"))]
        if action.officer:
            why = f"the SCU, as {action.officer} is no longer an active officer"
        else:
            why = "the SCU" if action.owner == "scu" else "the SCU (nobody else to do it)"
        return [(x, why) for x in self.fallback()]

    def escalation_to(self, action: Action) -> list[tuple[str, str]]:
        """The owner, and one step up: an offender manager's supervisor (the SCU if there
        is none), a supervisor's SCU, the SCU's administrator."""
        out = self.reminder_to(action)
        if action.owner == "offender-manager":
            supervisor = self.supervisor_of(action.officer)
            if supervisor:
                out.append((supervisor, "the offender manager's supervisor"))
            elif self.scu_email:
                out.append((self.scu_email, "the SCU (no supervisor on record)"))
        elif action.owner == "supervisor" and self.scu_email:
            out.append((self.scu_email, "the SCU, above the supervisor"))
        elif action.owner == "scu" and self.admin_email:
            out.append((self.admin_email, "the administrator, above the SCU"))
        first: dict[str, str] = {}
        for email, why in out:
            first.setdefault(email, why)  # one email each, for the first reason
        return list(first.items())

    def breach_to(self, action: Action) -> list[str]:
        """A breach alert goes at once to the offender manager, the supervisor and the SCU
        (those of them still active)."""
        candidates = [action.officer, self.supervisor_of(action.officer), self.scu_email]
        return list(dict.fromkeys(r for r in candidates if r and self.active(r)))


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


def record_command(rule: Rule, action: Action) -> str:
    """The command that records what completes ``action``, from its rule's ``record`` with the
    action's references filled in (the rest in capitals is for the officer to fill)."""
    # a flag review's key is "FLAG:period" (the engine's), the only place its flag is named
    flag = action.key.rsplit(":", 1)[0] if action.rule == "flag-review" else "FLAG"
    return rule.record.format(
        subject=action.subject,
        order=action.order or "ORDER",
        flag=flag,
        id=action.id,
        officer=action.officer or "EMAIL",
        record=action.explanation.record or "RECORD",
    )


@dataclass(frozen=True)
class TeamDigest:
    """A supervisor's day: for each officer they supervise, what is overdue and what falls due
    in the coming week."""

    supervisor: str
    officers: list[tuple[str, list[Action], list[Action]]]  # (officer, overdue, this week)


def team_digests(
    items: Iterable[tuple[Action, Status]], officers: Iterable[Officer], today: dt.date
) -> list[TeamDigest]:
    """Each supervisor's team digest (those whose team has nothing due are left out)."""
    team: dict[str, list[str]] = {}
    for officer in officers:
        if officer.supervisor and officer.active:
            team.setdefault(officer.supervisor, []).append(officer.email)
    by_officer: dict[str, list[tuple[Action, Status]]] = {}
    for action, status in items:
        if action.officer:
            by_officer.setdefault(action.officer, []).append((action, status))
    week = today + dt.timedelta(days=7)
    result = []
    for supervisor, members in sorted(team.items()):
        rows = []
        for member in sorted(members):
            pairs = by_officer.get(member, [])
            overdue = _by_due([a for a, s in pairs if s is Status.OVERDUE])
            soon = _by_due([a for a, s in pairs if s is not Status.OVERDUE and a.due <= week])
            if overdue or soon:
                rows.append((member, overdue, soon))
        if rows:
            result.append(TeamDigest(supervisor, rows))
    return result


@dataclass(frozen=True)
class ForceDigest:
    """The SCU's day: what is overdue, team by team; the subjects nobody is allocated to; the
    breaches of the past week."""

    overdue_by_team: list[tuple[str, list[Action]]]
    unallocated: list[str]  # subject references
    breaches: list[Action]

    @property
    def empty(self) -> bool:
        return not (self.overdue_by_team or self.unallocated or self.breaches)


def force_digest(
    items: Iterable[tuple[Action, Status]],
    officers: Iterable[Officer],
    breaches: Iterable[Action],
    today: dt.date,
) -> ForceDigest:
    teams = {o.email: o.team or "(no team)" for o in officers}
    overdue: dict[str, list[Action]] = {}
    unallocated: set[str] = set()
    for action, status in items:
        if action.officer is None:
            unallocated.add(action.subject)
        if status is Status.OVERDUE:
            team = teams.get(action.officer or "", "(unallocated)")
            overdue.setdefault(team, []).append(action)
    since = today - dt.timedelta(days=6)
    recent = [b for b in breaches if since <= b.trigger_date <= today and b.applies]
    return ForceDigest(
        [(team, _by_due(found)) for team, found in sorted(overdue.items())],
        sorted(unallocated),
        sorted(recent, key=lambda a: (a.trigger_date, a.subject)),
    )
