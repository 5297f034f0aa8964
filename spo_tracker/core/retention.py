"""How long records are kept: while an order is in force and for the policy's retention
period after the last one ends. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .dates import anniversary
from .record import Subject
from .rules import records_end


@dataclass(frozen=True)
class Expired:
    reference: str
    records_end: dt.date
    keep_until: dt.date


def expired(subjects: Iterable[Subject], *, years: int, as_of: dt.date) -> list[Expired]:
    """Subjects whose last order ended more than ``years`` before ``as_of``."""
    found = []
    for subject in subjects:
        ended = records_end(subject)
        if ended is None:
            continue
        keep_until = anniversary(ended, years)
        if keep_until <= as_of:
            found.append(Expired(subject.reference, ended, keep_until))
    return found
