"""Use cases: each gathers facts from the store, checks them (pure domain), then writes.

Every function takes the ``Store`` of the command's single transaction and keyword-only
arguments. Validation failures raise ``InvalidInput`` naming the field; nothing is written
until every check has passed, and the caller commits once.
"""

from __future__ import annotations

from datetime import date

from . import domain as d
from .errors import Duplicate, InvalidInput
from .store.repo import Store


def _reject(problems: list[d.Problem], rename: dict[str, str] | None = None) -> None:
    """Raise the first problem, with its field named as the caller's user knows it."""
    if problems:
        first = problems[0]
        field = (rename or {}).get(first.path, first.path)
        raise InvalidInput(first.message, field=field)


def _active(order: d.Order, field: str = "order") -> None:
    if order.status is not d.OrderStatus.ACTIVE:
        raise InvalidInput(f"order {order.reference} is {order.status}", field=field)


# ------------------------------------------------------------------------------ officers


def add_officer(*, store: Store, officer: d.Officer) -> None:
    officer.email = officer.email.strip().lower()
    if officer.supervisor:
        officer.supervisor = officer.supervisor.strip().lower()
    _reject(d.check_officer(officer, store.officer_emails()))
    store.add_officer(officer)


# ------------------------------------------------------------------------------ subjects


def add_subject(
    *,
    store: Store,
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
        d.check_subject_details(subject, store.officer_emails()),
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
    *,
    store: Store,
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
    subject = store.load_subject(reference)
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
    _reject(d.check_subject_details(subject, store.officer_emails()), rename)
    if updates:
        store.update_subject(reference, action="subject.update", **updates)
        changed += list(updates)
    for attr, entry in entries:
        store.add_child(reference, None, attr, entry, action="subject.update")
        changed.append(attr)
    return changed


def allocate(*, store: Store, subject_ref: str, officer: str, on: date) -> None:
    subject = store.load_subject(subject_ref)
    officer = officer.strip().lower()
    found = store.get_officer(officer)
    if found is None:
        raise InvalidInput(f"officer {officer} not found", field="officer")
    if not found.active:
        raise InvalidInput(f"{officer} is no longer active", field="officer")
    if found.role is d.Role.SCU:
        raise InvalidInput(f"{officer} is in the SCU and cannot hold a caseload", field="officer")
    if subject.current_officer() == officer:
        raise Duplicate(f"{subject_ref} is already allocated to {officer}", field="officer")
    entry = d.Allocation(officer=officer, since=on)
    _reject(d.check_subject_details(subject, store.officer_emails()))
    store.add_child(subject_ref, None, "allocations", entry, action="allocation.add")


# ------------------------------------------------------------------------------ orders


def add_order(*, store: Store, subject_ref: str, order: d.Order) -> None:
    subject = store.load_subject(subject_ref)
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
        store.update_order(order.replaces, action="order.replaced", status=d.OrderStatus.REPLACED)


def _load_order(store: Store, order_ref: str) -> tuple[d.Subject, d.Order]:
    subject = store.load_subject(store.subject_ref_of_order(order_ref))
    order = subject.order(order_ref)
    assert order is not None
    return subject, order


def vary_order(
    *,
    store: Store,
    order_ref: str,
    on: date,
    expires: date | None,
    until_further_order: bool,
    notes: str | None,
) -> d.Variation:
    _, order = _load_order(store, order_ref)
    _active(order)
    if expires is None and not until_further_order:
        raise InvalidInput("give the new --expires date or --until-further-order", field="expires")
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
    *,
    store: Store,
    order_ref: str,
    on: date,
    subject_consents: bool,
    police_consents: bool,
    outcome: d.DischargeOutcome,
) -> None:
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


def add_condition(*, store: Store, order_ref: str, condition: d.Condition) -> int:
    _, order = _load_order(store, order_ref)
    _active(order)
    _reject(d.check_condition(order, condition))
    return store.add_order_child(order_ref, "conditions", condition, action="condition.add")


def record_renewal(*, store: Store, order_ref: str, renewal: d.Renewal) -> None:
    _, order = _load_order(store, order_ref)
    _active(order)
    _reject(d.check_renewal(order, renewal))
    store.add_order_child(order_ref, "renewals", renewal, action=f"renewal.{renewal.decision}")


# ------------------------------------------------------------------------------ events


def add_visit(*, store: Store, subject_ref: str, visit: d.Visit) -> int:
    store.load_subject(subject_ref)  # proves it exists before anything else is said
    if visit.officer:
        visit.officer = visit.officer.strip().lower()
    _reject(d.check_visit(visit, store.officer_emails()))
    return store.add_child(subject_ref, None, "visits", visit, action="visit.add")


def add_breach(*, store: Store, subject_ref: str, breach: d.Breach) -> int:
    store.load_subject(subject_ref)
    _reject(d.check_breach(breach))
    return store.add_child(subject_ref, None, "breaches", breach, action="breach.add")


def add_notification(*, store: Store, subject_ref: str, notification: d.Notification) -> int:
    store.load_subject(subject_ref)
    _reject(d.check_notification(notification), {"names[0]": "name"})
    return store.add_child(
        subject_ref, None, "notifications", notification, action="notification.add"
    )


def add_transfer(*, store: Store, subject_ref: str, transfer: d.Transfer) -> int:
    store.load_subject(subject_ref)
    option = "from_force" if transfer.direction is d.Direction.IN else "to_force"
    _reject(d.check_transfer(transfer), {"force": option})
    return store.add_child(
        subject_ref, None, "transfers", transfer, action=f"transfer.{transfer.direction}"
    )


def add_review(*, store: Store, subject_ref: str, review: d.Review) -> int:
    store.load_subject(subject_ref)
    review.by = review.by.strip().lower()
    _reject(d.check_review(review, store.officer_emails()))
    return store.add_child(subject_ref, None, "reviews", review, action="review.add")


def add_plan(*, store: Store, subject_ref: str, plan: d.ManagementPlan) -> int:
    store.load_subject(subject_ref)
    _reject(d.check_plan(plan))
    return store.add_child(subject_ref, None, "management_plans", plan, action="smp.add")


# ------------------------------------------------------------------------------ flags


def add_flag(*, store: Store, subject_ref: str, flag: d.Flag) -> None:
    store.load_subject(subject_ref)
    _reject(d.check_flag(flag), {"reference": "flag_ref"})
    store.add_flag(subject_ref, flag)


def review_flag(*, store: Store, flag_ref: str, review: d.FlagReview) -> d.Flag:
    subject = store.load_subject(store.subject_ref_of_flag(flag_ref, "flag_ref"))
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
