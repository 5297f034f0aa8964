"""Deadline use cases: recompute and persist actions, complete or override them, and the views
officers and the SCU read (what is due, a subject's plan, one action explained, compliance).

The rules engine decides; this module gathers facts from the store, asks the engine, and
applies the answer. The day to evaluate on is always given (``--as-of``, else the context's
today in its one time zone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core import record as d
from ..core.accountability import CASE_MANAGEMENT, SUPERVISION
from ..core.causes import cause_words
from ..core.compliance import Compliance, tally
from ..core.errors import Duplicate, InvalidInput, NotFound, NotPermitted
from ..core.policy import Policy, parse_policy
from ..core.reminders import OWNER_WORDS, record_command
from ..core.rules import Action, Facts, Status, derive_actions
from ..core.rules.actions import names_action
from ..core.scope import Listing, caseload, check_rule
from ..core.text import quote
from ..store.read import MIN_ACTION_PREFIX, HistoryEntry, Reader
from ..store.replay import ReplayReader
from . import Context, Progress, accountability, writing

if TYPE_CHECKING:
    from ..store.repo import Store

BATCH = 250  # subjects recomputed per round of reads and writes
DUE_WITHIN = 14  # days ahead `spo due` looks by default


# ------------------------------------------------------------------------------ recompute


def recompute(
    ctx: Context,
    store: Store,
    refs: Sequence[str],
    *,
    cause: str,
    progress: Progress | None = None,
) -> int:
    """Derive every action of ``refs`` afresh and persist the differences; returns changes."""
    policy = ctx.policy
    store.record_policy(
        name=policy.name, version=policy.version, digest=policy.digest, text=policy.text
    )
    store.lock_subjects(refs)
    ids = store.read.subject_ids(refs)
    unallocated = ctx.settings.unallocated_officer
    supervisors = {o.email: o.supervisor for o in store.read.officers()}
    version = f"{policy.version} ({policy.digest})"
    changes = 0
    for start in range(0, len(refs), BATCH):
        chunk = list(refs[start : start + BATCH])
        existing = store.read.action_rows(chunk)
        derived = [
            (
                ids[subject.reference],
                derive_actions(_facts(subject, unallocated, supervisors), policy),
                existing.get(subject.reference, []),
            )
            for subject in store.read.subjects(chunk)
        ]
        changes += store.reconcile_actions(derived, cause=cause, policy_version=version)
        if progress is not None:
            progress(len(chunk))
    return changes


def _facts(
    subject: d.Subject, unallocated: str | None, supervisors: dict[str, str | None]
) -> Facts:
    """What the engine is told of a subject: the record, and who stands behind it."""
    manager = subject.current_officer() or unallocated
    return Facts(subject, unallocated, supervisors.get(manager or ""))


def recompute_subjects(
    ctx: Context, refs: Sequence[str] | None, *, progress: Progress | None = None
) -> tuple[int, int]:
    """``spo recompute``: these subjects (None: every one); (subjects, changes)."""
    with ctx.unit_of_work() as store:
        if refs is None:
            targets = store.read.subject_refs()
        else:
            targets = sorted(set(refs))
            for ref in targets:
                store.read.subject(ref)  # an unknown reference is an error, not a no-op
        changes = recompute(
            ctx, store, targets, cause=cause_words("recompute", None), progress=progress
        )
    return len(targets), changes


def subjects_to_recompute(ctx: Context) -> int:
    """How many subjects ``recompute_subjects(ctx, None)`` would recompute (for a progress bar)."""
    with ctx.reading() as reader:
        return len(reader.subject_refs())


# ------------------------------------------------------------------------------ overrides


_COMPLETED_BY_WORDS = {"fact": "recording the fact", "checklist": "its checklist"}


def mark_done(ctx: Context, *, action_id: str, on: dt.date, note: str | None) -> Action:
    """``spo action done``: for an action no fact completes (the rule's ``completed_by`` is
    ``manual``), done on ``on``; once: a later change of the date is a correction."""
    with writing(ctx) as store:
        action = store.read.action(action_id)
        rule = ctx.policy.rules.get(action.rule)
        if rule is not None and rule.completed_by != "manual":
            raise InvalidInput(
                f"{action.explanation.title} is completed by "
                f"{_COMPLETED_BY_WORDS[rule.completed_by]}, not marked done: "
                f"{record_command(rule, action)}",
                field="action_id",
            )
        if on > ctx.today():
            raise InvalidInput(
                f"{on} is in the future (today is {ctx.today()}): record what has happened",
                field="date",
            )
        if on < action.trigger_date:
            raise InvalidInput(
                f"{on} is before the action was triggered ({action.trigger_date})", field="date"
            )
        subject = store.read.subject(action.subject)
        done = [
            o
            for o in subject.action_overrides
            if o.kind is d.OverrideKind.DONE and names_action(o.action, action.id)
        ]
        if done:
            first = done[0]
            raise Duplicate(
                f"{action.id} was already marked done on {first.date} ({first.id}): to change "
                f"that, spo correct {first.id} --date DATE --reason TEXT",
                field="action_id",
            )
        _add_override(store, action, d.ActionOverride(action.id, d.OverrideKind.DONE, on, note))
    return action


def override(
    ctx: Context, *, action_id: str, due: dt.date | None, waive: bool, reason: str
) -> Action:
    from .admin import require_role

    if (due is None) == (not waive):
        raise InvalidInput("give either --due DATE or --waive", field="due_date")
    with writing(ctx) as store:
        action = store.read.action(action_id)
        require_role(ctx, store, "override", subject_ref=action.subject, ref=action.id)
        if due is not None and due < action.trigger_date:
            raise InvalidInput(
                f"{due} is before the action was triggered ({action.trigger_date})", field="due"
            )
        entry = (
            d.ActionOverride(action.id, d.OverrideKind.DUE, due, reason)
            if due is not None
            else d.ActionOverride(action.id, d.OverrideKind.WAIVE, ctx.today(), reason)
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


# ------------------------------------------------------------------------------ what is due


@dataclass(frozen=True)
class Due:
    """A ``spo due`` listing: the actions (in list order, read as they are shown) and what
    the heading says about them."""

    as_of: dt.date
    known_at: dt.datetime | None
    within: int
    overdue_only: bool
    include_done: bool
    who: str
    policy_changed: bool
    actions: Iterator[tuple[Action, Status]]


def _officers(
    reader: Reader,
    actor: str,
    *,
    officer: str | None,
    team: str | None,
    everyone: bool,
    subject: str | None,
) -> frozenset[str] | None:
    """Whose actions a listing shows (None: everyone's)."""
    if (officer is not None) + (team is not None) + everyone > 1:
        raise InvalidInput("give only one of --officer, --team and --all", field="--all")
    if officer is not None:
        if officer.lower() not in reader.officer_emails():
            raise NotFound(f"officer {officer} not found", field="officer")
        return frozenset({officer.lower()})
    if team is not None:
        members = frozenset(o.email for o in reader.officers(team))
        if not members:
            raise NotFound(f"team {quote(team)} not found (no officer is in it)", field="--team")
        return members
    if everyone or subject is not None:
        return None
    return caseload(actor, reader.officer(actor.lower()), reader.officers())


@contextmanager
def due(
    ctx: Context,
    *,
    officer: str | None = None,
    team: str | None = None,
    everyone: bool = False,
    subject: str | None = None,
    rule: str | None = None,
    within: int = DUE_WITHIN,
    overdue_only: bool = False,
    include_done: bool = False,
    as_of: dt.date | None = None,
    known_at: dt.datetime | None = None,
    explained: bool = True,
) -> Iterator[Due]:
    """What is due, by default in the acting user's caseload: overdue actions and those due
    within ``within`` days, most urgent first; with ``include_done`` done and cancelled
    ones too, whatever their date. The actions are read while the listing is open; without
    ``explained`` their explanations are not read (a table does not show them)."""
    check_rule(rule)
    day = as_of or ctx.today()
    listing = Listing(
        as_of=day,
        within=None if include_done else within,
        overdue_only=overdue_only,
        include_closed=include_done,
    )
    with ctx.reading() as reader:
        seen = accountability.visibility(ctx, reader)
        if subject is not None:
            reader.subject(subject, "--subject")
        officers = _officers(
            reader, ctx.actor, officer=officer, team=team, everyone=everyone, subject=subject
        )
        who = (
            officer
            or (f"team {team}" if team else None)
            or (subject and f"subject {subject}")
            or ("everyone" if everyone else ctx.actor)
        )
        if known_at is not None:
            known = actions_known_at(ctx, reader, known_at, subject=subject)
            chosen = [
                a
                for a in known
                if (rule is None or a.rule == rule) and (officers is None or a.officer in officers)
            ]
            pairs: Iterator[tuple[Action, Status]] = iter(listing.select(chosen))
            changed = False
        else:
            stored = reader.actions(
                officers=officers,
                subject=subject,
                rule=rule,
                due_by=listing.due_by,
                open_on=None if include_done else day,
                live_on=None if include_done else day,
                brief=not explained,
            )
            pairs = _listed(listing, stored)
            digest = reader.last_policy_digest()
            changed = digest is not None and digest != ctx.policy_digest()
        shown: set[str] = set()
        yield Due(
            day,
            known_at,
            within,
            overdue_only,
            include_done,
            who,
            changed,
            _visible(seen, pairs, shown),
        )
        # what the listing showed, for the access log (written as the read ends)
        accountability.consulted(
            ctx,
            reader,
            "spo due",
            shown,
            default=SUPERVISION if team or everyone or officer else CASE_MANAGEMENT,
            whole_caseload=officers is None and seen.everyone,
        )


def _visible(
    seen: accountability.Visibility, pairs: Iterator[tuple[Action, Status]], shown: set[str]
) -> Iterator[tuple[Action, Status]]:
    """The actions of subjects the acting user may see (their team's and unallocated
    ones), noting each subject shown."""
    for action, status in pairs:
        if seen.everyone or action.officer is None or action.officer in seen.officers:
            shown.add(action.subject)
            yield action, status


def _listed(listing: Listing, actions: Iterable[Action]) -> Iterator[tuple[Action, Status]]:
    """``listing``'s actions, in the order the store gives them (already the list order)."""
    for action in actions:
        status = listing.status(action)
        if status is not None:
            yield action, status


def short_ids(ctx: Context, ids: Iterable[str]) -> dict[str, str]:
    """The shortest start of each action id (six characters or more) that names it alone."""
    with ctx.reading() as reader:
        return reader.short_ids(ids)


def plan(
    ctx: Context, subject_ref: str, *, as_of: dt.date | None = None, include_done: bool = False
) -> tuple[dt.date, list[tuple[Action, Status]]]:
    """A subject's whole timeline of deadlines, including those not triggered yet."""
    day = as_of or ctx.today()
    listing = Listing(as_of=day, include_closed=include_done, include_future=True)
    with ctx.reading() as reader:
        accountability.consult_subject(ctx, reader, reader.subject(subject_ref), "spo plan")
        return day, listing.select(reader.actions(subject=subject_ref))


@dataclass(frozen=True)
class Explained:
    action: Action
    status: Status | None
    as_of: dt.date
    history: list[HistoryEntry]
    todo: str  # what the policy says to do
    who: str  # whose it is, in words
    record: str  # the command that records it


def explain(
    ctx: Context,
    action_id: str,
    *,
    as_of: dt.date | None = None,
    known_at: dt.datetime | None = None,
) -> Explained:
    """One action: its explanation, its status on the day, and the history of its changes."""
    day = as_of or ctx.today()
    with ctx.reading() as reader:
        if known_at is None:
            action = reader.action(action_id)
            history = reader.action_history(action.id)
        else:
            found = [
                a
                for a in actions_known_at(ctx, reader, known_at)
                if a.id == action_id
                or (len(action_id) >= MIN_ACTION_PREFIX and a.id.startswith(action_id))
            ]
            if not found:
                raise NotFound(
                    f"action {action_id} was not known at {known_at.isoformat()}",
                    field="action_id",
                )
            if len(found) > 1:
                raise InvalidInput(
                    f"{action_id} is the start of more than one action id: give more of it",
                    field="action_id",
                )
            action = found[0]
            history = [h for h in reader.action_history(action.id) if h.at <= known_at]
        for subject in reader.summaries_of([action.subject]):
            accountability.consult_subject(ctx, reader, subject, "spo explain")
    rule = ctx.policy.rules.get(action.rule)
    who = OWNER_WORDS.get(action.owner, action.owner)
    if action.officer:
        who = f"{who} ({action.officer})"
    return Explained(
        action,
        action.status(day),
        day,
        history,
        todo=rule.action if rule else action.explanation.title,
        who=who,
        record=record_command(rule, action) if rule else f"spo explain {action.id}",
    )


# ------------------------------------------------------------------------------ replay


def policy_at(ctx: Context, reader: Reader, at: dt.datetime) -> Policy:
    """The policy first used at or before ``at`` most recently; else the one in force."""
    entry = reader.policy_at(at)
    if entry is None or entry.digest == ctx.policy.digest:
        return ctx.policy
    return parse_policy(entry.text)


def actions_known_at(
    ctx: Context, reader: Reader, at: dt.datetime, *, subject: str | None = None
) -> list[Action]:
    """The actions the system would have derived at ``at``: the record the audit trail held
    then, under the policy then in force."""
    replay = ReplayReader(reader, at)
    policy = policy_at(ctx, reader, at)
    unallocated = ctx.settings.unallocated_officer
    supervisors = {o.email: o.supervisor for o in replay.officers()}
    actions: list[Action] = []
    for known in replay.known_subjects(subject):
        actions += derive_actions(_facts(known, unallocated, supervisors), policy)
    return actions


# ------------------------------------------------------------------------------ compliance


def _report_scope(ctx: Context, reader: Reader, team: str | None) -> str | None:
    """Reports are for supervisors and the SCU (with access control): the SCU and the service
    see the force and any team; a supervisor their own team (the default for them); an
    offender manager none, since a report ranks their colleagues. Refusals are audited."""
    me = accountability.check_actor(ctx, reader)
    if not ctx.settings.access_control or me is None or me.role is d.Role.SCU:
        return team
    if me.role is d.Role.SUPERVISOR and me.team and team in (None, me.team):
        return me.team
    what = (
        "see the compliance report"
        if me.role is not d.Role.SUPERVISOR
        else (f"see the compliance report of team {team}")
    )
    raise accountability.denied(
        ctx,
        NotPermitted(
            f"not permitted: {ctx.actor} may not {what} (a supervisor, for their own team, or "
            "the SCU)",
            what="report compliance",
            ref=team,
        ),
    )


def compliance(
    ctx: Context,
    *,
    date_from: dt.date,
    date_to: dt.date,
    as_of: dt.date | None = None,
    team: str | None = None,
) -> Compliance:
    """Actions due between the two dates: done on time, late, still open, missed."""
    if date_to < date_from:
        raise InvalidInput(f"{date_to} is before --from {date_from}", field="--to")
    day = as_of or ctx.today()
    with ctx.reading() as reader:
        teams = {o.email: o.team or "(no team)" for o in reader.officers()}
        team = _report_scope(ctx, reader, team)
        officers = None
        if team is not None:
            officers = frozenset(email for email, t in teams.items() if t == team)
            if not officers:
                raise NotFound(
                    f"team {quote(team)} not found (no officer is in it)", field="--team"
                )
        actions = reader.compliance_rows(officers=officers, due_from=date_from, due_by=date_to)
        report = tally(actions, teams=teams, date_from=date_from, date_to=date_to, as_of=day)
        report.team = team
        return report
