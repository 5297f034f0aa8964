"""The service's use cases: sweep (decide what email is due and queue it), deliver (send the
queue), watchdog (tell someone when the service itself is failing).

Every function takes ``now`` from its caller: the scheduler passes the wall clock, tests pass
whatever moment they need. Exactly once: each email is an outbox row with a unique key
(kind, action, stage, recipient, occurrence); a sweep only ever adds missing rows, and a row
is sent by whoever claims it first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import domain as d
from .config import Settings
from .policy import Policy, Rule
from .rules import Action, Status
from .store.repo import Store, action_from_row

if TYPE_CHECKING:
    import asyncio

    from .store.outbox import Claimed, Outcome

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


#: Claims start at one row and double up to CLAIM_MAX rows per transaction. A pass that dies
#: at once (a process killed as it starts; the crash-after-claim fault) strands a single row
#: until ``claim_timeout_seconds`` rather than a batch, and a second instance starting a moment
#: later still finds work; a long queue reaches full batches after a few claims, so its
#: commits are one per CLAIM_MAX rows.
CLAIM_MAX = 64


async def deliver(
    *,
    db: str | None,
    settings: Settings,
    transport: Any,
    now: dt.datetime,
    limit: int = 1000,
) -> DeliveryResult:
    """Send what is due in the outbox: claim, send, record. Transient failures back off
    exponentially; permanent ones go dead (and the watchdog says so).

    Rows are claimed in batches (one conditional UPDATE each, see ``outbox.claim_due`` and
    CLAIM_MAX) and sent by ``transport.connections`` senders at once, one message per
    connection at a time; outcomes are written in small batches (``_Recorder``, RECORD_WAIT).
    Exactly once: a row is sent only by the worker whose claim took it; a crash after a claim
    leaves its rows claimed until ``claim_timeout_seconds``, then each goes once; claimed rows
    not yet started when a pass stops early (an error, a cancel) are handed back at once.
    """
    import asyncio

    from .store import outbox
    from .store.db import make_engine, resolve_url

    engine = make_engine(resolve_url(db))
    result = DeliveryResult()
    recorder = _Recorder(engine, now, result)
    senders = max(1, int(getattr(transport, "connections", 1)))
    feeder = _Feeder(engine, now, limit=limit, ahead=senders, stop=recorder.failed)
    failures: list[BaseException] = []

    async def sender() -> None:
        try:
            while not failures and (row := await feeder.next()) is not None:
                recorder.add(await _send_one(row, settings=settings, transport=transport, now=now))
        except Exception as exc:  # not a delivery verdict: the pass stops once in-flight
            failures.append(exc)  # sends finish (a row that raised stays claimed, as before)

    try:
        timeout = dt.timedelta(seconds=settings.claim_timeout_seconds)
        await asyncio.to_thread(outbox.release_stale_claims, engine, now - timeout)
        await asyncio.gather(*(sender() for _ in range(senders)))
        await recorder.drain()
        await feeder.hand_back()
        if failures:
            raise failures[0]
        with_session_set(engine, DELIVERY_HEARTBEAT, now)
    finally:
        try:
            # on the way out with an error: what is known is still written, what was not
            # started is still handed back
            await recorder.settle()
            await feeder.settle()
        finally:
            await transport.close()
            engine.dispose()
    return result


class _Feeder:
    """Claims due rows for the senders: in batches of 1, 2, 4, ... CLAIM_MAX (never more than
    ``limit`` in all), the next batch claimed in the background while the senders still
    have ``ahead`` rows to go, so they do not wait for the database."""

    def __init__(
        self,
        engine: Any,
        now: dt.datetime,
        *,
        limit: int,
        ahead: int,
        stop: Callable[[], bool],
    ) -> None:
        from collections import deque

        self.engine = engine
        self.now = now
        self.limit = limit
        self.ahead = ahead
        self.stop = stop
        self.me = worker_name()
        self.crash_after_claim = os.environ.get("SPO_FAULT") == "crash-after-claim"
        self.waiting: deque[Claimed] = deque()  # claimed, not yet handed to a sender
        self.size = 1
        self.taken = 0
        self.exhausted = limit < 1  # nothing more to claim
        self.claiming: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def next(self) -> Claimed | None:
        """The next row to send; None when there is no more (or the pass is stopping)."""
        import asyncio

        while True:
            if self.stop() or self.error is not None:
                return None
            if len(self.waiting) <= self.ahead:
                self._claim_more()
            if self.waiting:
                return self.waiting.popleft()
            if self.claiming is None:
                return None
            await asyncio.wait([self.claiming])

    def _claim_more(self) -> None:
        import asyncio

        if self.claiming is None and not self.exhausted:
            self.claiming = asyncio.create_task(self._claim())

    async def _claim(self) -> None:
        import asyncio

        from .store import outbox

        try:
            size = max(1, min(self.size, self.limit - self.taken))
            batch = await asyncio.to_thread(outbox.claim_due, self.engine, self.now, self.me, size)
            if self.crash_after_claim and batch:
                os._exit(70)  # test hook: a process killed between claim and send
            self.waiting.extend(batch)
            self.taken += len(batch)
            self.size = min(self.size * 2, CLAIM_MAX)
            self.exhausted = len(batch) < size or self.taken >= self.limit
        except Exception as exc:
            self.error = exc
        finally:
            self.claiming = None

    async def hand_back(self) -> None:
        """At the end of a pass: give back the claims on rows no sender started; raise what a
        claim raised."""
        import asyncio

        from .store import outbox

        if self.claiming is not None:
            await asyncio.wait([self.claiming])
        if self.waiting:
            ids = [row.id for row in self.waiting]
            self.waiting.clear()
            await asyncio.to_thread(outbox.release, self.engine, ids, self.me)
        if self.error is not None:
            raise self.error

    async def settle(self) -> None:
        """``hand_back`` on the way out of a pass: best effort, never raises."""
        self.error = None
        try:
            await self.hand_back()
        except Exception:  # already leaving with another error
            log.exception("could not hand back unsent delivery claims")


async def _send_one(
    row: Claimed, *, settings: Settings, transport: Any, now: dt.datetime
) -> Outcome:
    """Build and send one claimed row; the outcome to record (never raises a delivery error)."""
    from .mail.deliver import PermanentError, TransientError, compose
    from .store.outbox import Outcome

    attempts = row.attempts + 1
    try:
        try:
            message = compose(
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
        backoff = min(MAX_BACKOFF, dt.timedelta(seconds=30 * 2 ** min(attempts, 12)))
        log.warning(
            "delivery of outbox #%s failed (%s), retry after %s", row.id, exc, now + backoff
        )
        return Outcome(row.id, "failed", attempts, str(exc)[:500], now + backoff)
    except PermanentError as exc:
        log.error("delivery of outbox #%s failed permanently: %s", row.id, exc)
        return Outcome(row.id, "dead", attempts, str(exc)[:500])
    return Outcome(row.id, "sent", attempts)


#: Outcomes are committed as soon as they are known; those that arrive while a commit is
#: under way go together in the next one (a group commit), up to RECORD_BATCH at a time.
#: RECORD_WAIT would hold a first outcome back to gather more: 0, since every outcome held
#: back widens what a crash could send twice.
RECORD_WAIT = 0.0
RECORD_BATCH = 64


class _Recorder:
    """Writes send outcomes to the outbox, grouping those that arrive during a commit.

    Why not one commit per message, as before: each costs ~0.3 ms of CPU in SQLAlchemy and
    SQLite plus a hand-off to a worker thread that stalls the event loop on the GIL; at
    hundreds of messages a second that is as much as the sending itself.

    What it costs: a crash (the process killed) re-sends what the server accepted but the
    outbox has not yet recorded. The claim goes stale and the row is sent once more after
    ``claim_timeout_seconds``, with the same Message-ID, so it is recognisable as a repeat.
    Before, that window was the one message in flight; now it is the messages in flight (one
    per connection) plus those finished during the commit under way (a few milliseconds'
    worth). Nothing is held back on purpose (RECORD_WAIT is 0). Failures (transient or
    permanent) are recorded the same way: their rows stay claimed until written, so nobody
    retries them early.
    """

    def __init__(self, engine: Any, now: dt.datetime, result: DeliveryResult) -> None:
        import asyncio

        self.engine = engine
        self.now = now
        self.result = result
        self.pending: list[Outcome] = []
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.hurry = asyncio.Event()  # write now: a batch is full, or the pass is ending

    def failed(self) -> bool:
        return self.error is not None

    def add(self, outcome: Outcome) -> None:
        import asyncio

        self.pending.append(outcome)
        if len(self.pending) >= RECORD_BATCH:
            self.hurry.set()
        if self.task is None and self.error is None:
            self.task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        import asyncio

        from .store import outbox

        try:
            while self.pending:
                if RECORD_WAIT and not self.hurry.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.hurry.wait(), RECORD_WAIT)
                if len(self.pending) < RECORD_BATCH:
                    self.hurry.clear()
                batch, self.pending = self.pending, []
                await asyncio.to_thread(outbox.record, self.engine, batch, self.now)
                for outcome in batch:
                    if outcome.state == "sent":
                        self.result.sent += 1
                    elif outcome.state == "failed":
                        self.result.failed += 1
                    else:
                        self.result.dead += 1
        except Exception as exc:  # the rows stay claimed: sent again after the claim timeout
            self.error = exc
        finally:
            self.task = None

    async def drain(self) -> None:
        """Write every outcome so far, now; raise if a commit failed."""
        import asyncio

        while self.task is not None:
            self.hurry.set()
            await asyncio.wait([self.task])
        if self.error is not None:
            raise self.error

    async def settle(self) -> None:
        """``drain`` on the way out of a pass: best effort, never raises."""
        import asyncio

        try:
            if self.pending and self.task is None and self.error is None:
                self.task = asyncio.create_task(self._flush())
            while self.task is not None:
                self.hurry.set()
                await asyncio.wait([self.task])
        except Exception:  # already leaving with another error
            log.exception("could not record the last delivery outcomes")


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
