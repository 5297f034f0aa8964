"""The facts the engine reads: one subject's record, and the views of it every rule shares
(orders in force, managed periods, moves, risk over time). Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import record as d

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Facts:
    """Everything the engine needs about one subject."""

    subject: d.Subject
    # who answers for an unallocated subject's actions (a deployment setting), if anyone
    unallocated_officer: str | None = None
    # the supervisor of the subject's offender manager, who owns the supervisor's rules
    supervisor: str | None = None


def records_end(subject: d.Subject) -> dt.date | None:
    """The last day any order was in force, or None while one still is (or none was made):
    the date the retention period runs from."""
    record = Record(subject)
    if not record.orders:
        return None
    ends = [record.order_end(o) for o in record.orders]
    if any(e is None for e in ends):
        return None
    return max(e.last_day for e in ends if e is not None)


def orders_by_ref(subject: d.Subject) -> dict[str, d.Order]:
    return {o.reference: o for o in subject.orders}


def granted_discharge(order: d.Order) -> dt.date | None:
    dates = [
        a.date for a in order.discharge_applications if a.outcome is d.DischargeOutcome.GRANTED
    ]
    return min(dates) if dates else None


class Record:
    """Derived views of one subject's facts, computed once."""

    def __init__(self, subject: d.Subject) -> None:
        self.subject = subject
        self.orders = sorted(subject.orders, key=lambda o: o.made)
        by_ref = orders_by_ref(subject)
        self.successor: dict[str, d.Order] = {}
        for order in self.orders:
            if order.replaces and order.replaces in by_ref:
                self.successor[order.replaces] = order
        self.transfers = sorted(subject.transfers, key=lambda t: t.date)
        self.visits = sorted(v.date for v in subject.visits)
        self.plans = sorted(subject.management_plans, key=lambda p: p.date)
        self.reviews = sorted(r.date for r in subject.reviews)
        self.notifications = sorted(n.date for n in subject.notifications)
        self.allocations = sorted(
            (a for a in subject.allocations if a.since is not None),
            key=lambda a: a.since or dt.date.min,
        )

    # An order's last day in force, why, and whether that is a recorded event (a discharge or a
    # replacement) or simply the end date it was made with (which the action outlives as a lapse).
    def order_end(self, order: d.Order) -> End | None:
        ends: list[End] = []
        discharged = granted_discharge(order)
        if discharged is not None:
            ends.append(
                End(discharged - ONE_DAY, f"order {order.reference} discharged on {discharged}")
            )
        successor = self.successor.get(order.reference)
        if successor is not None:
            ends.append(
                End(
                    successor.made - ONE_DAY,
                    f"interim order {order.reference} replaced by {successor.reference} "
                    f"on {successor.made}",
                )
            )
        if order.expires is not None and not order.until_further_order:
            ends.append(
                End(order.expires, f"order {order.reference} ends on {order.expires}", lapse=True)
            )
        return min(ends, key=lambda e: (e.last_day, e.lapse)) if ends else None

    def chain(self, root: d.Order) -> list[d.Order]:
        chain = [root]
        while chain[-1].reference in self.successor:
            chain.append(self.successor[chain[-1].reference])
        return chain

    def chain_end(self, root: d.Order) -> End | None:
        return self.order_end(self.chain(root)[-1])

    def roots(self) -> list[d.Order]:
        return [o for o in self.orders if not o.replaces or o.replaces not in self.successor]

    def in_force(self, order: d.Order, day: dt.date) -> bool:
        end = self.order_end(order)
        return order.made <= day and (end is None or day <= end.last_day)

    def ours_during(self, start: dt.date, end: dt.date | None) -> bool:
        """Was the subject in our area at any time from ``start`` to ``end``?"""
        return self.in_area(start) or any(
            t.direction is d.Direction.IN and start < t.date and (end is None or t.date <= end)
            for t in self.transfers
        )

    def in_area(self, day: dt.date) -> bool:
        """Was the subject ours on ``day``? Before any move, yes unless they later moved in."""
        last = None
        for transfer in self.transfers:
            if transfer.date <= day:
                last = transfer
        if last is not None:
            return last.direction is d.Direction.IN
        first = self.transfers[0] if self.transfers else None
        return first is None or first.direction is d.Direction.OUT

    def managed_intervals(self) -> list[tuple[dt.date, End | None]]:
        """Periods when an order was in force and the subject was in our area, with their end."""
        boundaries: set[dt.date] = set()
        lapses: set[dt.date] = set()
        for order in self.orders:
            boundaries.add(order.made)
            end = self.order_end(order)
            if end is not None:
                boundaries.add(end.last_day + ONE_DAY)
                if end.lapse:
                    lapses.add(end.last_day)
        boundaries |= {t.date for t in self.transfers}
        spans: list[tuple[dt.date, dt.date | None]] = []
        points = sorted(boundaries)
        for i, start in enumerate(points):
            managed = self.in_area(start) and any(self.in_force(o, start) for o in self.orders)
            if not managed:
                continue
            last = points[i + 1] - ONE_DAY if i + 1 < len(points) else None
            if spans and spans[-1][1] == start - ONE_DAY:
                spans[-1] = (spans[-1][0], last)
            else:
                spans.append((start, last))
        return [
            (
                start,
                None
                if last is None
                else End(
                    last,
                    f"no order in force, or the subject out of the area, after {last}",
                    lapse=last in lapses,
                ),
            )
            for start, last in spans
        ]

    def risk_segments(self) -> list[tuple[dt.date, str]]:
        """(from, level) in date order; an unknown start counts from the beginning."""
        entries = sorted(self.subject.risk_levels, key=lambda r: r.since or dt.date.min)
        return [(r.since or dt.date.min, str(r.level)) for r in entries]


@dataclass(frozen=True)
class End:
    """The last day something applies, why, and whether it is a scheduled end (a lapse)."""

    last_day: dt.date
    why: str
    lapse: bool = False


_Item = TypeVar("_Item")


def numbered(
    items: Iterable[_Item],
    group: Callable[[_Item], object],
    order: Callable[[_Item], Any],
) -> list[tuple[_Item, int]]:
    """Items in a canonical order, each numbered within its group (0 for the usual single
    one), so an occurrence's key depends on what it is, not on when it was recorded."""
    counts: dict[object, int] = {}
    result = []
    for item in sorted(items, key=order):
        key = group(item)
        counts[key] = counts.get(key, -1) + 1
        result.append((item, counts[key]))
    return result


def first_on_or_after(dates: Sequence[dt.date], day: dt.date) -> dt.date | None:
    return next((x for x in dates if x >= day), None)


def first_after(dates: Sequence[dt.date], day: dt.date) -> dt.date | None:
    return next((x for x in dates if x > day), None)
