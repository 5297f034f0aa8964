"""Record use cases: officers, subjects, orders and every dated fact; a subject shown, the
lists, import and export, the audit trail.

Each write gathers facts from the store, checks them (the core's invariants), then writes,
in one transaction (``writing``) that also recomputes the subjects' deadlines. Validation
failures raise ``InvalidInput`` naming the field; nothing is written until every check has
passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import record as d
from ..core import timeline
from ..core.accountability import ACCOUNTABILITY, ADMINISTRATION, CASE_MANAGEMENT
from ..core.errors import Duplicate, InvalidInput, NotFound, NotPermitted
from ..core.rules import Action
from ..store.read import AuditEntry
from ..store.read import StoredFact as StoredFactT
from . import Context, accountability, writing
from .admin import require_officer_admin, require_role

if TYPE_CHECKING:
    from ..store.repo import Store

# The record's vocabulary, for entry points to build the facts they record.
Breach = d.Breach
Condition = d.Condition
Flag = d.Flag
FlagReview = d.FlagReview
ManagementPlan = d.ManagementPlan
Notification = d.Notification
Officer = d.Officer
Order = d.Order
Renewal = d.Renewal
RenewalDecision = d.RenewalDecision
Review = d.Review
Subject = d.Subject
Transfer = d.Transfer
Direction = d.Direction
Visit = d.Visit
PlannedVisit = d.PlannedVisit
Role = d.Role
Risk = d.Risk
VisitKind = d.VisitKind
Offence = d.Offence
FlagOutcome = d.FlagOutcome
ConditionKind = d.ConditionKind
DischargeOutcome = d.DischargeOutcome
OrderType = d.OrderType
OrderStatus = d.OrderStatus
NameKind = d.NameKind
ChecklistEntry = d.ChecklistEntry
MOVE_OUT_DOCUMENTS = d.MOVE_OUT_DOCUMENTS
Revision = d.Revision


def as_json(record: d.Subject | d.Officer | list[d.Revision]) -> object:
    """A subject, an officer or revisions as the export format writes them."""
    from ..adapters.exchange import to_json

    return to_json(record)


def _reject(problems: list[d.Problem], rename: dict[str, str] | None = None) -> None:
    """Raise the first problem, with its field named as the caller's user knows it."""
    if problems:
        first = problems[0]
        field = (rename or {}).get(first.path, first.path)
        kind = NotFound if first.message.endswith(" not found") else InvalidInput
        raise kind(first.message, field=field)


def _happened(ctx: Context, item: object, rename: dict[str, str] | None = None) -> None:
    """A fact is never dated after today (the force's time zone)."""
    _reject(d.check_not_future(item, ctx.today()), rename)


def _active(order: d.Order, field: str = "order") -> None:
    if order.status is not d.OrderStatus.ACTIVE:
        raise InvalidInput(f"order {order.reference} is {order.status}", field=field)


# ------------------------------------------------------------------------------ officers


def add_officer(ctx: Context, *, officer: d.Officer) -> None:
    with writing(ctx, bootstrap=True, purpose=ADMINISTRATION) as store:
        officer.email = officer.email.strip().lower()
        if officer.supervisor:
            officer.supervisor = officer.supervisor.strip().lower()
        _reject(d.check_officer(officer, store.read.officer_emails()))
        require_officer_admin(ctx, store, officer, "add")
        store.add_officer(officer)


# ------------------------------------------------------------------------------ subjects


def add_subject(
    ctx: Context,
    *,
    reference: str,
    name: str,
    aliases: list[str],
    date_of_birth: date | None,
    risk: d.Risk | None,
    officer: str | None,
    address: str | None,
    since: date | None,
    domestic_abuse: bool,
    registered_sex_offender: bool,
    rso_exempt_until: date | None,
    pnc_ref: str | None,
    niche_ref: str | None,
) -> d.Subject:
    with writing(ctx) as store:
        subject = d.Subject(
            reference=reference,
            names=[d.NameEntry(name=name, since=since)]
            + [d.NameEntry(name=a, kind=d.NameKind.ALIAS, since=since) for a in aliases],
            date_of_birth=date_of_birth,
            domestic_abuse=domestic_abuse,
            registered_sex_offender=registered_sex_offender or rso_exempt_until is not None,
            rso_exempt_until=rso_exempt_until,
            pnc_ref=pnc_ref,
            niche_ref=niche_ref,
            addresses=[d.AddressEntry(address=address, since=since)] if address else [],
            risk_levels=[d.RiskEntry(level=risk, since=since)] if risk else [],
            allocations=[d.Allocation(officer=officer.lower(), since=since)] if officer else [],
        )
        if since is not None:
            _happened(ctx, d.Visit(date=since), {"date": "since"})
        _happened(ctx, subject, {"date_of_birth": "dob"})
        _reject(
            d.check_subject_details(subject, store.read.officer_emails()),
            {
                "names[0].name": "name",
                **{f"names[{i + 1}].name": "alias" for i in range(len(aliases))},
                "addresses[0].address": "address",
                "allocations[0].officer": "officer",
            },
        )
        store.add_subject(subject)
        return subject


