"""Record use cases: officers, subjects, orders and every dated fact; a subject shown, the
lists, import and export, the audit trail.

Each write gathers facts from the store, checks them (the core's invariants), then writes,
in one transaction (``writing``) that also recomputes the subjects' deadlines. Validation
failures raise ``InvalidInput`` naming the field; nothing is written until every check has
passed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import record as d
from ..core import timeline
from ..core.errors import Duplicate, InvalidInput, NotFound
from ..store.read import AuditEntry
from . import Context, writing
from .admin import require_role

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


def as_json(record: d.Subject | d.Officer) -> object:
    """A subject or officer as the export format writes it."""
    from ..adapters.exchange import to_json

    return to_json(record)


def _reject(problems: list[d.Problem], rename: dict[str, str] | None = None) -> None:
    """Raise the first problem, with its field named as the caller's user knows it."""
    if problems:
        first = problems[0]
        field = (rename or {}).get(first.path, first.path)
        kind = NotFound if first.message.endswith(" not found") else InvalidInput
        raise kind(first.message, field=field)


def _active(order: d.Order, field: str = "order") -> None:
    if order.status is not d.OrderStatus.ACTIVE:
        raise InvalidInput(f"order {order.reference} is {order.status}", field=field)


# ------------------------------------------------------------------------------ officers


def add_officer(ctx: Context, *, officer: d.Officer) -> None:
    with writing(ctx) as store:
        officer.email = officer.email.strip().lower()
        if officer.supervisor:
            officer.supervisor = officer.supervisor.strip().lower()
        _reject(d.check_officer(officer, store.read.officer_emails()))
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


def allocate(ctx: Context, *, subject_ref: str, officer: str, on: date) -> None:
    with writing(ctx) as store:
        subject = store.read.subject(subject_ref)
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
        if subject.current_officer() == officer:
            raise Duplicate(f"{subject_ref} is already allocated to {officer}", field="officer")
        entry = d.Allocation(officer=officer, since=on)
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
        require_role(ctx, store, "discharge")
        _, order = _load_order(store, order_ref)
        _active(order)
        application = d.DischargeApplication(
            date=on,
            subject_consents=subject_consents,
            police_consents=police_consents,
            outcome=outcome,
        )
        _reject(d.check_discharge(order, application))
        store.add_order_child(
            order_ref, "discharge_applications", application, action="order.discharge"
        )
        if outcome is d.DischargeOutcome.GRANTED:
            store.update_order(order_ref, action="order.discharge", status=d.OrderStatus.DISCHARGED)


def add_condition(ctx: Context, *, order_ref: str, condition: d.Condition) -> int:
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
        store.add_order_child(order_ref, "renewals", renewal, action=f"renewal.{renewal.decision}")


# ------------------------------------------------------------------------------ events


def add_visit(ctx: Context, *, subject_ref: str, visit: d.Visit) -> int:
    with writing(ctx) as store:
        store.read.subject(subject_ref)  # proves it exists before anything else is said
        if visit.officer:
            visit.officer = visit.officer.strip().lower()
        _reject(d.check_visit(visit, store.read.officer_emails()))
        return store.add_child(subject_ref, None, "visits", visit, action="visit.add")


def add_breach(ctx: Context, *, subject_ref: str, breach: d.Breach) -> int:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        _reject(d.check_breach(breach))
        return store.add_child(subject_ref, None, "breaches", breach, action="breach.add")


def add_notification(ctx: Context, *, subject_ref: str, notification: d.Notification) -> int:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        _reject(d.check_notification(notification), {"names[0]": "name"})
        return store.add_child(
            subject_ref, None, "notifications", notification, action="notification.add"
        )


def add_transfer(ctx: Context, *, subject_ref: str, transfer: d.Transfer) -> int:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        option = "from_force" if transfer.direction is d.Direction.IN else "to_force"
        _reject(d.check_transfer(transfer), {"force": option})
        return store.add_child(
            subject_ref, None, "transfers", transfer, action=f"transfer.{transfer.direction}"
        )


def add_review(ctx: Context, *, subject_ref: str, review: d.Review) -> int:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        review.by = review.by.strip().lower()
        _reject(d.check_review(review, store.read.officer_emails()))
        return store.add_child(subject_ref, None, "reviews", review, action="review.add")


def add_plan(ctx: Context, *, subject_ref: str, plan: d.ManagementPlan) -> int:
    with writing(ctx) as store:
        store.read.subject(subject_ref)
        _reject(d.check_plan(plan))
        return store.add_child(subject_ref, None, "management_plans", plan, action="smp.add")


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
        store.add_flag_review(flag_ref, review)
        return flag


def deactivate_officer(ctx: Context, *, email: str) -> int:
    """An officer leaving: no more allocations, and their calendar feeds (their own and
    those they made) revoked. Returns how many feeds were revoked."""
    from ..store.tokens import revoke_officer_tokens

    email = email.strip().lower()
    with writing(ctx) as store:
        store.deactivate_officer(email)
        return revoke_officer_tokens(store, email)


# ------------------------------------------------------------------------------ views


def show(ctx: Context, subject_ref: str) -> tuple[d.Subject, list[timeline.Entry]]:
    """A subject's details and whole timeline."""
    with ctx.reading() as reader:
        subject = reader.subject(subject_ref)
    return subject, timeline.build(subject)


def subject_list(ctx: Context, *, officer: str | None = None) -> list[d.Subject]:
    """Every subject (or one officer's caseload), by reference."""
    with ctx.reading() as reader:
        if officer is not None and officer.lower() not in reader.officer_emails():
            raise NotFound(f"officer {officer} not found", field="officer")
        subjects = reader.subject_summaries(officer.lower() if officer else None)
    if officer is None:
        return subjects
    return [x for x in subjects if x.current_officer() == officer.lower()]


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
        return reader.audit(ref)


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
    subjects); ``progress(done, total)`` is told as subjects go in. Every error of the file is
    raised together (``ImportRejected``)."""
    from ..adapters.exchange import parse_document, parse_text, supervisors_first

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", field="file") from None
    doc = parse_text(text)
    del text  # the file's text is as large as the file: not kept while importing
    with writing(ctx) as store:
        officers, subjects = parse_document(
            doc, known_officers=store.read.officer_emails(), taken=store.reference_clash
        )
        del doc  # parsed into records: the JSON values are not needed any more
        if dry_run:
            store.session.rollback()
            store.touched.clear()
            return len(officers), len(subjects)
        for officer in supervisors_first(officers):
            store.add_officer(officer)
        for start in range(0, len(subjects), IMPORT_BATCH):
            batch = subjects[start : start + IMPORT_BATCH]
            store.add_subjects(batch, action="import")
            if progress is not None:
                progress(start + len(batch), len(subjects))
    return len(officers), len(subjects)


def export_text(ctx: Context) -> str:
    """The whole record as one JSON document (format spo-tracker, schema_version 1)."""
    from ..adapters.exchange import document, dumps

    with ctx.reading() as reader:
        return dumps(document(reader.officers(), reader.subjects()))
