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


def _end(expires: date | None, until_further_order: bool) -> str:
    return "until further order" if until_further_order else f"expires {expires}"


def _order_entries(order: d.Order) -> list[Entry]:
    court = f" at {order.court}" if order.court else ""
    replaces = f", replacing {order.replaces}" if order.replaces else ""
    out = [
        Entry(
            order.made,
            "order",
            f"{order.type} order {order.reference} made{court}{replaces} "
            f"({_end(order.expires, order.until_further_order)}; {order.status})",
        )
    ]
    for cond in order.conditions:
        ends = f" until {cond.ends}" if cond.ends else ""
        out.append(
            Entry(order.made, "condition", f"{order.reference} {cond.kind}{ends}: {cond.text}")
        )
    if order.served:
        out.append(Entry(order.served, "order", f"order {order.reference} served"))
    for var in order.variations:
        was = _end(var.previous_expires, var.previous_until_further_order)
        now = _end(var.expires, var.until_further_order)
        notes = f" ({var.notes})" if var.notes else ""
        out.append(
            Entry(var.date, "variation", f"order {order.reference} varied: {was} -> {now}{notes}")
        )
    for ren in order.renewals:
        text = (
            f"renewal of {order.reference} submitted to the SCU"
            if ren.decision is d.RenewalDecision.SUBMITTED
            else f"decided not to renew {order.reference}: {ren.reason}"
        )
        out.append(Entry(ren.date, "renewal", text))
    for dis in order.discharge_applications:
        consents = [
            who
            for who, given in (("subject", dis.subject_consents), ("police", dis.police_consents))
            if given
        ]
        with_consent = f" with consent of {' and '.join(consents)}" if consents else ""
        out.append(
            Entry(
                dis.date, "discharge", f"discharge of {order.reference} {dis.outcome}{with_consent}"
            )
        )
    return out


def build(subject: d.Subject) -> list[Entry]:
    """Every dated fact about ``subject``, oldest first (undated history entries lead)."""
    out: list[Entry] = []
    out += [Entry(n.since, "name", f"{n.kind}: {n.name}") for n in subject.names]
    out += [Entry(a.since, "address", f"address: {a.address}") for a in subject.addresses]
    out += [Entry(r.since, "risk", f"risk level {r.level}") for r in subject.risk_levels]
    out += [Entry(a.since, "allocation", f"allocated to {a.officer}") for a in subject.allocations]
    for order in subject.orders:
        out += _order_entries(order)
    for v in subject.visits:
        by = f" by {v.officer}" if v.officer else ""
        outcome = f": {v.outcome}" if v.outcome else ""
        out.append(Entry(v.date, "visit", f"visit #{v.id} ({v.kind}){by}{outcome}"))
    for b in subject.breaches:
        bits = [str(b.offence)]
        if b.crime_ref:
            bits.append(f"crime ref {b.crime_ref}")
        if b.arrested:
            bits.append("arrested")
        if b.outcome:
            bits.append(f"outcome: {b.outcome}")
        out.append(Entry(b.date, "breach", f"breach #{b.id}: {', '.join(bits)}"))
    for n in subject.notifications:
        what = ", ".join([*n.names, *([n.address] if n.address else [])]) or "details"
        ack = f" (ack {n.ack_ref})" if n.ack_ref else ""
        out.append(Entry(n.date, "notification", f"notified {what}{ack}"))
    for f in subject.flags:
        out.append(Entry(None, "flag", f"flag {f.reference} set to expire on {f.expires}"))
        for r in f.reviews:
            until = f" to {r.until}" if r.until else ""
            out.append(Entry(r.date, "flag", f"flag {f.reference} reviewed: {r.outcome}{until}"))
    for t in subject.transfers:
        way = (
            f"moved in from {t.force}"
            if t.direction is d.Direction.IN
            else f"moved out to {t.force}"
        )
        docs = " (documents sent)" if t.documents_sent else ""
        out.append(Entry(t.date, "transfer", f"{way}{docs}"))
    for p in subject.management_plans:
        out.append(
            Entry(
                p.date,
                "smp",
                "Subject Management Plan written" + (f": {p.notes}" if p.notes else ""),
            )
        )
    for rv in subject.reviews:
        notes = f": {rv.notes}" if rv.notes else ""
        out.append(Entry(rv.date, "review", f"SMP reviewed by {rv.by}{notes}"))
    # Stable sort: same-day entries keep the order above (order made before it is served).
    return sorted(out, key=lambda e: e.date or date.min)