def update_subject(
    ctx: Context,
    *,
    reference: str,
    on: date | None,
    name: str | None = None,
    aliases: list[str] | None = None,
    address: str | None = None,
    risk: d.Risk | None = None,
    date_of_birth: date | None = None,
    domestic_abuse: bool | None = None,
    registered_sex_offender: bool | None = None,
    rso_exempt_until: date | None = None,
    pnc_ref: str | None = None,
    niche_ref: str | None = None,
) -> list[str]:
    """Record changes to a subject. Names, addresses and risk keep their history: a change is a
    new entry from ``on``, never an overwrite. Returns what changed, for the user."""
    with writing(ctx) as store:
        subject = store.read.subject(reference)
        if on is not None:
            _happened(ctx, d.Visit(date=on))
        changed: list[str] = []
        entries: list[tuple[str, object]] = []
        if name is not None:
            entries.append(("names", d.NameEntry(name=name, since=on)))
        for alias in aliases or []:
            entries.append(("names", d.NameEntry(name=alias, kind=d.NameKind.ALIAS, since=on)))
        if address is not None:
            entries.append(("addresses", d.AddressEntry(address=address, since=on)))
        if risk is not None:
            entries.append(("risk_levels", d.RiskEntry(level=risk, since=on)))
        fields = {
            "date_of_birth": date_of_birth,
            "domestic_abuse": domestic_abuse,
            "registered_sex_offender": registered_sex_offender,
            "rso_exempt_until": rso_exempt_until,
            "pnc_ref": pnc_ref,
            "niche_ref": niche_ref,
        }
        updates = {k: v for k, v in fields.items() if v is not None}
        if rso_exempt_until is not None:
            updates["registered_sex_offender"] = True
        if not entries and not updates:
            raise InvalidInput("nothing to change: give at least one new value", field="options")
        for key, value in updates.items():
            setattr(subject, key, value)
        _happened(ctx, subject, {"date_of_birth": "dob"})
        rename: dict[str, str] = {}
        for attr, entry in entries:
            getattr(subject, attr).append(entry)
            if isinstance(entry, d.NameEntry):
                option = "alias" if entry.kind is d.NameKind.ALIAS else "name"
                rename[f"names[{len(subject.names) - 1}].name"] = option
        rename[f"addresses[{len(subject.addresses) - 1}].address"] = "address"
        _reject(d.check_subject_details(subject, store.read.officer_emails()), rename)
        if updates:
            store.update_subject(reference, action="subject.update", **updates)
            changed += list(updates)
        for attr, entry in entries:
            store.add_child(reference, None, attr, entry, action="subject.update")
            changed.append(attr)
        return changed


def _confirms_on_arrival(subject: d.Subject, on: date) -> bool:
    """Allocating the officer already allocated is news only after a move in: the allocation
    from before it (before they left, or made ahead of the arrival) does not answer the
    move-in's "allocate an offender manager", so the same officer may be allocated again on
    or after the arrival."""
    arrivals = [t.date for t in subject.transfers if t.direction is d.Direction.IN]
    if not arrivals:
        return False
    arrival = max(arrivals)
    since = [a.since for a in subject.allocations if a.officer == subject.current_officer()]
    latest = max((s for s in since if s is not None), default=None)
    return on >= arrival and (latest is None or latest < arrival)


def allocate(ctx: Context, *, subject_ref: str, officer: str, on: date) -> None:
    with writing(ctx) as store:
        subject = store.read.subject(subject_ref)
        # whose it is now decides: once allocated it would be the new officer's team's, so the
        # check after the write (``writing``) would pass an officer taking another team's case
        accountability.require_visible(
            accountability.visibility(ctx, store.read), subject, "allocate"
        )
        officer = officer.strip().lower()
        found = store.read.officer(officer)
        if found is None:
            raise NotFound(f"officer {officer} not found", field="officer")
        if not found.active:
            raise InvalidInput(f"{officer} is no longer active", field="officer")
        if found.role is d.Role.SCU:
            raise InvalidInput(
                f"{officer} is in the SCU and cannot hold a caseload", field="officer"
            )
        if subject.current_officer() == officer and not _confirms_on_arrival(subject, on):
            raise Duplicate(f"{subject_ref} is already allocated to {officer}", field="officer")
        entry = d.Allocation(officer=officer, since=on)
        _happened(ctx, entry, {"since": "date"})
        _reject(d.check_subject_details(subject, store.read.officer_emails()))
        store.add_child(subject_ref, None, "allocations", entry, action="allocation.add")


# ------------------------------------------------------------------------------ orders


def add_order(ctx: Context, *, subject_ref: str, order: d.Order) -> None:
    with writing(ctx) as store:
        subject = store.read.subject(subject_ref)
        clash = store.reference_clash("order", order.reference)
        if clash is not None:
            detail = "already exists" if clash == order.reference else f"looks like order {clash}"
            raise Duplicate(f"order {order.reference} {detail}", field="order_ref")
        subject.orders.append(order)
        _reject(d.check_order(subject, order), {"reference": "order_ref"})
        _happened(ctx, order)
        if order.replaces:
            replaced = subject.order(order.replaces)
            assert replaced is not None  # check_order proved it
            _active(replaced, "replaces")
        store.add_order(subject_ref, order)
        if order.replaces:
            store.update_order(
                order.replaces, action="order.replaced", status=d.OrderStatus.REPLACED
            )


