"""The deadline engine: a subject's facts + a policy -> actions, each explained. Pure.

No clock and no I/O. ``derive_actions`` computes every action the facts call for, whatever
the date; ``Action.status(as_of)`` says where one stands on a given day, so one derivation
serves today's view, ``--as-of`` and the persisted copy alike.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .. import record as d
from ..dates import shift
from ..policy import Offset, Policy, Rule
from .actions import (
    LEGACY_ACTION_ID_LENGTH,
    Action,
    Explanation,
    action_id,
    names_action,
)
from .facts import (
    ONE_DAY,
    End,
    Facts,
    Record,
    first_after,
    first_on_or_after,
    numbered,
)

# A chain of recurring actions longer than this is a data error, not a caseload.
MAX_OCCURRENCES = 1000


def _arith(anchor: dt.date, offset: Offset, result: dt.date, anchor_text: str) -> str:
    described = offset.describe()
    if described == "on the day":
        return f"due on the day of {anchor_text} ({anchor})"
    return f"due {described} {anchor_text} ({anchor}), on {result}"


@dataclass
class _Draft:
    rule: Rule
    order: str | None
    key: str
    trigger: str
    trigger_date: dt.date
    due: dt.date
    arithmetic: str
    window_opens: dt.date | None = None
    completed: dt.date | None = None
    completion: str | None = None
    cancelled_on: dt.date | None = None
    cancellation: str | None = None
    # the order (chain) end that cancels the action if still open then
    ends: End | None = None
    # False when the facts say the action was never required (an exemption)
    applies: bool = True
    # the record id of the fact the action answers; what is still to do, in words
    record: str | None = None
    missing: str | None = None


class _Engine:
    def __init__(self, facts: Facts, policy: Policy) -> None:
        self.facts = facts
        self.subject = facts.subject
        self.policy = policy
        self.record = Record(facts.subject)
        self.drafts: list[_Draft] = []

    # -- helpers

    def rule(self, rule_id: str) -> Rule | None:
        rule = self.policy.rules[rule_id]
        return rule if rule.enabled else None

    def due_from(self, rule: Rule, anchor: dt.date, anchor_text: str) -> tuple[dt.date, str]:
        assert rule.deadline is not None
        due = shift(anchor, rule.deadline, self.policy.holidays)
        return due, _arith(anchor, rule.deadline, due, anchor_text)

    def draft(
        self,
        rule_id: str,
        *,
        order: str | None,
        key: str,
        trigger: str,
        trigger_date: dt.date,
        anchor: dt.date | None = None,
        anchor_text: str = "",
        due: tuple[dt.date, str] | None = None,
        completed: dt.date | None = None,
        completion: str | None = None,
        ends: End | None = None,
    ) -> _Draft | None:
        rule = self.rule(rule_id)
        if rule is None:
            return None
        if due is None:
            assert anchor is not None
            due = self.due_from(rule, anchor, anchor_text)
        due_date, arithmetic = due
        if due_date < trigger_date:
            # e.g. an interim order shorter than the 14-day lead: due as soon as it exists
            arithmetic += f", which is before the trigger, so due on {trigger_date}"
            due_date = trigger_date
        window = shift(due_date, rule.window, self.policy.holidays) if rule.window else None
        draft = _Draft(
            rule=rule,
            order=order,
            key=key,
            trigger=trigger,
            trigger_date=trigger_date,
            due=due_date,
            arithmetic=arithmetic,
            window_opens=max(window, trigger_date) if window else None,
            completed=completed,
            completion=completion,
            ends=ends,
        )
        self.drafts.append(draft)
        return draft

    # -- rules triggered by a grant

    def grant_rules(self) -> None:
        record = self.record
        for root in record.roots():
            if not record.in_area(root.made):
                continue  # made before a move-in: the move-in rules apply instead
            others = [
                o
                for o in record.orders
                if o not in record.chain(root)
                and o.made < root.made
                and record.in_force(o, root.made)
            ]
            if others:
                continue  # not the first order: already under management
            ends = record.chain_end(root)
            grant = functools.partial(
                self.draft,
                order=root.reference,
                key=root.reference,
                trigger=f"{root.type} order {root.reference} granted",
                trigger_date=root.made,
                anchor=root.made,
                anchor_text="the grant",
                ends=ends,
            )
            visit = first_on_or_after(record.visits, root.made)
            grant(
                "initial-visit",
                completed=visit,
                completion=f"visited on {visit}" if visit else None,
            )
            self.checklist(grant, "grant-checklist", root)
            plan = first_on_or_after([p.date for p in record.plans], root.made)
            grant(
                "smp-created",
                completed=plan,
                completion=f"plan recorded on {plan}" if plan else None,
            )
            self.notification_check(root, ends)

    def checklist(
        self, make: functools.partial[_Draft | None], rule_id: str, order: d.Order
    ) -> None:
        """A checklist rule's action for ``order``: done when every item of the rule is
        recorded for it, on the day of the last; until then it says which are still to do.
        An item counts from the day the checklist begins (its trigger): PNC updated to show
        the order has ended, on a day before it ended, is not its close-down."""
        rule = self.rule(rule_id)
        if rule is None:
            return
        begins: dt.date = make.keywords["trigger_date"]
        done: dict[str, dt.date] = {}
        for entry in order.checklist:
            if rule.item(entry.item) is not None and entry.date >= begins:
                done[entry.item] = min(entry.date, done.get(entry.item, entry.date))
        todo = [item for item in rule.items if item.id not in done]
        last = max(done.values()) if done and not todo else None
        draft = make(
            rule_id,
            completed=last,
            completion=f"every item recorded, the last on {last}" if last else None,
        )
        if draft is not None and todo:
            draft.missing = (
                "Still to do: " + "; ".join(f"{item.text} ({item.id})" for item in todo) + "."
            )

    def close_down(self) -> None:
        """An order's end (discharge, expiry, lapse) starts its close-down."""
        record = self.record
        for root in record.roots():
            last = record.chain(root)[-1]
            end = record.order_end(last)
            if end is None or not record.in_area(end.last_day):
                continue
            ended = end.last_day + ONE_DAY
            self.checklist(
                functools.partial(
                    self.draft,
                    order=last.reference,
                    key=last.reference,
                    trigger=f"order {last.reference} discharged"
                    if not end.lapse
                    else f"order {last.reference} ended (its last day was {end.last_day})",
                    trigger_date=ended,
                    anchor=ended,
                    anchor_text="the end of the order",
                ),
                "order-close-down",
                last,
            )

    def notification_check(self, root: d.Order, ends: End | None) -> None:
        served = [o for o in self.record.chain(root) if o.served is not None]
        if not served:
            return
        first = served[0]
        assert first.served is not None
        notified = first_on_or_after(self.record.notifications, first.served)
        draft = self.draft(
            "notification-check",
            order=root.reference,
            key=root.reference,
            trigger=f"{first.type} order {first.reference} served",
            trigger_date=first.served,
            anchor=first.served,
            anchor_text="service",
            completed=notified,
            completion=f"notification recorded on {notified}" if notified else None,
            ends=ends,
        )
        subject = self.subject
        exempt = subject.registered_sex_offender and (
            subject.rso_exempt_until is None or subject.rso_exempt_until >= first.served
        )
        if draft is not None and exempt:
            draft.applies = False
            draft.cancellation = (
                "Not required: a registered sex offender is exempt from SPO notification (s9)."
            )

    # -- moves

    def move_rules(self) -> None:
        transfers = numbered(
            self.record.transfers,
            lambda t: (t.direction, t.date),
            lambda t: (t.date, t.direction, t.force, t.documents_sent),
        )
        for transfer, n in transfers:
            key = f"{transfer.direction}:{transfer.date}:{n}"
            if transfer.direction is d.Direction.OUT:
                sent = transfer.documents()
                unsent = [item for item, day in sent.items() if day is None]
                done = None if unsent else max(day for day in sent.values() if day)
                draft = self.draft(
                    "transfer-out-notify",
                    order=None,
                    key=key,
                    trigger=f"moved out of the area to {transfer.force}",
                    trigger_date=transfer.date,
                    anchor=transfer.date,
                    anchor_text="the move",
                    completed=done,
                    completion=f"all three documents recorded as sent, the last on {done}"
                    if done
                    else None,
                )
                if draft is not None:
                    draft.record = transfer.id
                    if unsent:
                        draft.missing = (
                            "Still to send: "
                            + "; ".join(f"{d.MOVE_OUT_WORDS[item]} ({item})" for item in unsent)
                            + "."
                        )
                continue
            arrival = transfer.date
            interval = next(
                (
                    (start, end)
                    for start, end in self.record.managed_intervals()
                    if start <= arrival and (end is None or arrival <= end.last_day)
                ),
                None,
            )
            if interval is None:
                continue  # no order in force on arrival: a later grant brings the grant rules
            arrived = functools.partial(
                self.draft,
                order=None,
                key=key,
                trigger=f"moved into the area from {transfer.force}",
                trigger_date=arrival,
                anchor=arrival,
                anchor_text="arrival",
                ends=interval[1],
            )
            allocated = next(
                (a for a in self.record.allocations if a.since and a.since >= arrival), None
            )
            arrived(
                "transfer-in-allocation",
                completed=allocated.since if allocated else None,
                completion=f"{allocated.officer} allocated on {allocated.since}"
                if allocated
                else None,
            )
            visit = first_on_or_after(self.record.visits, arrival)
            arrived(
                "transfer-in-visit",
                completed=visit,
                completion=f"visited on {visit}" if visit else None,
            )
            plan = first_on_or_after([p.date for p in self.record.plans], arrival)
            arrived(
                "smp-created",
                completed=plan,
                completion=f"plan recorded on {plan}" if plan else None,
            )

    # -- order lifecycle

    def order_rules(self) -> None:
        record = self.record
        for order in record.orders:
            ends = record.order_end(order)
            if not record.ours_during(order.made, ends.last_day if ends else None):
                continue  # it ended before the subject was ours: another force's business
            if order.type is d.OrderType.FULL and order.expires and not order.until_further_order:
                self.renewal(order, ends)
            if (
                order.type is d.OrderType.INTERIM
                and order.expires
                and not order.until_further_order
            ):
                successor = record.successor.get(order.reference)
                self.draft(
                    "interim-expiry",
                    order=order.reference,
                    key=order.reference,
                    trigger=f"interim order {order.reference} made",
                    trigger_date=order.made,
                    anchor=order.expires,
                    anchor_text="the end of the interim order",
                    completed=successor.made if successor else None,
                    completion=f"full order {successor.reference} made on {successor.made}"
                    if successor
                    else None,
                    ends=ends,
                )
            if (
                order.expires
                and not order.until_further_order
                and order.reference not in record.successor
            ):
                self.draft(
                    "order-expiry",
                    order=order.reference,
                    key=order.reference,
                    trigger=f"{order.type} order {order.reference} reaches its end",
                    trigger_date=order.expires,
                    anchor=order.expires,
                    anchor_text="the end of the order",
                    ends=self._ended_early(order),
                )
            conditions = numbered(
                [c for c in order.conditions if c.ends is not None],
                lambda c: (c.kind, c.ends),
                lambda c: (c.kind, c.ends, c.text),
            )
            for cond, n in conditions:
                assert cond.ends is not None
                draft = self.draft(
                    "condition-expiry",
                    order=order.reference,
                    key=f"{order.reference}:{cond.kind}:{cond.ends}:{n}",
                    trigger=f"{cond.kind} on order {order.reference} with its own end date",
                    trigger_date=order.made,
                    anchor=cond.ends,
                    anchor_text=f"the end of the {cond.kind}",
                    ends=ends,
                )
                if draft is not None and draft.window_opens is not None:
                    varied = first_on_or_after(
                        sorted(v.date for v in order.variations), draft.window_opens
                    )
                    if varied is not None:
                        draft.completed = varied
                        draft.completion = f"order varied on {varied}"

    def _ended_early(self, order: d.Order) -> End | None:
        """An end other than the expiry itself (discharge), for the order-expiry action."""
        end = self.record.order_end(order)
        if end is None or end.lapse:
            return None
        return end

    def renewal(self, order: d.Order, ends: End | None) -> None:
        assert order.expires is not None
        varied = [v for v in order.variations if v.expires == order.expires]
        term_start = max([order.made, *(v.date for v in varied)])
        renewals = sorted(r.date for r in order.renewals)
        done = first_on_or_after(renewals, term_start)
        decision = next((r for r in order.renewals if r.date == done), None)
        self.draft(
            "renewal-submission",
            order=order.reference,
            key=order.reference,
            trigger=f"full order {order.reference} varied to expire {order.expires}"
            if varied
            else f"full order {order.reference} made",
            trigger_date=term_start,
            anchor=order.expires,
            anchor_text="the expiry",
            completed=done,
            completion=(
                f"renewal submitted on {done}"
                if decision and decision.decision is d.RenewalDecision.SUBMITTED
                else f"decided not to renew on {done}: {decision.reason}"
            )
            if decision
            else None,
            ends=ends,
        )

    # -- flags

    def flag_rules(self) -> None:
        for flag in self.subject.flags:
            expiry = flag.expires
            reviews = sorted(flag.reviews, key=lambda r: r.date)
            trigger_date: dt.date | None = None
            trigger = f"the review window opened for flag {flag.reference} (expiring {expiry})"
            rule = self.rule("flag-review")
            if rule is None:
                return
            for period in range(len(reviews) + 1):
                review = reviews[period] if period < len(reviews) else None
                window = shift(expiry, rule.window, self.policy.holidays) if rule.window else expiry
                start = trigger_date
                if start is None:
                    # A flag carries no date of its own: its first review is on the record from
                    # the start of the supervision it belongs to (the grant checklist applies
                    # the flag), so plans and calendars show it long before its window opens.
                    limit = min(window, review.date if review else window)
                    start = self._supervision_start(limit)
                    if start < limit:
                        trigger = f"flag {flag.reference} on record at the start of supervision"
                    elif limit < window:
                        trigger = f"flag {flag.reference} (expiring {expiry}) reviewed early"
                draft = self.draft(
                    "flag-review",
                    order=None,
                    key=f"{flag.reference}:{period}",
                    trigger=trigger,
                    trigger_date=start,
                    anchor=expiry,
                    anchor_text="the flag's expiry",
                    completed=review.date if review else None,
                    completion=f"reviewed on {review.date}: {review.outcome}"
                    + (f" to {review.until}" if review.until else "")
                    if review
                    else None,
                )
                if draft is not None:
                    draft.arithmetic += f"; its review window opens on {draft.window_opens}"
                if (
                    review is None
                    or review.outcome is d.FlagOutcome.REMOVED
                    or review.until is None
                ):
                    break
                trigger_date = review.date
                trigger = f"flag {flag.reference} extended to {review.until}"
                expiry = review.until

    def _supervision_start(self, day: dt.date) -> dt.date:
        """The start of the managed period ``day`` falls in; ``day`` itself outside one."""
        for start, end in self.record.managed_intervals():
            if start <= day and (end is None or day <= end.last_day):
                return start
        return day

    # -- recurring

    def smp_reviews(self) -> None:
        rule = self.rule("smp-review")
        if rule is None or rule.after_event is None:
            return
        events = self._review_events()
        for start, end in self.record.managed_intervals():
            trigger, trigger_text = start, "supervision of the order began"
            for n in range(MAX_OCCURRENCES):
                done = next(
                    (r for r in self.record.reviews if (r >= trigger if n == 0 else r > trigger)),
                    None,
                )
                horizon = done or dt.date.max
                candidates: list[tuple[dt.date, str]] = []
                for seg_start, level in self._risk_in(trigger, horizon):
                    months = rule.cadence_months[level]
                    due = shift(seg_start, Offset(months=months), self.policy.holidays)
                    when = (
                        "the last review"
                        if seg_start == trigger and n
                        else ("the start" if seg_start == trigger else "the re-grading")
                    )
                    candidates.append(
                        (
                            due,
                            f"due every {months} month{'s' if months > 1 else ''} at {level} "
                            f"risk from {when} ({seg_start}), on {due}",
                        )
                    )
                for day, what in events:
                    if trigger < day < horizon:
                        due = shift(day, rule.after_event, self.policy.holidays)
                        candidates.append(
                            (
                                due,
                                f"brought forward by the {what}: "
                                f"{_arith(day, rule.after_event, due, 'it')}",
                            )
                        )
                due, arithmetic = min(candidates)
                draft = self.draft(
                    "smp-review",
                    order=None,
                    key=f"{start}:{n}",
                    trigger=trigger_text,
                    trigger_date=trigger,
                    due=(due, arithmetic),
                    completed=done,
                    completion=f"reviewed on {done}" if done else None,
                    ends=end,
                )
                if draft is None or done is None or (end is not None and done > end.last_day):
                    break
                trigger, trigger_text = done, "last supervisor review"

    def _risk_in(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
        segments = self.record.risk_segments() or [(dt.date.min, "ungraded")]
        current = [s for s in segments if s[0] <= start]
        result = [(start, current[-1][1] if current else "ungraded")]
        result += [(day, level) for day, level in segments if start < day < end]
        return result

    def _review_events(self) -> list[tuple[dt.date, str]]:
        events = [(b.date, "breach") for b in self.subject.breaches]
        events += [(day, f"change of {kind}") for day, kind, _ in self._changes()]
        for order in self.subject.orders:
            events += [(v.date, f"variation of order {order.reference}") for v in order.variations]
        return sorted(events)

    def routine_visits(self) -> None:
        rule = self.rule("routine-visit")
        if rule is None:
            return
        plans = [(p.date, p.visit_every_days) for p in self.record.plans if p.visit_every_days]
        if not plans:
            return
        for start, end in self.record.managed_intervals():
            trigger = first_on_or_after(self.record.visits, start)
            for n in range(MAX_OCCURRENCES):
                if trigger is None or (end is not None and trigger > end.last_day):
                    break
                done = first_after(self.record.visits, trigger)
                horizon = done or dt.date.max
                in_force = [p for p in plans if p[0] <= trigger]
                segments = ([(trigger, in_force[-1][1])] if in_force else []) + [
                    (day, every) for day, every in plans if trigger < day < horizon
                ]
                if not segments:
                    break
                candidates = [
                    (
                        max(day, trigger) + dt.timedelta(days=every),
                        f"due every {every} days (the plan of {day}) from "
                        f"{max(day, trigger)}, on {max(day, trigger) + dt.timedelta(days=every)}",
                    )
                    for day, every in segments
                ]
                draft = self.draft(
                    "routine-visit",
                    order=None,
                    key=f"{start}:{n}",
                    trigger="last visit",
                    trigger_date=trigger,
                    due=min(candidates),
                    completed=done,
                    completion=f"visited on {done}" if done else None,
                    ends=end,
                )
                if draft is None:
                    break
                trigger = done

    # -- changes and breaches

    def _changes(self) -> list[tuple[dt.date, str, str]]:
        """(date, kind, key) for each new name or address after the first on record."""
        changes: list[tuple[dt.date, str, str]] = []
        for kind, entries in (
            ("name", [(n.since, n.name) for n in self.subject.names]),
            ("address", [(a.since, a.address) for a in self.subject.addresses]),
        ):
            ordered = sorted(entries, key=lambda e: (e[0] or dt.date.min, e[1]))
            later = [(since, value) for since, value in ordered[1:] if since is not None]
            for (since, _), n in numbered(later, lambda e: e[0], lambda e: e):
                assert since is not None
                changes.append((since, kind, f"{kind}:{since}:{n}"))
        return sorted(changes)

    def change_rules(self) -> None:
        managed = self.record.managed_intervals()
        plans_or_reviews = sorted([p.date for p in self.record.plans] + list(self.record.reviews))
        for since, kind, key in self._changes():
            if not any(s <= since and (e is None or since <= e.last_day) for s, e in managed):
                continue
            notified = first_on_or_after(self.record.notifications, since)
            pack = first_on_or_after(plans_or_reviews, since)
            done = max(notified, pack) if notified and pack else None
            self.draft(
                "change-notification",
                order=None,
                key=key,
                trigger=f"new {kind} recorded",
                trigger_date=since,
                anchor=since,
                anchor_text=f"the new {kind}",
                completed=done,
                completion=f"notified on {notified}; pack reviewed on {pack}" if done else None,
            )

    def breach_rules(self) -> None:
        breaches = numbered(
            self.subject.breaches,
            lambda b: b.date,
            lambda b: (b.date, b.offence, b.crime_ref or "", b.arrested, b.outcome or ""),
        )
        for breach, n in breaches:
            what = (
                "breach of the order (s8)"
                if breach.offence is d.Offence.BREACH
                else ("failure to notify (s11)")
            )
            recorded = (breach.outcome_on or breach.date) if breach.outcome else None
            draft = self.draft(
                "breach-response",
                order=None,
                key=f"{breach.date}:{n}",
                trigger=what,
                trigger_date=breach.date,
                anchor=breach.date,
                anchor_text="the breach",
                completed=recorded,
                completion=f"outcome recorded on {recorded}: {breach.outcome}"
                if breach.outcome
                else None,
            )
            if draft is not None:
                draft.record = breach.id

    # -- finishing

    def build(self) -> list[Action]:
        self.grant_rules()
        self.move_rules()
        self.order_rules()
        self.flag_rules()
        self.smp_reviews()
        self.routine_visits()
        self.change_rules()
        self.breach_rules()
        self.close_down()
        actions = [self._finish(draft, *self._owner(draft.rule)) for draft in self.drafts]
        overrides = {o.action[:LEGACY_ACTION_ID_LENGTH] for o in self.subject.action_overrides}
        actions = [
            _apply_overrides(a, self.subject.action_overrides)
            if a.id[:LEGACY_ACTION_ID_LENGTH] in overrides
            else a
            for a in actions
        ]
        return sorted(actions, key=lambda a: (a.due, a.rule, a.id))

    def _moved_out(self, trigger: dt.date, done: dt.date | None, due: dt.date) -> dt.date | None:
        """The move out that ends an action: one before its trigger with no return since, or
        the first one while it was still open, unless the subject moved back in by the day
        it falls due (the order is ours to manage again: its renewal is ours to submit)."""
        transfers = self.record.transfers
        before = [t for t in transfers if t.date <= trigger]
        if before and before[-1].direction is d.Direction.OUT:
            return before[-1].date
        for i, t in enumerate(transfers):
            if (
                t.direction is d.Direction.OUT
                and t.date >= trigger
                and (done is None or done > t.date)
            ):
                back = next((u for u in transfers[i + 1 :] if u.direction is d.Direction.IN), None)
                if back is not None and back.date <= due:
                    continue
                return t.date
        return None

    def _owner(self, rule: Rule) -> tuple[str, str | None]:
        """Who does ``rule``'s action: (role, email); the SCU (no email: its mailbox) when
        the rule is the SCU's, or the officer it would fall to is not there."""
        manager = self.subject.current_officer() or self.facts.unallocated_officer
        if rule.owner == "offender-manager" and manager is not None:
            return "offender-manager", manager
        if rule.owner == "supervisor" and manager is not None and self.facts.supervisor:
            return "supervisor", self.facts.supervisor
        return "scu", None

    def _finish(self, draft: _Draft, owner: str, officer: str | None) -> Action:
        rule = draft.rule
        cancelled_on, cancellation = draft.cancelled_on, draft.cancellation
        lapses_on, lapse = None, None
        done = draft.completed
        if cancelled_on is None and draft.ends is not None:
            stop = draft.ends.last_day + ONE_DAY
            if done is None or done > stop:
                if draft.ends.lapse:
                    lapses_on = stop
                    if stop <= draft.due:  # only worth saying when the order ends first
                        lapse = f"Lapses on {stop} if still open: {draft.ends.why}."
                else:
                    cancelled_on, cancellation = stop, f"Cancelled: {draft.ends.why}."
        if not draft.applies:
            cancelled_on, lapses_on, lapse = None, None, None
        elif cancelled_on is None and rule.id != "transfer-out-notify":
            left = self._moved_out(draft.trigger_date, done, draft.due)
            if left is not None:
                cancelled_on = max(left, draft.trigger_date)
                cancellation = f"Cancelled: the subject moved out of the area on {left}."
        subject = self.subject.reference
        return Action(
            id=action_id(subject, rule.id, draft.order, draft.key),
            rule=rule.id,
            subject=subject,
            order=draft.order,
            key=draft.key,
            officer=officer,
            trigger_date=draft.trigger_date,
            window_opens=draft.window_opens or draft.trigger_date,
            due=draft.due,
            completed=done,
            cancelled_on=cancelled_on,
            lapses_on=lapses_on,
            soon_from=max(
                draft.trigger_date,
                min(
                    draft.window_opens or draft.due,
                    draft.due - dt.timedelta(days=self.policy.due_soon_days),
                ),
            ),
            explanation=Explanation(
                rule=rule.id,
                title=rule.title,
                trigger=draft.trigger,
                trigger_date=draft.trigger_date,
                arithmetic=draft.arithmetic,
                clause=rule.clause,
                policy=self.policy.label(),
                completion=f"Done: {draft.completion}." if draft.completion else None,
                cancellation=cancellation,
                lapse=lapse,
                record=draft.record,
                missing=draft.missing if done is None else None,
            ),
            applies=draft.applies,
            owner=owner,
        )


def _apply_overrides(action: Action, overrides: Iterable[d.ActionOverride]) -> Action:
    for override in overrides:
        if not names_action(override.action, action.id):
            continue
        who = f" by {override.actor}" if override.actor else ""
        why = f": {override.reason}" if override.reason else ""
        if override.kind is d.OverrideKind.DUE:
            note = f"Due date set to {override.date}{who}{why} (the policy gave {action.due})."
            action = replace(
                action,
                due=override.date,
                window_opens=min(action.window_opens, override.date),
                soon_from=min(action.soon_from, override.date),
                explanation=replace(action.explanation, override=note),
            )
        elif override.kind is d.OverrideKind.DONE:
            if action.completed is None or override.date < action.completed:
                action = replace(
                    action,
                    completed=override.date,
                    explanation=replace(
                        action.explanation, completion=f"Marked done on {override.date}{who}{why}."
                    ),
                )
        else:
            action = replace(
                action,
                cancelled_on=override.date,
                completed=None
                if action.completed and action.completed > override.date
                else action.completed,
                explanation=replace(
                    action.explanation, cancellation=f"Waived on {override.date}{who}{why}."
                ),
            )
    return action


def derive_actions(facts: Facts, policy: Policy) -> list[Action]:
    """Every action the subject's facts call for under ``policy``, most urgent first."""
    return _Engine(facts, policy).build()
