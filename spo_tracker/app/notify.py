"""The service's use cases: sweep (decide what email is due and queue it), deliver (send the
queue), watchdog (tell someone when the service itself is failing).

Every function takes ``now`` from its caller: the scheduler passes the wall clock, tests pass
whatever moment they need. Exactly once: each email is an outbox row with a unique key
(kind, action, stage, recipient, occurrence); a sweep only ever adds missing rows, and a row
is sent by whoever claims it first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..config import Settings
from ..core import record as d
from ..core.accountability import ADMINISTRATION
from ..core.causes import cause_words
from ..core.dates import local_date
from ..core.errors import InvalidInput
from ..core.policy import Policy
from ..core.reminders import (
    OWNER_WORDS,
    Directory,
    Stage,
    behind_queued,
    current_stage,
    digests,
    force_digest,
    record_command,
    stage_key,
    team_digests,
    when_text,
)
from ..core.rules import Action, State, Status
from ..store.read import OutboxEntry
from . import Context

if TYPE_CHECKING:
    import asyncio

    from ..adapters.mail.deliver import Transport
    from ..adapters.mail.render import Rendered
    from ..store.outbox import Claimed, Outcome
    from ..store.repo import Store

__all__ = ["Transport"]

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
DIGESTED = "digest.last_day"  # the last day whose digests were queued
CLOCK_WENT_BACK = "clock.went_back_from"  # the heartbeat a backward jump was warned about


# ------------------------------------------------------------------------------ the sweep


@dataclass
class SweepResult:
    queued: int = 0
    recomputed: int = 0


class _Sweep:
    """One sweep's work: what each open action, breach and change calls for, as outbox rows
    (rendered once, when new)."""

    def __init__(self, store: Store, settings: Settings, policy: Policy, today: dt.date):
        self.store = store
        self.settings = settings
        self.policy = policy
        self.today = today
        self.people = Directory.of(store.read.officers(), settings.scu_email, settings.admin_email)
        self.initials: dict[str, str] = {}
        self.rows: list[dict[str, Any]] = []

    def subject_initials(self, refs: Iterable[str]) -> None:
        missing = sorted(set(refs) - set(self.initials))
        if missing:
            self.initials.update(self.store.read.initials(missing))

    def action_context(self, action: Action) -> dict[str, Any]:
        return action_context(
            action, self.initials.get(action.subject, "?"), self.today, self.policy
        )

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
        rows = self.store.read.actions(
            due_by=self.today + dt.timedelta(days=max(horizon, 7)),
            open_on=self.today,
            live_on=self.today,
        )
        result: list[tuple[Action, Status]] = []
        for action in rows:
            status = action.status(self.today)
            if status is not None and status not in (Status.DONE, Status.CANCELLED):
                result.append((action, status))
        return result

    def reminders(self, actions: list[tuple[Action, Status]]) -> None:
        interval = self.policy.escalation_interval_days
        due: list[tuple[Action, Stage]] = []
        for action, _ in actions:
            rule = self.policy.rules.get(action.rule)
            if rule is None or not rule.enabled:
                continue
            stage = current_stage(action, rule, interval, self.today)
            if stage is not None:
                due.append((action, stage))
        told = self.store.read.told([a.id for a, s in due if s.kind == "escalation"])
        for action, stage in due:
            recipients = (
                self.people.escalation_to(action)
                if stage.kind == "escalation"
                else self.people.reminder_to(action)
            )
            for recipient, role in recipients:
                self.queue(
                    kind=stage.kind,
                    template=stage.kind,
                    key=stage_key(stage, action.id, recipient),
                    recipient=recipient,
                    action=action,
                    stage=stage.name,
                    context={
                        "action": self.action_context(action),
                        "role": role,
                        "interval": interval,
                        "sent_before": [r for r in told.get(action.id, []) if r != recipient],
                    },
                )

    def breaches(self) -> None:
        since = self.today - dt.timedelta(days=BREACH_ALERT_DAYS)
        actions = list(
            self.store.read.actions(rule="breach-response", due_from=since, due_by=self.today)
        )
        self.subject_initials(a.subject for a in actions)
        subjects = {
            s.reference: s for s in self.store.read.subjects(sorted({a.subject for a in actions}))
        }
        for action in actions:
            if not action.applies:
                continue
            breach = _breach_for(subjects[action.subject], action)
            for recipient in self.people.breach_to(action):
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
        from ..store import outbox

        start = int(self.store.read.service_state(CHANGE_WATERMARK) or 0)
        history = self.store.read.history_since(start)
        if not history:
            return
        for entry in history:
            notable = entry.field == "due" or (entry.field == "state" and entry.new == "cancelled")
            if not notable or entry.old is None:
                continue
            action = self.store.read.action(entry.action_id)
            if entry.field == "due" and action.state is not State.OPEN:
                continue  # a done (or cancelled) action's date moving is news to nobody
            self.subject_initials([action.subject])
            label = "due date" if entry.field == "due" else "state"
            summary = f"moved to {entry.new}" if entry.field == "due" else "cancelled"
            for recipient, _role in self.people.reminder_to(action):
                self.queue(
                    kind="change",
                    template="change",
                    key=f"change:{entry.id}:{recipient}",
                    recipient=recipient,
                    action=action,
                    # which change: the review at delivery drops it once no longer true
                    stage=f"{'moved' if entry.field == 'due' else 'cancelled'}-{entry.id}",
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
        outbox.set_state(self.store.session, CHANGE_WATERMARK, str(history[-1].id), self.store.now)

    def digests(self, actions: list[tuple[Action, Status]]) -> None:
        for digest in digests(actions, self.today):
            if not self.people.active(digest.officer):
                continue  # left: their actions' reminders go to the SCU (Directory)
            self.queue(
                kind="digest",
                template="digest",
                key=f"digest:{self.today}:{digest.officer}",
                recipient=digest.officer,
                stage="digest",
                occurrence=self.today.isoformat(),
                context={
                    "officer": digest.officer,
                    "date": self.today.isoformat(),
                    "overdue": [self.action_context(a) for a in digest.overdue],
                    "today": [self.action_context(a) for a in digest.today],
                    "week": [self.action_context(a) for a in digest.week],
                },
            )
        if self.settings.team_digest:
            self.team_digests(actions)
        if self.settings.force_digest and self.settings.scu_email:
            self.force_digest(actions)

    def team_digests(self, actions: list[tuple[Action, Status]]) -> None:
        for team in team_digests(actions, self.people.officers.values(), self.today):
            self.queue(
                kind="team-digest",
                template="team_digest",
                key=f"team-digest:{self.today}:{team.supervisor}",
                recipient=team.supervisor,
                stage="team-digest",
                occurrence=self.today.isoformat(),
                context={
                    "supervisor": team.supervisor,
                    "date": self.today.isoformat(),
                    "officers": [
                        {
                            "officer": officer,
                            "overdue": [self.action_context(a) for a in overdue],
                            "week": [self.action_context(a) for a in week],
                        }
                        for officer, overdue, week in team.officers
                    ],
                },
            )

    def force_digest(self, actions: list[tuple[Action, Status]]) -> None:
        since = self.today - dt.timedelta(days=6)
        breaches = list(
            self.store.read.actions(rule="breach-response", due_from=since, due_by=self.today)
        )
        self.subject_initials(a.subject for a in breaches)
        digest = force_digest(actions, self.people.officers.values(), breaches, self.today)
        if digest.empty:
            return
        scu = self.settings.scu_email
        assert scu is not None
        self.queue(
            kind="force-digest",
            template="force_digest",
            key=f"force-digest:{self.today}:{scu}",
            recipient=scu,
            stage="force-digest",
            occurrence=self.today.isoformat(),
            context={
                "date": self.today.isoformat(),
                "teams": [
                    {"team": team, "overdue": [self.action_context(a) for a in found]}
                    for team, found in digest.overdue_by_team
                ],
                "unallocated": [
                    {"subject": ref, "initials": self.initials.get(ref, "?")}
                    for ref in digest.unallocated
                ],
                "breaches": [self.action_context(a) for a in digest.breaches],
            },
        )

    def behind(self, have: set[str]) -> set[str]:
        """Keys of new reminder and escalation rows for a stage older than one already
        queued for the same action, due date and recipient (the clock went back)."""
        new = [
            r
            for r in self.rows
            if r["kind"] in ("reminder", "escalation") and r["dedupe_key"] not in have
        ]
        if not new:
            return set()
        queued = self.store.read.stage_keys({r["action_id"] for r in new})
        interval = self.policy.escalation_interval_days
        found = set()
        for row in new:
            earlier = queued.get(row["action_id"], [])
            due = dt.date.fromisoformat(row["context"]["action"]["due"])
            if earlier and behind_queued(
                row["dedupe_key"], earlier, due=due, interval_days=interval
            ):
                found.add(row["dedupe_key"])
        if found:
            log.info("%d reminder(s) not queued: a later stage was already queued", len(found))
        return found

    def flush(self) -> int:
        from ..adapters.mail.render import render
        from ..store import outbox

        if not self.rows:
            return 0
        have = self.store.read.outbox_keys(r["dedupe_key"] for r in self.rows)
        behind = self.behind(have)
        fresh: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            if row["dedupe_key"] in have or row["dedupe_key"] in fresh:
                continue
            if row["dedupe_key"] in behind:
                continue
            context = {"app_url": self.settings.app_url, **row.pop("context")}
            rendered = render(row["template"], context)
            fresh[row["dedupe_key"]] = {
                **row,
                "subjects": sorted(_subjects_named(context)),
                "subject_line": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "state": "pending",
                "attempts": 0,
                "created_at": self.store.now,
                "next_attempt_at": self.store.now,
                "message_id": message_id(row["dedupe_key"], self.settings.id_domain()),
            }
        return outbox.enqueue(self.store.session, list(fresh.values()))


def _subjects_named(context: Any) -> set[str]:
    """The subject references a message's context holds (a digest names many): what the
    message discloses, for the access log."""
    found: set[str] = set()
    if isinstance(context, dict):
        for key, value in context.items():
            if key == "subject" and isinstance(value, str):
                found.add(value)
            else:
                found |= _subjects_named(value)
    elif isinstance(context, list | tuple):
        for item in context:
            found |= _subjects_named(item)
    return found


def action_context(action: Action, initials: str, today: dt.date, policy: Policy) -> dict[str, Any]:
    """What a template may say of an action: the engine's own wording only (completion and
    override texts can carry notes), the subject by reference and initials, what to do and
    the command that records it."""
    e = action.explanation
    rule = policy.rules.get(action.rule)
    # a checklist's items not yet recorded, with the ids its command takes ("Still to do: the
    # victim updated (victim-updated); ..."): the heading and the items apart, for a table
    heading, _, items = (e.missing or "").partition(": ")
    return {
        "id": action.id,
        "rule": action.rule,
        "title": e.title,
        "subject": action.subject,
        "initials": initials or "?",
        "order": action.order,
        "officer": action.officer,
        "owner": OWNER_WORDS.get(action.owner, "the officer"),
        "due": action.due.isoformat(),
        "when": when_text(action, today),
        "todo": rule.action if rule else e.title,
        "missing": e.missing,
        "missing_heading": heading if items else "Still to do",
        "missing_items": items or e.missing,
        "record": record_command(rule, action) if rule else f"spo explain {action.id}",
        "trigger": e.trigger,
        "trigger_date": e.trigger_date.isoformat(),
        "arithmetic": e.arithmetic,
        "clause": e.clause,
        "policy": e.policy,
    }


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
        # that it is recorded, never what it says: outcomes are free text
        "outcome_recorded": action.completed is not None,
    }


def message_id(dedupe_key: str, domain: str = "spo-tracker") -> str:
    """Stable per outbox row, so a repeat after a crash is recognisable as one."""
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]
    return f"<{digest}@{domain}>"


def sweep(ctx: Context, store: Store, *, now: dt.datetime) -> SweepResult:
    """Queue every email that has become due. Safe to run any number of times."""
    from ..store import outbox
    from . import deadlines

    result = SweepResult()
    store.lock_named("spo-sweep")  # several instances: one sweep at a time
    policy = ctx.policy
    if store.read.last_policy_digest() not in (None, policy.digest):
        refs = store.read.subject_refs()
        result.recomputed = len(refs)
        deadlines.recompute(ctx, store, refs, cause=cause_words("policy change", None))
    today = local_date(now, ctx.timezone)
    last = store.read.service_state(HEARTBEAT)
    latest = now if last is None else max(now, dt.datetime.fromisoformat(last))
    if latest > now:
        assert last is not None
        _clock_went_back(store, last, now)
    run = _Sweep(store, ctx.settings, policy, today)
    actions = run.open_actions()
    run.subject_initials(a.subject for a, _ in actions)
    run.reminders(actions)
    run.breaches()
    run.changes()
    local_time = now.astimezone(ZoneInfo(ctx.timezone)).time()
    digested = store.read.service_state(DIGESTED)
    # a day already digested is not digested again (the clock went back)
    if local_time >= ctx.settings.digest_clock() and (
        digested is None or today >= dt.date.fromisoformat(digested)
    ):
        run.digests(actions)
        outbox.set_state(store.session, DIGESTED, today.isoformat(), now)
    result.queued = run.flush()
    # never moved back: after the clock jumps back (and when it is put right again) the
    # watchdog sees no stale sweep, only one that keeps running
    outbox.set_state(store.session, HEARTBEAT, latest.isoformat(), now)
    return result


def _clock_went_back(store: Store, last: str, now: dt.datetime) -> None:
    """Warn once per backward jump: the last sweep was later than ``now``. The sweep goes
    on as of ``now`` (reminders of a stage older than one queued, and digests of a day
    already digested, are not queued again)."""
    from ..store import outbox

    if store.read.service_state(CLOCK_WENT_BACK) == last:
        return
    log.warning(
        "the clock went back: the last sweep was at %s, it is now %s; reminders and "
        "digests already queued are not queued again",
        last,
        now.isoformat(),
    )
    outbox.set_state(store.session, CLOCK_WENT_BACK, last, now)


def sweep_once(ctx: Context, *, now: dt.datetime) -> SweepResult:
    """The watchdog, then a sweep, in one transaction (the service's and cron's pass)."""
    with ctx.unit_of_work(actor=ctx.settings.service_account, now=now) as store:
        # before the sweep refreshes the heartbeat: a cron job that stopped running for a
        # while is noticed on its next run
        watchdog(ctx, store, now=now)
        return sweep(ctx, store, now=now)


def watchdog_once(ctx: Context, *, now: dt.datetime) -> list[str]:
    with ctx.unit_of_work(actor=ctx.settings.service_account, now=now) as store:
        return watchdog(ctx, store, now=now)


# ------------------------------------------------------------------------------ delivery


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    uncertain: int = 0  # refused for good after an interrupted attempt: may have arrived
    dropped: int = 0  # no longer true when its turn came (the action done, moved on)
    #: the mail server was unreachable: nothing more goes out before this moment
    waiting_until: dt.datetime | None = None


def worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


#: Claims start at one row and double up to CLAIM_MAX rows per transaction. A pass that dies
#: at once (a process killed as it starts; the crash-after-claim fault) strands a single row
#: until ``claim_timeout_seconds`` rather than a batch, and a second instance starting a moment
#: later still finds work; a long queue reaches full batches after a few claims, so its
#: commits are one per CLAIM_MAX rows.
CLAIM_MAX = 64


async def deliver(
    ctx: Context,
    *,
    transport: Any,
    now: dt.datetime,
    limit: int = 1000,
) -> DeliveryResult:
    """Send what is due in the outbox: claim, send, record. Transient failures back off
    exponentially; permanent ones go dead (and the watchdog says so). A server that cannot
    be reached (refused, dropped, timed out) stops the pass at once, with one warning: the
    messages keep their place, and passes wait (``Outage``) before trying again.

    Rows are claimed in batches (one conditional UPDATE each, see ``outbox.claim_due`` and
    CLAIM_MAX) and sent by ``transport.connections`` senders at once, one message per
    connection at a time; outcomes are written in small batches (``_Recorder``, RECORD_WAIT).
    Exactly once: a row is sent only by the worker whose claim took it; a crash after a claim
    leaves its rows claimed until ``claim_timeout_seconds``, then each goes once; claimed rows
    not yet started when a pass stops early (an error, a cancel) are handed back at once.
    """
    import asyncio

    from ..store import outbox
    from ..store.outbox import Outcome

    engine = ctx.engine()
    settings = ctx.settings
    result = DeliveryResult()
    outage = await asyncio.to_thread(_outage, ctx)
    # (a retry time further off than any backoff: the clock went back; try now)
    if outage is not None and now < outage.retry_at <= now + OUTAGE_MAX_BACKOFF:
        # the server was unreachable a moment ago: wait out the backoff, quietly (one
        # warning was logged when it failed); the queue keeps its order meanwhile
        result.waiting_until = outage.retry_at
        try:
            await asyncio.to_thread(outbox.advance_state_now, engine, DELIVERY_HEARTBEAT, now)
        finally:
            await transport.close()
        return result
    recorder = _Recorder(engine, now, result, ctx.settings.service_account)
    senders = max(1, int(getattr(transport, "connections", 1)))
    unreachable: list[str] = []
    feeder = _Feeder(
        engine,
        now,
        limit=limit,
        ahead=senders,
        stop=lambda: recorder.failed() or bool(unreachable),
        review=lambda rows: review_claimed(ctx, rows, now),
    )
    failures: list[BaseException] = []

    async def sender() -> None:
        try:
            while not failures and (row := await feeder.next()) is not None:
                if isinstance(row, Outcome):
                    recorder.add(row)  # dropped before sending
                    continue
                outcome, down = await _send_one(
                    row, settings=settings, transport=transport, now=now
                )
                recorder.add(outcome)
                if down is not None:
                    unreachable.append(down)  # the feeder stops: no more rows go out
        except Exception as exc:  # not a delivery verdict: the pass stops once in-flight
            failures.append(exc)  # sends finish (a row that raised stays claimed)

    try:
        timeout = dt.timedelta(seconds=settings.claim_timeout_seconds)
        await asyncio.to_thread(outbox.release_stale_claims, engine, now - timeout)
        await asyncio.gather(*(sender() for _ in range(senders)))
        await recorder.drain()
        await feeder.hand_back()
        if failures:
            raise failures[0]
        await asyncio.to_thread(outbox.advance_state_now, engine, DELIVERY_HEARTBEAT, now)
        if unreachable:
            failed = Outage.after(outage, now, unreachable[0])
            result.waiting_until = failed.retry_at
            log.warning(
                "mail server unreachable (%s): delivery paused, %d message(s) keep their "
                "place in the queue; next try after %s",
                unreachable[0],
                await asyncio.to_thread(_queued, ctx),
                failed.retry_at.isoformat(),
            )
            await asyncio.to_thread(outbox.set_state_now, engine, OUTAGE, failed.dumps(), now)
        elif outage is not None and result.sent:
            log.info("mail server reachable again (unreachable since %s)", outage.since)
            await asyncio.to_thread(outbox.set_state_now, engine, OUTAGE, "", now)
    finally:
        try:
            # on the way out with an error: what is known is still written, what was not
            # started is still handed back
            await recorder.settle()
            await feeder.settle()
        finally:
            await transport.close()
    return result


#: Service state: the mail server found unreachable (JSON, see ``Outage``); "" when not.
OUTAGE = "delivery.outage"
#: The longest a delivery pass waits after the server was unreachable: short, since one
#: connection attempt is cheap and mail (a breach alert) should go soon after it returns.
OUTAGE_MAX_BACKOFF = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Outage:
    """The mail server unreachable: since when, how many passes in a row found it so, the
    last error, and when the next pass may try again (30 s doubling per pass, at most
    ``OUTAGE_MAX_BACKOFF``)."""

    since: str
    passes: int
    error: str
    retry_at: dt.datetime

    @classmethod
    def after(cls, before: Outage | None, now: dt.datetime, error: str) -> Outage:
        passes = (before.passes if before else 0) + 1
        wait = min(OUTAGE_MAX_BACKOFF, dt.timedelta(seconds=30 * 2 ** min(passes - 1, 12)))
        since = before.since if before else now.isoformat()
        return cls(since, passes, error[:500], now + wait)

    def dumps(self) -> str:
        import json

        return json.dumps(
            {
                "since": self.since,
                "passes": self.passes,
                "error": self.error,
                "retry_at": self.retry_at.isoformat(),
            }
        )

    @classmethod
    def loads(cls, value: str | None) -> Outage | None:
        import json

        if not value:
            return None
        doc = json.loads(value)
        return cls(
            doc["since"], doc["passes"], doc["error"], dt.datetime.fromisoformat(doc["retry_at"])
        )


def _outage(ctx: Context) -> Outage | None:
    with ctx.reading() as reader:
        return Outage.loads(reader.service_state(OUTAGE))


def _queued(ctx: Context) -> int:
    with ctx.reading() as reader:
        counts = reader.outbox_counts()
    return counts["pending"] + counts["failed"]


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
        review: Callable[[list[Claimed]], list[Claimed | Outcome]] = list,
    ) -> None:
        from collections import deque

        self.review = review
        self.engine = engine
        self.now = now
        self.limit = limit
        self.ahead = ahead
        self.stop = stop
        self.me = worker_name()
        self.crash_after_claim = os.environ.get("SPO_FAULT") == "crash-after-claim"
        # claimed, not yet handed to a sender: rows to send, or outcomes to record (a message
        # found no longer true, dropped)
        self.waiting: deque[Claimed | Outcome] = deque()
        self.size = 1
        self.taken = 0
        self.exhausted = limit < 1  # nothing more to claim
        self.claiming: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def next(self) -> Claimed | Outcome | None:
        """The next row to send (or a dropped one's outcome to record); None when there is no
        more (or the pass is stopping)."""
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

        from ..store import outbox

        try:
            size = max(1, min(self.size, self.limit - self.taken))
            batch = await asyncio.to_thread(outbox.claim_due, self.engine, self.now, self.me, size)
            if self.crash_after_claim and batch:
                os._exit(70)  # test hook: a process killed between claim and send
            self.waiting.extend(await asyncio.to_thread(self.review, batch))
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

        from ..store import outbox

        if self.claiming is not None:
            await asyncio.wait([self.claiming])
        if self.waiting:
            ids = [row.id for row in self.waiting]  # dropped ones too: reviewed again next pass
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
) -> tuple[Outcome, str | None]:
    """Build and send one claimed row: the outcome to record, and what made the server
    unreachable if it was (never raises a delivery error). An unreachable server says nothing
    about the message: it keeps its place (its next attempt time) and is not backed off on
    its own, the pass is (``Outage``)."""
    from ..adapters.mail.deliver import (
        PermanentError,
        TransientError,
        Unreachable,
        compose,
        mail_headers,
    )
    from ..store.outbox import Outcome

    attempts = row.attempts + 1
    try:
        try:
            message = compose(
                sender=settings.sender(),
                recipient=row.recipient,
                subject=row.subject_line,
                text=row.body_text,
                html=row.body_html,
                message_id=row.message_id,
                date=now,
                headers=mail_headers(row.kind, settings.id_domain()),
            )
        except ValueError as exc:
            raise PermanentError(f"cannot build the message: {exc}") from exc
        await transport.send(message)
    except Unreachable as exc:
        return Outcome(row.id, "failed", attempts, str(exc)[:500]), str(exc)
    except TransientError as exc:
        backoff = min(MAX_BACKOFF, dt.timedelta(seconds=30 * 2 ** min(attempts, 12)))
        log.warning(
            "delivery of outbox #%s failed (%s), retry after %s", row.id, exc, now + backoff
        )
        return Outcome(row.id, "failed", attempts, str(exc)[:500], now + backoff), None
    except PermanentError as exc:
        if row.interrupted:
            # an earlier attempt was cut off after the server may have taken the message:
            # refused now does not mean the recipient does not have it
            log.warning(
                "delivery of outbox #%s uncertain: refused for good (%s), but an earlier "
                "attempt was interrupted and may have delivered it",
                row.id,
                exc,
            )
            return Outcome(row.id, "uncertain", attempts, f"{UNCERTAIN_WORDS}: {exc}"[:500]), None
        log.error("delivery of outbox #%s failed permanently: %s", row.id, exc)
        return Outcome(row.id, "dead", attempts, str(exc)[:500]), None
    replaced = (row.subject_line, row.body_text, row.body_html) if row.replaced else None
    return Outcome(row.id, "sent", attempts, replaced=replaced), None


UNCERTAIN_WORDS = (
    "delivery uncertain: an earlier attempt was interrupted and may have arrived; "
    "the resend was refused"
)

# Messages about an action, checked against the record just before they leave.
REVIEWED = ("reminder", "escalation", "change", "breach")


def review_claimed(ctx: Context, rows: list[Claimed], now: dt.datetime) -> list[Claimed | Outcome]:
    """Each claimed row as it should leave now: as queued; dropped, when what it says stopped
    being true (the action done, cancelled, or re-dated onto another stage since: the next
    sweep queues the right one); or, for a breach alert whose outcome has been recorded since,
    rewritten to say so. Exactly once holds: a dropped row is never sent, a rewritten one is
    sent once, in place of the queued text."""

    from ..adapters.mail.render import render
    from ..core.errors import NotFound
    from ..store.outbox import Outcome

    about = {r.action_id for r in rows if r.action_id and r.kind in REVIEWED}
    if not about:
        return list(rows)
    today = local_date(now, ctx.timezone)
    policy = ctx.policy
    with ctx.reading() as reader:
        actions: dict[str, Action] = {}
        for action_id in sorted(about):
            with contextlib.suppress(NotFound):
                actions[action_id] = reader.action(action_id)
        breached = sorted({a.subject for a in actions.values() if a.rule == "breach-response"})
        subjects = {s.reference: s for s in reader.subjects(breached)} if breached else {}
        initials = reader.initials(sorted({a.subject for a in actions.values()}))
    out: list[Claimed | Outcome] = []
    for row in rows:
        action = actions.get(row.action_id or "")
        if row.kind not in REVIEWED or row.action_id is None:
            out.append(row)
            continue
        reason = _stale(row, action, policy, today)
        if reason is not None:
            log.info("outbox #%s dropped: %s", row.id, reason)
            out.append(Outcome(row.id, "dropped", row.attempts, reason))
            continue
        assert action is not None
        if row.kind == "breach" and action.completed is not None:
            context = {
                "app_url": ctx.settings.app_url,
                "action": action_context(action, initials.get(action.subject, ""), today, policy),
                "breach": _breach_for(subjects[action.subject], action),
            }
            mail = render("breach", context)
            out.append(
                dataclasses.replace(
                    row,
                    subject_line=mail.subject,
                    body_text=mail.text,
                    body_html=mail.html,
                    replaced=True,
                )
            )
            continue
        out.append(row)
    return out


def _stale(row: Claimed, action: Action | None, policy: Policy, today: dt.date) -> str | None:
    """Why a queued message about ``action`` must not leave today; None if it may."""
    if action is None:
        return "its action is no longer on record"
    if row.kind == "breach":
        return None if action.applies else "the breach is no longer on record"
    if row.kind == "change":
        # queued (Sweep.changes) for an open action whose date moved, or for a cancellation;
        # it is news still while the action stands as the notice found it. An action that
        # no longer applies (an order varied to run until further order) is cancelled: that
        # is the very news of a cancellation notice
        if row.stage.startswith("cancelled-"):
            if action.state is State.CANCELLED:
                return None
        elif action.state is State.OPEN and action.applies:
            return None
        return f"{action.explanation.title} is {action.state.value} since the change"
    status = action.status(today)
    if status is None or status in (Status.DONE, Status.CANCELLED):
        return f"{action.explanation.title} is {status or 'not required'} on {today}"
    rule = policy.rules.get(action.rule)
    stage = None
    if rule is not None and rule.enabled:
        stage = current_stage(action, rule, policy.escalation_interval_days, today)
    expected = stage_key(stage, action.id, "") if stage else None
    if expected is None or not row.dedupe_key.startswith(expected):
        return "the action was re-dated or has moved on to another reminder since it was queued"
    return None


#: Outcomes are committed as soon as they are known; those that arrive while a commit is
#: under way go together in the next one (a group commit), up to RECORD_BATCH at a time.
#: RECORD_WAIT would hold a first outcome back to gather more: 0, since every outcome held
#: back widens what a crash could send twice.
RECORD_WAIT = 0.0
RECORD_BATCH = 64


class _Recorder:
    """Writes send outcomes to the outbox, grouping those that arrive during a commit.

    Why not one commit per message: each costs ~0.3 ms of CPU in SQLAlchemy and SQLite plus a
    hand-off to a worker thread that stalls the event loop on the GIL; at hundreds of
    messages a second that is as much as the sending itself.

    What it costs: a crash (the process killed) re-sends what the server accepted but the
    outbox has not yet recorded. The claim goes stale and the row is sent once more after
    ``claim_timeout_seconds``, with the same Message-ID, so it is recognisable as a repeat.
    That window is the messages in flight (one per connection) plus those finished during
    the commit under way (a few milliseconds' worth). Nothing is held back on purpose
    (RECORD_WAIT is 0). Failures (transient or permanent) are recorded the same way: their
    rows stay claimed until written, so nobody retries them early.
    """

    def __init__(self, engine: Any, now: dt.datetime, result: DeliveryResult, actor: str) -> None:
        import asyncio

        self.actor = actor  # the service account: who disclosed what was sent
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

        from ..store import outbox

        try:
            while self.pending:
                if RECORD_WAIT and not self.hurry.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.hurry.wait(), RECORD_WAIT)
                if len(self.pending) < RECORD_BATCH:
                    self.hurry.clear()
                batch, self.pending = self.pending, []
                await asyncio.to_thread(
                    outbox.record, self.engine, batch, self.now, actor=self.actor
                )
                for outcome in batch:
                    if outcome.state == "sent":
                        self.result.sent += 1
                    elif outcome.state == "failed":
                        self.result.failed += 1
                    elif outcome.state == "uncertain":
                        self.result.uncertain += 1
                    elif outcome.state == "dropped":
                        self.result.dropped += 1
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


# ------------------------------------------------------------------------------ watchdog


def watchdog(ctx: Context, store: Store, *, now: dt.datetime) -> list[str]:
    """Queue alerts when a message went dead or the sweep has stalled; returns the problems."""
    from ..adapters.mail.render import render
    from ..store import outbox

    settings = ctx.settings
    store.lock_named("spo-sweep")
    problems: list[tuple[str, str, list[str]]] = []  # (key, text, recipients)
    admin = [settings.admin_email] if settings.admin_email else []
    last = store.read.service_state(HEARTBEAT)
    limit = dt.timedelta(minutes=settings.watchdog_minutes)
    if last is not None and now - dt.datetime.fromisoformat(last) > limit:
        text = (
            f"the sweep last completed at {last}, more than {settings.watchdog_minutes} minutes ago"
        )
        problems.append((f"watchdog:stale:{last}", text, admin))
    elif last is None:
        # a new installation: only a sweep that keeps failing from the start is a problem
        first = store.read.service_state(FIRST_SEEN)
        if first is None:
            outbox.set_state(store.session, FIRST_SEEN, now.isoformat(), now)
        elif now - dt.datetime.fromisoformat(first) > limit:
            problems.append(
                (f"watchdog:never:{first}", f"the sweep has never completed (since {first})", admin)
            )
    oldest = store.read.oldest_failing()
    if oldest is not None and now - oldest.created_at > FAILING_ALERT_AFTER:
        text = (
            f"emails have been failing since {oldest.created_at:%Y-%m-%d %H:%M} UTC and are "
            f"being retried (last error: {oldest.last_error})"
        )
        problems.append((f"watchdog:failing:{oldest.id}", text, admin))
    dead = store.read.dead_messages()
    people = Directory.of(store.read.officers(), settings.scu_email, settings.admin_email)
    for row in dead:
        supervisor = people.supervisor_of(row.recipient)
        text = (
            f"email #{row.id} ({row.kind} for {row.subject_ref or '-'}) to {row.recipient} "
            f"could not be delivered: {row.last_error}"
        )
        problems.append(
            (f"watchdog:dead:{row.id}", text, admin + ([supervisor] if supervisor else []))
        )
    for row in store.read.dead_messages(state="uncertain"):
        # the recipient may well have it: the administrator checks, nobody else is troubled
        text = (
            f"email #{row.id} ({row.kind} for {row.subject_ref or '-'}) to {row.recipient}: "
            f"delivery uncertain, it may have arrived (an attempt was interrupted, and the "
            f"resend was refused: {row.last_error})"
        )
        problems.append((f"watchdog:uncertain:{row.id}", text, admin))
    queue = store.read.outbox_counts()
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
                    "message_id": message_id(dedupe, settings.id_domain()),
                }
            )
    have = store.read.outbox_keys(str(r["dedupe_key"]) for r in rows)
    outbox.enqueue(store.session, [r for r in rows if r["dedupe_key"] not in have])
    for _, text, _ in problems:
        log.error("watchdog: %s", text)
    return [text for _, text, _ in problems]


# ------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class Health:
    last_sweep: str | None
    last_delivery: str | None
    queue: dict[str, int]
    dead: list[OutboxEntry]
    problems: list[str]  # what monitoring should alert on; empty when all is well
    uncertain: list[OutboxEntry] = dataclasses.field(default_factory=list)


def status(ctx: Context, now: dt.datetime | None = None) -> Health:
    """The service's health at ``now`` (default: the clock's): last sweep and delivery,
    queue depth, undeliverable and uncertain mail, and the problems among them (a sweep or
    delivery older than ``watchdog_minutes``, or never, and any undeliverable or uncertain
    email)."""
    now = now or ctx.now()
    limit = dt.timedelta(minutes=ctx.settings.watchdog_minutes)
    with ctx.reading() as reader:
        last_sweep = reader.service_state(HEARTBEAT)
        last_delivery = reader.service_state(DELIVERY_HEARTBEAT)
        queue = reader.outbox_counts()
        dead = reader.dead_messages(include_watchdog=True)
        uncertain = reader.dead_messages(include_watchdog=True, state="uncertain")
        outage = Outage.loads(reader.service_state(OUTAGE))
    problems = []
    if outage is not None and now - dt.datetime.fromisoformat(outage.since) > limit:
        # passes keep running (the delivery heartbeat is fresh) but nothing leaves
        waiting = queue.get("pending", 0) + queue.get("failed", 0)
        problems.append(
            f"the mail server has been unreachable since {outage.since}, more than "
            f"{ctx.settings.watchdog_minutes} minutes ({waiting} email(s) waiting; last "
            f"error: {outage.error[:200]})"
        )
    for what, last in (("sweep", last_sweep), ("delivery", last_delivery)):
        if last is None:
            problems.append(f"the {what} has never run")
        elif now - dt.datetime.fromisoformat(last) > limit:
            problems.append(
                f"the last {what} was at {last}, more than "
                f"{ctx.settings.watchdog_minutes} minutes ago"
            )
    if dead:
        problems.append(f"{len(dead)} email(s) could not be delivered: spo outbox --failed")
    if uncertain:
        problems.append(
            f"{len(uncertain)} email(s) delivery uncertain (an interrupted attempt may have "
            "delivered them; the resend was refused): ask the recipient, spo outbox --failed"
        )
    return Health(last_sweep, last_delivery, queue, dead, problems, uncertain)


def outbox_list(ctx: Context, *, failed: bool = False, limit: int = 500) -> list[OutboxEntry]:
    """Queued and sent emails, newest first; ``failed``: only those to retry, dead or
    uncertain."""
    from ..store.outbox import RETRYABLE
    from . import accountability

    with ctx.reading() as reader:
        accountability.require_scu(ctx, reader, "read the outbox")
        found = reader.outbox(states=list(RETRYABLE) if failed else None, limit=limit)
        accountability.consulted(
            ctx,
            reader,
            "spo outbox",
            {e.subject_ref for e in found if e.subject_ref},
            default=ADMINISTRATION,
        )
        return found


def retry(ctx: Context, message_id: int) -> None:
    """Queue a failed or undeliverable message again, now."""
    from ..store import outbox

    with ctx.unit_of_work() as store:
        outbox.retry(store, message_id)


def preview(ctx: Context, template: str, *, action_id: str | None = None) -> Rendered:
    """A template rendered for an action (the first one stored when none is given), with
    sample values for what the action does not say."""
    from ..adapters.mail.render import TEMPLATES, render

    if template not in TEMPLATES:
        raise InvalidInput(f"unknown template (known: {', '.join(TEMPLATES)})", field="template")
    from . import accountability

    today = ctx.today()
    with ctx.reading() as reader:
        seen = accountability.visibility(ctx, reader)
        if action_id:
            first: Action | None = reader.action(action_id, "--action")
        else:  # the first the user may see: their team's, or unallocated
            visible: dict[str, bool] = {}
            first = None
            for candidate in reader.actions():
                ref = candidate.subject
                if ref not in visible:
                    visible[ref] = all(seen.allows(s) for s in reader.summaries_of([ref]))
                if visible[ref]:
                    first = candidate
                    break
        if first is None:
            raise InvalidInput("no actions to preview with: give --action", field="--action")
        action = first
        # an email shows the action's subject: the same check and log as spo explain
        subject = reader.subject(action.subject)
        accountability.consult_subject(ctx, reader, subject, "spo mail preview")
        # a breach response's own breach, as its alert says it; samples for other actions
        breach = _breach_for(subject, action) if action.rule == "breach-response" else None
        context = action_context(
            action, reader.initials([action.subject]).get(action.subject, ""), today, ctx.policy
        )
    sample: dict[str, Any] = {
        "app_url": ctx.settings.app_url,
        "action": context,
        "role": "the offender manager",
        "interval": ctx.policy.escalation_interval_days,
        "change": {
            "label": "due date",
            "old": "2026-01-01",
            "new": context["due"],
            "cause": "order.vary",
            "summary": f"moved to {context['due']}",
        },
        "breach": breach
        or {
            "date": context["trigger_date"],
            "offence": "breach of the order (s8)",
            "crime_ref": "13/12345/26",
            "arrested": True,
            "outcome_recorded": False,
        },
        "officer": context["officer"] or "om@force.example",
        "date": context["due"],
        "overdue": [context],
        "today": [],
        "week": [],
        "problems": ["example problem"],
        "queue": {"pending": 0, "failed": 0, "dead": 1},
        "sent_before": [context["officer"]] if context["officer"] else [],
        "supervisor": "ds@force.example",
        "officers": [
            {"officer": context["officer"] or "om@force.example", "overdue": [context], "week": []}
        ],
        "teams": [{"team": "example team", "overdue": [context]}],
        "unallocated": [{"subject": context["subject"], "initials": context["initials"]}],
        "breaches": [context],
    }
    return render(template, sample)