def _load_order(store: Store, order_ref: str) -> tuple[d.Subject, d.Order]:
    subject = store.read.subject(store.read.subject_of_order(order_ref))
    order = subject.order(order_ref)
    assert order is not None
    return subject, order


def vary_order(
    ctx: Context,
    *,
    order_ref: str,
    on: date,
    expires: date | None,
    until_further_order: bool,
    notes: str | None,
) -> d.Variation:
    with writing(ctx) as store:
        _, order = _load_order(store, order_ref)
        _active(order)
        if expires is None and not until_further_order:
            raise InvalidInput(
                "give the new --expires date or --until-further-order", field="expires"
            )
        variation = d.Variation(
            date=on,
            expires=expires,
            until_further_order=until_further_order,
            previous_expires=order.expires,
            previous_until_further_order=order.until_further_order,
            notes=notes,
        )
        _reject(d.check_variation(order, variation))
        _happened(ctx, variation)
        store.add_order_child(order_ref, "variations", variation, action="order.vary")
        store.update_order(
            order_ref, action="order.vary", expires=expires, until_further_order=until_further_order
        )
        return variation


def discharge_order(
    ctx: Context,
    *,
    order_ref: str,
    on: date,
    subject_consents: bool,
    police_consents: bool,
    outcome: d.DischargeOutcome,
) -> None:
    with writing(ctx) as store:
        subject, order = _load_order(store, order_ref)
        require_role(ctx, store, "discharge", subject_ref=subject.reference, ref=order_ref)
        _active(order)
        application = d.DischargeApplication(
            date=on,
            subject_consents=subject_consents,
            police_consents=police_consents,
            outcome=outcome,
        )
        _reject(d.check_discharge(order, application))
        _happened(ctx, application)
        store.add_order_child(
            order_ref, "discharge_applications", application, action="order.discharge"
        )
        if outcome is d.DischargeOutcome.GRANTED:
            store.update_order(order_ref, action="order.discharge", status=d.OrderStatus.DISCHARGED)


def add_condition(ctx: Context, *, order_ref: str, condition: d.Condition) -> str:
    with writing(ctx) as store:
        _, order = _load_order(store, order_ref)
        _active(order)
        _reject(d.check_condition(order, condition))
        return store.add_order_child(order_ref, "conditions", condition, action="condition.add")


def record_renewal(ctx: Context, *, order_ref: str, renewal: d.Renewal) -> None:
    with writing(ctx) as store:
        _, order = _load_order(store, order_ref)
        _active(order)
        _reject(d.check_renewal(order, renewal))
        _happened(ctx, renewal)
        order.renewals.append(renewal)
        _reject(
            d.check_renewal_terms(order), {f"renewals[{len(order.renewals) - 1}].decision": "date"}
        )
        store.add_order_child(order_ref, "renewals", renewal, action=f"renewal.{renewal.decision}")


# ------------------------------------------------------------------------------ events


def add_visit(ctx: Context, *, subject_ref: str, visit: d.Visit) -> str:
    with writing(ctx) as store:
        store.read.subject(subject_ref)  # proves it exists before anything else is said
        if visit.officer:
            visit.officer = visit.officer.strip().lower()
        _reject(d.check_visit(visit, store.read.officer_emails()))
        _happened(ctx, visit)
        return store.add_child(subject_ref, None, "visits", visit, action="visit.add")


@dataclass(frozen=True)
class PlannedLine:
    subject: str
    id: int
    plan: d.PlannedVisit
    status: str  # planned | visited | missed
    visited: date | None


def plan_visit(ctx: Context, *, subject_ref: str, plan: d.PlannedVisit) -> int:
    """Plan a visit for today or a day to come (a visit that happened is ``add_visit``)."""
    today = ctx.today()
    if plan.date < today:
        raise InvalidInput(
            f"{plan.date} is in the past (today is {today}): record a visit that happened "
            "with spo visit add",
            field="--date",
        )
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        officer = plan.officer.strip().lower() if plan.officer else None
        if officer is not None and officer not in store.read.officer_emails():
            raise NotFound(f"officer {officer} not found", field="--officer")
        note = plan.note.strip() if plan.note else None
        if note is not None:
            for problem in d.check_text(note, "--note", multiline=True):
                raise InvalidInput(problem.message, field="--note")
        return store.add_visit_plan(
            subject_ref, d.PlannedVisit(plan.date, plan.kind, officer, note or None)
        )


