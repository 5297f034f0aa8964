"""A subject's record as one chronological timeline (``spo show``). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from . import record as d


@dataclass(frozen=True)
class Entry:
    date: date | None
    kind: str
    text: str
    record: str | None = None  # the fact's record id (what spo correct and spo void take)


def _end(expires: date | None, until_further_order: bool) -> str:
    return "until further order" if until_further_order else f"expires {expires}"


def _order_entries(order: d.Order, as_of: date) -> list[Entry]:
    court = f" at {order.court}" if order.court else ""
    replaces = f", replacing {order.replaces}" if order.replaces else ""
    out = [
        Entry(
            order.made,
            "order",
            f"{order.type} order {order.reference} made{court}{replaces} "
            f"({_end(order.expires, order.until_further_order)}; {order.standing(as_of)})",
        )
    ]
    for cond in order.conditions:
        ends = f" until {cond.ends}" if cond.ends else ""
        out.append(
            Entry(
                order.made,
                "condition",
                f"{order.reference} {cond.kind}{ends}: {cond.text}",
                cond.id,
            )
        )
    if order.served:
        out.append(Entry(order.served, "order", f"order {order.reference} served"))
    for var in order.variations:
        was = _end(var.previous_expires, var.previous_until_further_order)
        now = _end(var.expires, var.until_further_order)
        notes = f" ({var.notes})" if var.notes else ""
        out.append(
            Entry(
                var.date,
                "variation",
                f"order {order.reference} varied: {was} -> {now}{notes}",
                var.id,
            )
        )
    for ren in order.renewals:
        text = (
            f"renewal of {order.reference} submitted to the SCU"
            if ren.decision is d.RenewalDecision.SUBMITTED
            else f"decided not to renew {order.reference}: {ren.reason}"
        )
        out.append(Entry(ren.date, "renewal", text, ren.id))
    for dis in order.discharge_applications:
        consents = [
            who
            for who, given in (("subject", dis.subject_consents), ("police", dis.police_consents))
            if given
        ]
        with_consent = f" with consent of {' and '.join(consents)}" if consents else ""
        out.append(
            Entry(
                dis.date,
                "discharge",
                f"discharge of {order.reference} {dis.outcome}{with_consent}",
                dis.id,
            )
        )
    for item in order.checklist:
        ref = f" ({item.ref})" if item.ref else ""
        out.append(
            Entry(item.date, "checklist", f"{order.reference}: {item.item} done{ref}", item.id)
        )
    return out


def build(subject: d.Subject, as_of: date) -> list[Entry]:
    """Every dated fact about ``subject``, oldest first (undated history entries lead); each
    order described as it stands on ``as_of``."""
    out: list[Entry] = []
    out += [Entry(n.since, "name", f"{n.kind}: {n.name}", n.id) for n in subject.names]
    out += [Entry(a.since, "address", f"address: {a.address}", a.id) for a in subject.addresses]
    out += [Entry(r.since, "risk", f"risk level {r.level}", r.id) for r in subject.risk_levels]
    out += [
        Entry(a.since, "allocation", f"allocated to {a.officer}", a.id) for a in subject.allocations
    ]
    for order in subject.orders:
        out += _order_entries(order, as_of)
    for v in subject.visits:
        by = f" by {v.officer}" if v.officer else ""
        outcome = f": {v.outcome}" if v.outcome else ""
        out.append(Entry(v.date, "visit", f"{v.kind} visit{by}{outcome}", v.id))
    for b in subject.breaches:
        bits = [str(b.offence)]
        if b.crime_ref:
            bits.append(f"crime ref {b.crime_ref}")
        if b.arrested:
            bits.append("arrested")
        if b.charged:
            bits.append("charged")
        if b.outcome:
            bits.append(f"outcome (recorded {b.outcome_on or b.date}): {b.outcome}")
        out.append(Entry(b.date, "breach", ", ".join(bits), b.id))
    for n in subject.notifications:
        what = ", ".join([*n.names, *([n.address] if n.address else [])]) or "details"
        ack = f" (ack {n.ack_ref})" if n.ack_ref else ""
        out.append(Entry(n.date, "notification", f"notified {what}{ack}", n.id))
    for f in subject.flags:
        out.append(Entry(None, "flag", f"flag {f.reference} set to expire on {f.expires}"))
        for r in f.reviews:
            until = f" to {r.until}" if r.until else ""
            out.append(
                Entry(r.date, "flag", f"flag {f.reference} reviewed: {r.outcome}{until}", r.id)
            )
    for t in subject.transfers:
        way = (
            f"moved in from {t.force}"
            if t.direction is d.Direction.IN
            else f"moved out to {t.force}"
        )
        docs = ""
        if t.direction is d.Direction.OUT:
            sent = t.documents()
            done = [f"{item} {day}" for item, day in sent.items() if day]
            todo = [item for item, day in sent.items() if not day]
            docs = f" (sent: {', '.join(done) or 'nothing yet'}"
            docs += f"; to send: {', '.join(todo)})" if todo else ")"
        out.append(Entry(t.date, "transfer", f"{way}{docs}", t.id))
    for p in subject.management_plans:
        every = f" (visits every {p.visit_every_days} days)" if p.visit_every_days else ""
        out.append(
            Entry(
                p.date,
                "smp",
                "Subject Management Plan written" + every + (f": {p.notes}" if p.notes else ""),
                p.id,
            )
        )
    for rv in subject.reviews:
        notes = f": {rv.notes}" if rv.notes else ""
        out.append(Entry(rv.date, "review", f"SMP reviewed by {rv.by}{notes}", rv.id))
    for o in subject.action_overrides:
        why = f": {o.reason}" if o.reason else ""
        out.append(Entry(o.date, "override", f"action {o.action[:10]} {o.kind}{why}", o.id))
    # Stable sort: same-day entries keep the order above (order made before it is served).
    return sorted(out, key=lambda e: e.date or date.min)
