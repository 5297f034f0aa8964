"""What ``spo doctor`` finds wrong in the record itself: a subject with no order at all, an
order in force with nobody allocated, officers gone but still holding cases, no risk level.
A subject whose orders have all ended is normal (kept for the retention period). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import record as d


@dataclass(frozen=True)
class Finding:
    check: str
    message: str
    subject: str | None = None


def record_findings(
    subjects: Iterable[d.Subject], officers: Mapping[str, d.Officer], today: dt.date
) -> list[Finding]:
    findings: list[Finding] = []
    for subject in subjects:
        in_force = [
            o
            for o in subject.orders
            if o.status is d.OrderStatus.ACTIVE
            and (o.until_further_order or (o.expires is not None and o.expires >= today))
            and o.made <= today
        ]
        current = subject.current_officer()
        if not subject.orders:
            findings.append(Finding("no-order", "no order recorded", subject.reference))
        elif in_force and current is None:
            findings.append(
                Finding(
                    "unallocated",
                    "an order is in force but no offender manager is allocated",
                    subject.reference,
                )
            )
        if current is not None and current in officers and not officers[current].active:
            findings.append(
                Finding(
                    "inactive-officer",
                    f"allocated to {current}, who is no longer active",
                    subject.reference,
                )
            )
        if subject.current_risk() is None and in_force:
            findings.append(
                Finding(
                    "no-risk-level",
                    "no risk level recorded (the review cadence falls back to monthly)",
                    subject.reference,
                )
            )
    return findings