def planned_visits(
    ctx: Context, *, subject_ref: str | None = None, days_back: int = 14
) -> list[PlannedLine]:
    """Visits planned from ``days_back`` days ago on, with whether each was made: for the
    acting user's team (or one subject)."""
    import datetime as dt

    today = ctx.today()
    with ctx.reading() as reader:
        seen = accountability.visibility(ctx, reader)
        if subject_ref is not None:
            subject = reader.subject(subject_ref, "--subject")
            accountability.consult_subject(ctx, reader, subject, "spo visit plans")
        found = reader.visit_plans(
            [subject_ref] if subject_ref else None, since=today - dt.timedelta(days=days_back)
        )
        subjects = {s.reference: s for s in reader.subjects(sorted({r for r, _, _ in found}))}
        lines = []
        for ref, plan_id, plan in found:
            subject = subjects[ref]
            if not seen.allows(subject):
                continue
            status, visited = plan.status(subject.visits, today)
            lines.append(PlannedLine(ref, plan_id, plan, status, visited))
        if subject_ref is None:
            accountability.consulted(
                ctx, reader, "spo visit plans", {x.subject for x in lines}, default=CASE_MANAGEMENT
            )
    return lines


def add_breach(ctx: Context, *, subject_ref: str, breach: d.Breach) -> str:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        if breach.outcome and breach.outcome_on is None:
            breach.outcome_on = breach.date  # known when the breach itself is recorded
        _reject(d.check_breach(breach))
        _happened(ctx, breach)
        return store.add_child(subject_ref, None, "breaches", breach, action="breach.add")


def add_notification(ctx: Context, *, subject_ref: str, notification: d.Notification) -> str:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        _reject(d.check_notification(notification), {"names[0]": "name"})
        if not (notification.ack_ref or "").strip():
            # what completes the notification check (s9): the station's acknowledgement
            raise InvalidInput(
                "a notification is recorded with the acknowledgement reference the police "
                "station gave (s9)",
                field="ack_ref",
            )
        _happened(ctx, notification)
        return store.add_child(
            subject_ref, None, "notifications", notification, action="notification.add"
        )


def add_transfer(ctx: Context, *, subject_ref: str, transfer: d.Transfer) -> str:
    with writing(ctx) as store:
        subject = store.read.subject(subject_ref)
        option = "from_force" if transfer.direction is d.Direction.IN else "to_force"
        sent = dict.fromkeys(d.MOVE_OUT_DOCUMENTS.values(), "sent")
        _reject(d.check_transfer(transfer), {"force": option, **sent})
        _happened(ctx, transfer, sent)
        subject.transfers.append(transfer)
        last = len(subject.transfers) - 1
        _reject(d.check_moves(subject.transfers), {f"transfers[{last}].direction": "date"})
        return store.add_child(
            subject_ref, None, "transfers", transfer, action=f"transfer.{transfer.direction}"
        )


def add_review(ctx: Context, *, subject_ref: str, review: d.Review) -> str:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        review.by = review.by.strip().lower()
        _reject(d.check_review(review, store.read.officer_emails()))
        _happened(ctx, review)
        reviewer = store.read.officer(review.by)
        assert reviewer is not None  # check_review: an officer on record
        if reviewer.role is d.Role.OFFENDER_MANAGER:
            raise InvalidInput(
                f"{review.by} is an offender manager: the Subject Management Pack is reviewed "
                "by a supervisor (or the SCU)",
                field="by",
            )
        if ctx.settings.restrict_sensitive and store.actor.lower() != review.by:
            me = store.read.officer(store.actor.lower())
            if me is None or me.role is not d.Role.SCU:
                raise NotPermitted(
                    f"not permitted: {store.actor} may not record a review by {review.by}: a "
                    "supervisor records their own reviews (or the SCU on their behalf)",
                    what="review",
                    ref=subject_ref,
                )
        return store.add_child(subject_ref, None, "reviews", review, action="review.add")


def add_plan(ctx: Context, *, subject_ref: str, plan: d.ManagementPlan) -> str:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        _reject(d.check_plan(plan))
        _happened(ctx, plan)
        return store.add_child(subject_ref, None, "management_plans", plan, action="smp.add")


def update_breach(
    ctx: Context,
    *,
    record_id: str,
    on: date | None,
    outcome: str | None,
    arrested: bool | None,
    charged: bool | None,
    crime_ref: str | None,
) -> d.Breach:
    """What became known after a breach was recorded: the arrest, the charge, the crime
    reference, the outcome (which completes the breach response, on ``on``: today unless
    given). A recorded outcome is changed only by a correction (``correct``)."""
    import dataclasses

    with writing(ctx) as store:
        stored = store.read.record(record_id)
        if stored.kind != "breach":
            raise InvalidInput(f"{record_id} is a {stored.kind}, not a breach", field="record_id")
        if stored.voided_at is not None:
            raise InvalidInput(f"breach {record_id} was voided", field="record_id")
        old: d.Breach = stored.fact
        if outcome is not None and old.outcome:
            raise Duplicate(
                f"breach {record_id} already has its outcome, recorded on "
                f"{old.outcome_on or old.date}: to change it, spo correct {record_id} "
                "--outcome TEXT --reason TEXT",
                field="outcome",
            )
        changes: dict[str, Any] = {}
        if outcome is not None:
            changes["outcome"] = outcome
            changes["outcome_on"] = on or ctx.today()
        elif on is not None:
            raise InvalidInput(
                "--date is the day the outcome was recorded: give --outcome too", field="on"
            )
        for name, value in (("arrested", arrested), ("charged", charged), ("crime_ref", crime_ref)):
            if value is not None and value != getattr(old, name):
                changes[name] = value
        if not changes:
            raise InvalidInput(
                "nothing to update: give --outcome, --arrested, --charged or --crime-ref",
                field="options",
            )
        new = dataclasses.replace(old, **changes)
        _reject(d.check_breach(new))
        if new.outcome_on is not None and new.outcome_on < new.date:
            raise InvalidInput(f"{new.outcome_on} is before the breach ({new.date})", field="on")
        _happened(ctx, new, {"outcome_on": "on"})
        store.update_record(stored, new, action="breach.update")
        return new


