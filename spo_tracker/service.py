"""The service's use cases: sweep (decide what email is due and queue it), deliver (send the
queue), watchdog (tell someone when the service itself is failing).

Every function takes ``now`` from its caller: the scheduler passes the wall clock, tests pass
whatever moment they need. Exactly once: each email is an outbox row with a unique key
(kind, action, stage, recipient, occurrence); a sweep only ever adds missing rows, and a row
is sent by whoever claims it first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from . import domain as d
from .config import Settings
from .policy import Policy, Rule
from .rules import Action, Status
from .store.repo import Store, action_from_row

log = logging.getLogger("spo.service")

BREACH_ALERT_DAYS = 14  # breaches older than this when first seen are history, not alerts
MAX_BACKOFF = dt.timedelta(hours=1)
# A transient failure is retried for as long as it takes (an outage over a weekend must lose
# nothing); the watchdog says when messages have been failing for longer than this.
FAILING_ALERT_AFTER = dt.timedelta(hours=2)
HEARTBEAT = "sweep.completed"
DELIVERY_HEARTBEAT = "delivery.completed"
CHANGE_WATERMARK = "change.last_history_id"
FIRST_SEEN = "service.first_seen"


# ------------------------------------------------------------------------------ stages (pure)


@dataclass(frozen=True)
class Stage:
    kind: str  # "reminder" or "escalation"
    name: str  # lead-42 | due | overdue-0, overdue-1, ...
    fires_on: dt.date


def current_stage(action: Action, rule: Rule, interval_days: int, today: dt.date) -> Stage | None:
    """The latest reminder stage that has fallen due by ``today`` for an open action.

    Only the latest: after downtime the officer gets one catch-up email per action, not one
    per missed stage.
    """
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


# ------------------------------------------------------------------------------ the sweep


@dataclass
class SweepResult:
    queued: int = 0
    recomputed: int = 0


class _Sweep:
    def __init__(self, store: Store, settings: Settings, policy: Policy, now: dt.datetime):
        self.store = store
        self.settings = settings
        self.policy = policy
        self.now = now
        self.today = now.astimezone(ZoneInfo(settings.timezone)).date()
        officers = store.list_officers()
        self.officers = {o.email: o for o in officers}
        self.initials: dict[str, str] = {}
        self.rows: list[dict[str, Any]] = []

    # recipients

    def supervisor_of(self, email: str | None) -> str | None:
        officer = self.officers.get(email or "")
        return officer.supervisor if officer else None

    def fallback(self) -> list[str]:
        return [x for x in (self.settings.scu_email or self.settings.admin_email,) if x]

    def reminder_to(self, action: Action) -> list[tuple[str, str]]:
        if action.officer:
            return [(action.officer, "the offender manager")]
        return [(x, "the SCU (the subject has no offender manager)") for x in self.fallback()]

    def escalation_to(self, action: Action) -> list[tuple[str, str]]:
        out = self.reminder_to(action)
        supervisor = self.supervisor_of(action.officer)
        if supervisor:
            out.append((supervisor, "the offender manager's supervisor"))
        elif self.settings.scu_email and action.officer:
            out.append((self.settings.scu_email, "the SCU (no supervisor on record)"))
        return list(dict.fromkeys(out))

    # context

    def subject_initials(self, refs: Iterable[str]) -> None:
        missing = sorted(set(refs) - set(self.initials))
        for subject in self.store.load_subjects(missing) if missing else []:
            self.initials[subject.reference] = initials(subject.current_name())

    def action_context(self, action: Action) -> dict[str, Any]:
        e = action.explanation
        return {
            "id": action.id,
            "rule": action.rule,
            "title": e.title,
            "subject": action.subject,
            "initials": self.initials.get(action.subject, "?"),
            "order": action.order,
            "officer": action.officer,
            "due": action.due.isoformat(),
            "when": when_text(action, self.today),
            # Only the engine's own wording: completion and override texts can carry notes.
            "trigger": e.trigger,
            "trigger_date": e.trigger_date.isoformat(),
            "arithmetic": e.arithmetic,
            "clause": e.clause,
            "policy": e.policy,
        }

    def queue(
        self,
        *,
        kind: str,
        template: str,
        key: str,
        recipient: str,
        context: dict[str, Any],
        action: Action | None = None,
        stage: str = "",
        occurrence: str = "",
        subject_ref: str | None = None,
    ) -> None:
        self.rows.append(
            {
                "dedupe_key": key,
                "kind": kind,
                "action_id": action.id if action else None,
                "stage": stage,
                "occurrence": occurrence,
                "recipient": recipient,
                "subject_ref": subject_ref or (action.subject if action else None),
                "template": template,
                "context": context,
            }
        )

    # what is due

    def open_actions(self) -> list[tuple[Action, Status]]:
        horizon = max((max(r.reminders, default=0) for r in self.policy.rules.values()), default=0)
        rows = self.store.query_actions(
            officers=None,
            subject=None,
            rule=None,
            due_by=self.today + dt.timedelta(days=max(horizon, 7)),
            open_on=self.today,
        )
        result: list[tuple[Action, Status]] = []
        for row in rows:
            action = action_from_row(row)
            status = action.status(self.today)
            if status is not None and status not in (Status.DONE, Status.CANCELLED):
                result.append((action, status))
        return result

    def reminders(self, actions: list[tuple[Action, Status]]) -> None:
        interval = self.policy.escalation_interval_days
        for action, _ in actions:
            rule = self.policy.rules.get(action.rule)
            if rule is None or not rule.enabled:
                continue
            stage = current_stage(action, rule, interval, self.today)
            if stage is None:
                continue
            recipients = (
                self.escalation_to(action)
                if stage.kind == "escalation"
                else self.reminder_to(action)
            )
            for recipient, role in recipients:
                self.queue(
                    kind=stage.kind,
                    template=stage.kind,
                    # the date is part of the stage: re-dating an action earns its reminders again
                    key=f"{stage.kind}:{action.id}:{stage.name}@{stage.fires_on}:{recipient}",
                    recipient=recipient,
                    action=action,
                    stage=stage.name,
                    context={
                        "action": self.action_context(action),
                        "role": role,
                        "interval": interval,
                    },
                )

    def breaches(self) -> None:
        since = self.today - dt.timedelta(days=BREACH_ALERT_DAYS)
        rows = self.store.query_actions(
            officers=None,
            subject=None,
            rule="breach-response",
            due_by=self.today,
            open_on=None,
            due_from=since,
        )
        actions = [action_from_row(r) for r in rows]
        self.subject_initials(a.subject for a in actions)
        for action in actions:
            subject = self.store.load_subject(action.subject)
            breach = _breach_for(subject, action)
            recipients = [
                action.officer,
                self.supervisor_of(action.officer),
                self.settings.scu_email,
            ]
            for recipient in dict.fromkeys(r for r in recipients if r):
                self.queue(
                    kind="breach",
                    template="breach",
                    key=f"breach:{action.id}:alert:{recipient}",
                    recipient=recipient,
                    action=action,
                    stage="alert",
                    context={"action": self.action_context(action), "breach": breach},
                )

    def changes(self) -> None:
        from .store import outbox

        start = int(outbox.get_state(self.store.session, CHANGE_WATERMARK) or 0)
        history = self.store.history_since(start)
        if not history:
            return
        for entry in history:
            notable = entry.field == "due" or (entry.field == "state" and entry.new == "cancelled")
            if not notable or entry.old is None:
                continue
            action = action_from_row(self.store.action_row(entry.action_id))
            self.subject_initials([action.subject])
            label = "due date" if entry.field == "due" else "state"
            summary = f"moved to {entry.new}" if entry.field == "due" else "cancelled"
            for recipient, _role in self.reminder_to(action):
                self.queue(
                    kind="change",
                    template="change",
                    key=f"change:{entry.id}:{recipient}",
                    recipient=recipient,
                    action=action,
                    stage=f"history-{entry.id}",
                    context={
                        "action": self.action_context(action),
                        "change": {
                            "label": label,
                            "old": entry.old,
                            "new": entry.new,
                            "cause": entry.cause,
                            "summary": summary,
                        },
                    },
                )
        outbox.set_state(self.store.session, CHANGE_WATERMARK, str(history[-1].id), self.now)

    def digests(self, actions: list[tuple[Action, Status]]) -> None:
        local = self.now.astimezone(ZoneInfo(self.settings.timezone))
        if local.time() < self.settings.digest_clock():
            return
        by_officer: dict[str, list[tuple[Action, Status]]] = {}
        for action, status in actions:
            if action.officer:
                by_officer.setdefault(action.officer, []).append((action, status))
        week = self.today + dt.timedelta(days=7)
        for officer, items in sorted(by_officer.items()):
            overdue = [a for a, s in items if s is Status.OVERDUE]
            today = [a for a, s in items if s is Status.DUE_TODAY]
            soon = [
                a for a, s in items if s not in (Status.OVERDUE, Status.DUE_TODAY) and a.due <= week
            ]
            if not (overdue or today or soon):
                continue
            self.queue(
                kind="digest",
                template="digest",
                key=f"digest:{self.today}:{officer}",
                recipient=officer,
                stage="digest",
                occurrence=self.today.isoformat(),
                context={
                    "officer": officer,
                    "date": self.today.isoformat(),
                    "overdue": [self.action_context(a) for a in sorted(overdue, key=_by_due)],
                    "today": [self.action_context(a) for a in sorted(today, key=_by_due)],
                    "week": [self.action_context(a) for a in sorted(soon, key=_by_due)],
                },
            )

    def flush(self) -> int:
        from .mail.render import render
        from .store import outbox

        if not self.rows:
            return 0
        have = outbox.existing_keys(self.store.session, (r["dedupe_key"] for r in self.rows))
        fresh: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            if row["dedupe_key"] in have or row["dedupe_key"] in fresh:
                continue
            context = {"app_url": self.settings.app_url, **row.pop("context")}
            rendered = render(row["template"], context)
            fresh[row["dedupe_key"]] = {
                **row,
                "subject_line": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "state": "pending",
                "attempts": 0,
                "created_at": self.now,
                "next_attempt_at": self.now,
                "message_id": message_id(row["dedupe_key"]),
            }
        return outbox.enqueue(self.store.session, list(fresh.values()))


def _by_due(action: Action) -> tuple[dt.date, str]:
    return (action.due, action.subject)


def _breach_for(subject: d.Subject, action: Action) -> dict[str, Any]:
    day = action.trigger_date
    same_day = [b for b in subject.breaches if b.date == day]
    breach = same_day[0] if same_day else None
    return {
        "date": day.isoformat(),
        "offence": "failure to notify (s11)"
        if breach and breach.offence is d.Offence.FAILURE_TO_NOTIFY
        else "breach of the order (s8)",
        "crime_ref": breach.crime_ref if breach else None,
        "arrested": bool(breach and breach.arrested),
    }


def initials(name: str) -> str:
    """``"John Adam Smith"`` -> ``"J.A.S."``: what emails and calendars may carry."""
    parts = [p for p in name.replace("-", " ").split() if p]
    return "".join(f"{p[0].upper()}." for p in parts) or "?"


def message_id(dedupe_key: str) -> str:
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]
    return f"<{digest}@spo-tracker>"


def sweep(*, store: Store, settings: Settings, policy: Policy, now: dt.datetime) -> SweepResult:
    """Queue every email that has become due. Safe to run any number of times."""
    from . import deadlines
    from .store import outbox

    result = SweepResult()
    store.lock_named("spo-sweep")  # several instances: one sweep at a time
    if store.last_policy_digest() not in (None, policy.digest):
        refs = store.subject_refs()
        result.recomputed = len(refs)
        deadlines.recompute(
            store=store,
            refs=refs,
            policy=policy,
            today=now.astimezone(ZoneInfo(settings.timezone)).date(),
            cause="policy change",
        )
    run = _Sweep(store, settings, policy, now)
    actions = run.open_actions()
    run.subject_initials(a.subject for a, _ in actions)
    run.reminders(actions)
    run.breaches()
    run.changes()
    run.digests(actions)
    result.queued = run.flush()
    outbox.set_state(store.session, HEARTBEAT, now.isoformat(), now)
    return result


# ------------------------------------------------------------------------------ delivery


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0


def worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


async def deliver(
    *,
    db: str | None,
    settings: Settings,
    transport: Any,
    now: dt.datetime,
    limit: int = 1000,
) -> DeliveryResult:
    """Send what is due in the outbox: claim, send, record. Transient failures back off
    exponentially; permanent ones go dead (and the watchdog says so)."""
    import asyncio

    from .mail.deliver import PermanentError, TransientError, build_message
    from .store import outbox
    from .store.db import make_engine, resolve_url

    engine = make_engine(resolve_url(db))
    result = DeliveryResult()
    me = worker_name()
    try:
        timeout = dt.timedelta(seconds=settings.claim_timeout_seconds)
        await asyncio.to_thread(outbox.release_stale_claims, engine, now - timeout)
        ids = await asyncio.to_thread(outbox.due_ids, engine, now, limit)
        for row_id in ids:
            row = await asyncio.to_thread(outbox.claim, engine, row_id, now, me)
            if row is None:
                continue  # another instance has it
            if os.environ.get("SPO_FAULT") == "crash-after-claim":
                os._exit(70)  # test hook: a process killed between claim and send
            try:
                try:
                    message = build_message(
                        sender=settings.mail_from,
                        recipient=row.recipient,
                        subject=row.subject_line,
                        text=row.body_text,
                        html=row.body_html,
                        message_id=row.message_id,
                        date=now,
                    )
                except ValueError as exc:
                    raise PermanentError(f"cannot build the message: {exc}") from exc
                await transport.send(message)
            except TransientError as exc:
                attempts = row.attempts + 1
                state = "failed"
                backoff = min(MAX_BACKOFF, dt.timedelta(seconds=30 * 2 ** min(attempts, 12)))
                await asyncio.to_thread(
                    outbox.finish,
                    engine,
                    row_id,
                    state=state,
                    attempts=attempts,
                    last_error=str(exc)[:500],
                    next_attempt_at=now + backoff,
                    claimed_at=None,
                    claimed_by=None,
                )
                result.failed += 1
                log.warning(
                    "delivery of outbox #%s failed (%s), retry after %s", row_id, exc, now + backoff
                )
                continue
            except PermanentError as exc:
                await asyncio.to_thread(
                    outbox.finish,
                    engine,
                    row_id,
                    state="dead",
                    attempts=row.attempts + 1,
                    last_error=str(exc)[:500],
                    claimed_at=None,
                    claimed_by=None,
                )
                result.dead += 1
                log.error("delivery of outbox #%s failed permanently: %s", row_id, exc)
                continue
            await asyncio.to_thread(
                outbox.finish,
                engine,
                row_id,
                state="sent",
                sent_at=now,
                attempts=row.attempts + 1,
                last_error=None,
            )
            result.sent += 1
        with_session_set(engine, DELIVERY_HEARTBEAT, now)
    finally:
        await transport.close()
        engine.dispose()
    return result


def with_session_set(engine: Any, name: str, now: dt.datetime) -> None:
    from sqlmodel import Session

    from .store import outbox

    with Session(engine) as session:
        outbox.set_state(session, name, now.isoformat(), now)
        session.commit()


# ------------------------------------------------------------------------------ watchdog


def watchdog(*, store: Store, settings: Settings, now: dt.datetime) -> list[str]:
    """Queue alerts when a message went dead or the sweep has stalled; returns the problems."""
    from .mail.render import render
    from .store import outbox

    store.lock_named("spo-sweep")
    problems: list[tuple[str, str, list[str]]] = []  # (key, text, recipients)
    admin = [settings.admin_email] if settings.admin_email else []
    last = outbox.get_state(store.session, HEARTBEAT)
    limit = dt.timedelta(minutes=settings.watchdog_minutes)
    if last is not None and now - dt.datetime.fromisoformat(last) > limit:
        text = (
            f"the sweep last completed at {last}, more than {settings.watchdog_minutes} minutes ago"
        )
        problems.append((f"watchdog:stale:{last}", text, admin))
    elif last is None:
        # a new installation: only a sweep that keeps failing from the start is a problem
        first = outbox.get_state(store.session, FIRST_SEEN)
        if first is None:
            outbox.set_state(store.session, FIRST_SEEN, now.isoformat(), now)
        elif now - dt.datetime.fromisoformat(first) > limit:
            problems.append(
                (f"watchdog:never:{first}", f"the sweep has never completed (since {first})", admin)
            )
    oldest = store.oldest_failing()
    if oldest is not None and now - oldest.created_at > FAILING_ALERT_AFTER:
        text = (
            f"emails have been failing since {oldest.created_at:%Y-%m-%d %H:%M} UTC and are "
            f"being retried (last error: {oldest.last_error})"
        )
        problems.append((f"watchdog:failing:{oldest.id}", text, admin))
    for row in store.dead_messages():
        officers = {o.email: o for o in store.list_officers()}
        owner = officers.get(row.recipient)
        supervisor = owner.supervisor if owner else None
        text = (
            f"email #{row.id} ({row.kind} for {row.subject_ref or '-'}) to {row.recipient} "
            f"could not be delivered: {row.last_error}"
        )
        problems.append(
            (f"watchdog:dead:{row.id}", text, admin + ([supervisor] if supervisor else []))
        )
    queue = outbox.counts(store.session)
    rows: list[dict[str, Any]] = []
    for key, text, recipients in problems:
        for recipient in dict.fromkeys(recipients):
            dedupe = f"{key}:{recipient}"
            rendered = render(
                "watchdog", {"problems": [text], "queue": queue, "app_url": settings.app_url}
            )
            rows.append(
                {
                    "dedupe_key": dedupe,
                    "kind": "watchdog",
                    "action_id": None,
                    "stage": key,
                    "occurrence": "",
                    "recipient": recipient,
                    "subject_ref": None,
                    "template": "watchdog",
                    "subject_line": rendered.subject,
                    "body_text": rendered.text,
                    "body_html": rendered.html,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "message_id": message_id(dedupe),
                }
            )
    have = outbox.existing_keys(store.session, (str(r["dedupe_key"]) for r in rows))
    outbox.enqueue(store.session, [r for r in rows if r["dedupe_key"] not in have])
    for _, text, _ in problems:
        log.error("watchdog: %s", text)
    return [text for _, text, _ in problems]
