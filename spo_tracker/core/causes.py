"""What caused a change, in words an officer reads ("order O-011 varied on 2026-05-20"), from
the name of the write and the record it touched. Pure."""

from __future__ import annotations

import datetime as dt

_WORDS = {
    "subject.add": "subject {ref} added",
    "subject.update": "details of {ref} changed",
    "allocation.add": "{ref} allocated to an offender manager",
    "officer.add": "officer {ref} added",
    "officer.deactivate": "officer {ref} left",
    "order.add": "order {ref} recorded",
    "order.vary": "order {ref} varied",
    "order.discharge": "order {ref} discharged",
    "order.replaced": "order {ref} replaced by a full order",
    "condition.add": "a condition added to order {ref}",
    "renewal.submitted": "renewal of order {ref} submitted",
    "renewal.declined": "decision not to renew order {ref}",
    "visit.add": "visit to {ref} recorded",
    "breach.add": "breach by {ref} recorded",
    "notification.add": "notification by {ref} recorded",
    "flag.add": "flag {ref} added",
    "flag.review": "flag {ref} reviewed",
    "transfer.in": "{ref} moved into the area",
    "transfer.out": "{ref} moved out of the area",
    "review.add": "supervisor review of {ref} recorded",
    "smp.add": "Subject Management Plan for {ref} recorded",
    "action.done": "an action of {ref} marked done",
    "action.due": "an action of {ref} re-dated",
    "action.waive": "an action of {ref} waived",
    "record.correct": "{ref} corrected",
    "record.void": "{ref} withdrawn (voided)",
    "breach.update": "breach {ref} updated",
    "transfer.documents": "documents of move {ref} sent",
    "checklist.done": "a checklist item of order {ref} done",
    "refused": "a refused request about {ref}",
    "import": "{ref} imported",
    "recompute": "deadlines recomputed",
    "policy change": "the deadline policy changed",
}


def cause_words(action: str, ref: str | None, on: dt.date | None = None) -> str:
    """``order.vary``, ``O-011``, 2026-05-20 -> ``order O-011 varied on 2026-05-20``."""
    words = _WORDS.get(action, action.replace(".", " ")).format(ref=ref or "the record")
    return f"{words} on {on}" if on is not None else words