def record_documents(ctx: Context, *, subject_ref: str, sent: dict[str, date]) -> d.Transfer:
    """The day each move-out document went to the new force, for the subject's latest move
    out (items: statement-of-service, smp, risk-information)."""
    import dataclasses

    if not sent:
        raise InvalidInput("give each document sent as --sent ITEM=DATE", field="sent")
    with writing(ctx) as store:
        subject = store.read.subject(subject_ref)
        outs = [t for t in subject.transfers if t.direction is d.Direction.OUT]
        if not outs:
            raise InvalidInput(f"{subject_ref} has no move out recorded", field="subject_ref")
        move = max(outs, key=lambda t: t.date)
        assert move.id is not None
        already = move.documents()
        changes: dict[str, Any] = {}
        for item, day in sent.items():
            if already[item] is not None:
                raise Duplicate(
                    f"{item} was already recorded as sent on {already[item]}: to change it, "
                    f"spo correct {move.id} --sent {item}=DATE --reason TEXT",
                    field="sent",
                )
            changes[d.MOVE_OUT_DOCUMENTS[item]] = day
        new = dataclasses.replace(move, **changes)
        sent_fields = dict.fromkeys(d.MOVE_OUT_DOCUMENTS.values(), "sent")
        _reject(d.check_transfer(new), sent_fields)
        _happened(ctx, new, sent_fields)
        store.update_record(store.read.record(move.id), new, action="transfer.documents")
        return new


# ------------------------------------------------------------------------------ checklists


@dataclass(frozen=True)
class ChecklistLine:
    rule: str
    title: str
    item: str
    text: str
    needs_ref: bool
    done: date | None
    ref: str | None
    record_id: str | None
    begins: date  # the day the checklist begins (its action's trigger): items count from it
    why: str  # what begins it: "full order O-001 granted", "order O-001 discharged"

    def state(self, as_of: date) -> str:
        """``done``; ``to-do``; ``not-yet`` (the checklist begins after ``as_of``); or
        ``too-early`` (recorded before the checklist began, so it does not count)."""
        if self.done is not None:
            return "done" if self.done >= self.begins else "too-early"
        return "to-do" if self.begins <= as_of else "not-yet"


def checklist(ctx: Context, order_ref: str) -> list[ChecklistLine]:
    """Every checklist that applies to an order (its grant checklist, its close-down), item by
    item, done or still to do."""
    with ctx.reading() as reader:
        subject = reader.subject(reader.subject_of_order(order_ref, "order_ref"))
        accountability.consult_subject(ctx, reader, subject, "spo checklist")
        actions = [a for a in reader.actions(subject=subject.reference) if a.order == order_ref]
    return _checklist_lines(ctx, subject, order_ref, actions)


def _checklist_lines(
    ctx: Context, subject: d.Subject, order_ref: str, actions: Sequence[Action]
) -> list[ChecklistLine]:
    order = subject.order(order_ref)
    assert order is not None
    lines = []
    for rule in ctx.policy.rules.values():
        action = next((a for a in actions if a.rule == rule.id), None)
        if rule.completed_by != "checklist" or action is None:
            continue
        for item in rule.items:
            entry = next((e for e in order.checklist if e.item == item.id), None)
            lines.append(
                ChecklistLine(
                    rule=rule.id,
                    title=rule.title,
                    item=item.id,
                    text=item.text,
                    needs_ref=item.needs_ref,
                    done=entry.date if entry else None,
                    ref=entry.ref if entry else None,
                    record_id=entry.id if entry else None,
                    begins=action.trigger_date,
                    why=action.explanation.trigger,
                )
            )
    return lines


def checklist_done(
    ctx: Context, *, order_ref: str, item: str, on: date, ref: str | None
) -> ChecklistLine:
    """One checklist item done for an order."""
    with writing(ctx) as store:
        subject = store.read.subject(store.read.subject_of_order(order_ref, "order_ref"))
        actions = [a for a in store.read.actions(subject=subject.reference) if a.order == order_ref]
        lines = _checklist_lines(ctx, subject, order_ref, actions)
        if not lines:
            raise InvalidInput(f"order {order_ref} has no checklist", field="order_ref")
        line = next((x for x in lines if x.item == item), None)
        if line is None:
            known = ", ".join(x.item for x in lines)
            raise InvalidInput(
                f"{item!r} is not an item of {order_ref}'s checklists ({known})", field="item"
            )
        if line.done is not None:
            raise Duplicate(
                f"{item} was already recorded for {order_ref} on {line.done} ({line.record_id}): "
                f"to change it, spo correct {line.record_id} --date DATE --reason TEXT",
                field="item",
            )
        if line.needs_ref and not (ref or "").strip():
            raise InvalidInput(f"{line.text} needs its reference", field="ref")
        if on < line.begins:
            raise InvalidInput(
                f"{item} is an item of {order_ref}'s {line.title}, which begins on {line.begins} "
                f"({line.why}): {on} is before it",
                field="on",
            )
        order = subject.order(order_ref)
        assert order is not None
        entry = d.ChecklistEntry(item=item, date=on, ref=ref)
        _reject(d.check_checklist(order, entry), {"date": "on"})
        _happened(ctx, entry, {"date": "on"})
        store.add_order_child(order_ref, "checklist", entry, action="checklist.done")
        return ChecklistLine(**{**line.__dict__, "done": on, "ref": ref, "record_id": entry.id})


# ------------------------------------------------------------------------------ corrections


def _field_types(cls: type[object]) -> dict[str, object]:
    import typing

    return {name: hint for name, hint in typing.get_type_hints(cls).items() if name != "id"}


def _value(hint: object, raw: object, field: str) -> object:
    """A value typed on the command line, as the fact's field of type ``hint`` holds it."""
    import types
    import typing
    from enum import StrEnum

    from ..core.dates import parse_date

    if isinstance(hint, types.UnionType):
        if raw is None or raw == "":
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if isinstance(raw, bool) or hint is bool:
        return bool(raw)
    if hint is date:
        return parse_date(str(raw), field)
    if hint is int:
        try:
            return int(str(raw))
        except ValueError:
            raise InvalidInput(f"{raw!r} is not a whole number", field=field) from None
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        try:
            return hint(str(raw))
        except ValueError:
            choices = ", ".join(str(m) for m in hint)
            raise InvalidInput(f"{raw!r} is not one of {choices}", field=field) from None
    if typing.get_origin(hint) is list:
        return list(raw) if isinstance(raw, list | tuple) else [str(raw)]
    return raw


def _place(subject: d.Subject, stored: StoredFactT, fact: object | None) -> str:
    """Put ``fact`` (None: nothing) in place of the stored fact in ``subject``'s lists;
    returns the list's path (``visits[2]``) for errors."""
    if stored.parent_table == "subject":
        items, path = getattr(subject, stored.attr), stored.attr
    elif stored.parent_table == "spo_order":
        i, order = next(
            (i, o) for i, o in enumerate(subject.orders) if o.reference == stored.parent_ref
        )
        items, path = getattr(order, stored.attr), f"orders[{i}].{stored.attr}"
    else:
        i, flag = next(
            (i, f) for i, f in enumerate(subject.flags) if f.reference == stored.parent_ref
        )
        items, path = flag.reviews, f"flags[{i}].reviews"
    index = next((n for n, x in enumerate(items) if x.id == stored.record_id), len(items))
    if index < len(items):
        del items[index]
    if fact is not None:
        items.insert(index, fact)
    return f"{path}[{index}]"


def _order_follows(
    subject: d.Subject, stored: StoredFactT, fact: object | None
) -> dict[str, object]:
    """What an order keeps of its variations and discharges (its end, its status), after the
    change: the order's own columns to write."""
    if stored.parent_table != "spo_order" or stored.attr not in (
        "variations",
        "discharge_applications",
    ):
        return {}
    order = subject.order(stored.parent_ref)
    assert order is not None
    if stored.attr == "variations":
        old: d.Variation = stored.fact
        later = [v for v in order.variations if v.id != stored.record_id and v.date > old.date]
        if later:
            raise InvalidInput(
                f"{stored.record_id} is not the order's latest variation: correct or void "
                f"{later[-1].id} first",
                field="record_id",
            )
        if isinstance(fact, d.Variation):
            order.expires, order.until_further_order = fact.expires, fact.until_further_order
        else:
            order.expires = old.previous_expires
            order.until_further_order = old.previous_until_further_order
        return {"expires": order.expires, "until_further_order": order.until_further_order}
    granted = any(a.outcome is d.DischargeOutcome.GRANTED for a in order.discharge_applications)
    if order.status in (d.OrderStatus.ACTIVE, d.OrderStatus.DISCHARGED):
        order.status = d.OrderStatus.DISCHARGED if granted else d.OrderStatus.ACTIVE
    return {"status": order.status}


def _check_change(
    ctx: Context, store: Store, before: d.Subject, after: d.Subject, path: str
) -> None:
    """Refuse a change that breaks the record: what is wrong after it and was not before."""
    officers = store.read.officer_emails()
    known = {(p.path, p.message) for p in d.check_subject(before, officers, ctx.today())}
    new = [
        p for p in d.check_subject(after, officers, ctx.today()) if (p.path, p.message) not in known
    ]
    if new:
        problem = new[0]
        field = (
            problem.path[len(path) + 1 :] if problem.path.startswith(path + ".") else problem.path
        )
        kind = NotFound if problem.message.endswith(" not found") else InvalidInput
        raise kind(problem.message, field=field)


def correct(
    ctx: Context, *, record_id: str, reason: str, changes: dict[str, object]
) -> StoredFactT:
    """Correct a fact: the changed fields, with the reason. The fact keeps its record id;
    the earlier version stays in its history; deadlines follow."""
    import copy
    import dataclasses

    from ..adapters.exchange import to_json
    from .admin import require_own_or_role

    _reason(reason)
    with writing(ctx) as store:
        stored = store.read.record(record_id)
        if stored.voided_at is not None:
            raise InvalidInput(
                f"{record_id} was voided on {stored.voided_at:%Y-%m-%d}: it cannot be corrected",
                field="record_id",
            )
        require_own_or_role(ctx, store, "correct", stored)
        types_ = _field_types(type(stored.fact))
        values = {}
        for name, raw in changes.items():
            if name not in types_ and f"{name}s" in types_:
                name = f"{name}s"  # --name, repeatable for a notification's names
            if name not in types_:
                known = ", ".join(sorted(types_))
                raise InvalidInput(f"a {stored.kind} has no {name} (it has {known})", field=name)
            values[name] = _value(types_[name], raw, name)
        for name in ("officer", "by"):
            if isinstance(values.get(name), str):
                values[name] = str(values[name]).strip().lower()
        fact = dataclasses.replace(stored.fact, **values)
        if fact == stored.fact:
            raise InvalidInput(
                f"nothing to correct: {record_id} already says that", field="options"
            )
        subject = store.read.subject(stored.subject_ref)
        before = copy.deepcopy(subject)
        path = _place(subject, stored, fact)
        order_changes = _order_follows(subject, stored, fact)
        _check_change(ctx, store, before, subject, path)
        store.correct_record(
            stored, fact, reason=reason, before=to_json(stored.fact), after=to_json(fact)
        )
        if order_changes:
            store.update_order(stored.parent_ref, action="record.correct", **order_changes)
        return stored


def void(ctx: Context, *, record_id: str, reason: str) -> StoredFactT:
    """Withdraw a fact recorded by mistake, with the reason: no rule counts it again; it
    stays in the history (``spo show --history``); its record id is never reused."""
    import copy

    from ..adapters.exchange import to_json
    from .admin import require_own_or_role

    _reason(reason)
    with writing(ctx) as store:
        stored = store.read.record(record_id)
        if stored.voided_at is not None:
            raise Duplicate(
                f"{record_id} was already voided on {stored.voided_at:%Y-%m-%d}", field="record_id"
            )
        require_own_or_role(ctx, store, "void", stored)
        subject = store.read.subject(stored.subject_ref)
        before = copy.deepcopy(subject)
        path = _place(subject, stored, None)
        order_changes = _order_follows(subject, stored, None)
        _check_change(ctx, store, before, subject, path)
        store.void_record(stored, reason=reason, before=to_json(stored.fact))
        if order_changes:
            store.update_order(stored.parent_ref, action="record.void", **order_changes)
        return stored


def _reason(reason: str) -> None:
    _reject(d.check_text(reason, "reason", multiline=True, required=True))


@dataclass(frozen=True)
class History:
    """A subject's corrections and voids, and the facts withdrawn."""

    revisions: list[d.Revision]
    voided: list[StoredFactT]


# ------------------------------------------------------------------------------ flags


def add_flag(ctx: Context, *, subject_ref: str, flag: d.Flag) -> None:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        _reject(d.check_flag(flag), {"reference": "flag_ref"})
        store.add_flag(subject_ref, flag)


def review_flag(ctx: Context, *, flag_ref: str, review: d.FlagReview) -> d.Flag:
    with writing(ctx) as store:
        subject = store.read.subject(store.read.subject_of_flag(flag_ref, "flag_ref"))
        flag = subject.flag(flag_ref)
        assert flag is not None
        flag.reviews.append(review)
        last = len(flag.reviews) - 1
        _reject(
            d.check_flag(flag),
            {f"reviews[{last}].until": "until", f"reviews[{last}].date": "date"},
        )
        _happened(ctx, review)
        store.add_flag_review(flag_ref, review)
        return flag


def deactivate_officer(ctx: Context, *, email: str) -> int:
    """An officer leaving: no more allocations, and their calendar feeds (their own and
    those they made) revoked. Returns how many feeds were revoked."""
    from ..store.tokens import revoke_officer_tokens

    email = email.strip().lower()
    with writing(ctx) as store:
        leaving = store.read.officer(email)
        if leaving is not None:
            require_officer_admin(ctx, store, leaving, "deactivate")
        store.deactivate_officer(email)
        return revoke_officer_tokens(store, email)


# ------------------------------------------------------------------------------ views


def show(
    ctx: Context, subject_ref: str, *, with_history: bool = False
) -> tuple[d.Subject, list[timeline.Entry], History | None]:
    """A subject's details and whole timeline, and (``with_history``) its corrections and
    voids: one read, one consultation in the access log."""
    with ctx.reading() as reader:
        subject = reader.subject(subject_ref)
        accountability.consult_subject(
            ctx, reader, subject, "spo show --history" if with_history else "spo show"
        )
        changes = (
            History(
                reader.revisions([subject_ref]).get(subject_ref, []),
                reader.voided_facts(subject_ref),
            )
            if with_history
            else None
        )
    return subject, timeline.build(subject, ctx.today()), changes


def subject_list(ctx: Context, *, officer: str | None = None) -> list[d.Subject]:
    """Every subject (or one officer's caseload), by reference."""
    with ctx.reading() as reader:
        seen = accountability.visibility(ctx, reader)
        if officer is not None and officer.lower() not in reader.officer_emails():
            raise NotFound(f"officer {officer} not found", field="officer")
        subjects = reader.subject_summaries(officer.lower() if officer else None)
        if officer is not None:
            subjects = [x for x in subjects if x.current_officer() == officer.lower()]
        subjects = [x for x in subjects if seen.allows(x)]
        accountability.consulted(
            ctx,
            reader,
            "spo subject list",
            [x.reference for x in subjects],
            default=CASE_MANAGEMENT,
            whole_caseload=officer is None and seen.everyone,
        )
    return subjects


def officer_list(ctx: Context, *, team: str | None = None) -> list[d.Officer]:
    with ctx.reading() as reader:
        found = reader.officers(team)
    if team is not None and not found:
        raise NotFound(f"team {team!r} not found (no officer is in it)", field="--team")
    return found


def audit(ctx: Context, ref: str | None = None) -> list[AuditEntry]:
    """Who changed what and when: every entry, or those about one subject, order, flag or
    officer."""
    with ctx.reading() as reader:
        accountability.require_scu(ctx, reader, "read the audit trail", ref)
        entries = reader.audit(ref)
        accountability.consulted(
            ctx,
            reader,
            "spo audit",
            {e.subject_ref for e in entries if e.subject_ref},
            default=ACCOUNTABILITY,
        )
        return entries


# ------------------------------------------------------------------------------ exchange

IMPORT_BATCH = 500  # subjects per statement: fewer round trips, bounded statement size


def import_file(
    ctx: Context,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Import a whole record (officers and subjects): all or nothing. Returns (officers,
    subjects); ``progress(done, total)`` is told, in bytes of the file, as subjects go in.
    The file is read as a stream and written in batches as it is checked, in one
    transaction that any error rolls back; every error found is raised together
    (``ImportRejected``, at most ``MAX_ERRORS``)."""
    from ..adapters.exchange import DocumentReader, supervisors_first, voided_fact

    with writing(ctx, bootstrap=True, purpose=ADMINISTRATION) as store:
        reader = DocumentReader(
            path,
            known_officers=store.read.officer_emails(),
            taken=store.reference_clash,
            today=ctx.today(),
        )
        batch: list[d.Subject] = []
        officers_written = False

        def write() -> None:
            nonlocal officers_written
            if not officers_written:
                for officer in supervisors_first(reader.officers):
                    store.add_officer(officer)
                officers_written = True
            store.add_subjects(batch, action="import")
            for subject in batch:
                if subject.revisions:
                    voided = [
                        (r, voided_fact(r))
                        for r in subject.revisions
                        if r.change is d.RevisionKind.VOIDED
                    ]
                    store.restore_revisions(subject, voided)
            batch.clear()
            if progress is not None:
                progress(reader.done, reader.size)

        for subject in reader.subjects():
            # after an error nothing more is written: the transaction is rolled back anyway
            if not dry_run and not reader.failed:
                batch.append(subject)
                if len(batch) >= IMPORT_BATCH:
                    write()
        # reader.subjects() raised if the file had any error
        if dry_run:
            store.session.rollback()
            store.touched.clear()
            return len(reader.officers), reader.subjects_read
        write()
    return len(reader.officers), reader.subjects_read


def export_file(ctx: Context, output: Path) -> None:
    """``export_text`` written to ``output``, owner-only and atomically (a half-written export
    is never left under the real name, nor a temporary file beside it). The path is checked
    before anything is read, so a wrong one is logged as no disclosure."""
    from ..store.files import atomic_write, writable_file

    writable_file(output, "--output")
    atomic_write(output, export_text(ctx).encode("utf-8"))


def export_text(ctx: Context) -> str:
    """The whole record as one JSON document (format spo-tracker, schema_version 1)."""
    from ..adapters.exchange import document, dumps

    with ctx.reading() as reader:
        accountability.require_scu(ctx, reader, "export the whole record")
        subjects = reader.subjects()
        accountability.consulted(
            ctx,
            reader,
            "spo export",
            [s.reference for s in subjects],
            default=ADMINISTRATION,
            whole_caseload=True,
            operation="disclosure",
        )
        revisions = reader.revisions([s.reference for s in subjects])
        for subject in subjects:
            subject.revisions = revisions.get(subject.reference, [])
        return dumps(document(reader.officers(), subjects))
