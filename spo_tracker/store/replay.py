"""``--known-at``: what the system knew at a past moment, rebuilt from the audit trail.

Every write stores the entity's after-image in the audit log, so the record as it stood at
time T is the latest image of each entity written at or before T. The subjects are mapped
with the store's own loader (over these images instead of tables) and handed to the engine
with the policy that was in force at T.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections import defaultdict
from typing import Any

from sqlmodel import SQLModel, col, select

from .. import domain as d
from ..policy import Policy, parse_policy
from ..rules import Action, Facts, derive_actions
from . import models as m
from .repo import Store

_TABLES: dict[str, type[SQLModel]] = {
    str(cls.__tablename__): cls
    for cls in (
        m.OfficerRow,
        m.SubjectRow,
        m.NameRow,
        m.AddressRow,
        m.RiskRow,
        m.AllocationRow,
        m.OrderRow,
        m.ConditionRow,
        m.VariationRow,
        m.RenewalRow,
        m.DischargeRow,
        m.VisitRow,
        m.BreachRow,
        m.NotificationRow,
        m.FlagRow,
        m.FlagReviewRow,
        m.TransferRow,
        m.PlanRow,
        m.ReviewRow,
        m.OverrideRow,
    )
}


def _row(cls: type[SQLModel], image: dict[str, Any]) -> SQLModel:
    """Rebuild a row from its JSON image (dates come back from ISO text)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in image.items():
        hint = hints.get(name)
        if isinstance(value, str) and hint in (dt.date, dt.date | None):
            value = dt.date.fromisoformat(value)
        values[name] = value
    return cls(**values)


class ReplayStore(Store):
    """A read-only Store whose tables are the audit images known at ``at``."""

    def __init__(self, store: Store, at: dt.datetime) -> None:
        super().__init__(store.session, actor=store.actor, now=at)
        images: dict[tuple[str, int], dict[str, Any]] = {}
        query = select(m.AuditRow).where(col(m.AuditRow.at) <= at).order_by(col(m.AuditRow.id))
        for entry in store.session.exec(query).all():
            if entry.entity in _TABLES and entry.entity_id is not None:
                key = (entry.entity, entry.entity_id)
                if entry.after is None:
                    images.pop(key, None)
                else:
                    images[key] = entry.after
        self.rows: dict[str, list[Any]] = defaultdict(list)
        for (table, _), image in sorted(images.items()):
            self.rows[table].append(_row(_TABLES[table], image))

    def _officer_maps(self) -> tuple[dict[str, int], dict[int, str]]:
        officers = self.rows["officer"]
        return {o.email: o.id for o in officers}, {o.id: o.email for o in officers}

    def _children(
        self, row_cls: type[SQLModel], parent_col: str, parent_ids: list[int]
    ) -> dict[int, list[Any]]:
        wanted = set(parent_ids)
        grouped: dict[int, list[Any]] = defaultdict(list)
        rows = self.rows[str(row_cls.__tablename__)]
        rows = sorted(rows, key=lambda r: (getattr(r, "date", dt.date.min), r.id))
        for row in rows:
            parent = getattr(row, parent_col)
            if parent in wanted:
                grouped[parent].append(row)
        return grouped

    def known_subjects(self, subject: str | None = None) -> list[d.Subject]:
        rows = [r for r in self.rows["subject"] if subject is None or r.reference == subject]
        return self._load(sorted(rows, key=lambda r: r.reference))


def policy_at(store: Store, at: dt.datetime, fallback: Policy) -> Policy:
    """The policy first used at or before ``at`` most recently; else ``fallback``."""
    query = (
        select(m.PolicyLogRow)
        .where(col(m.PolicyLogRow.at) <= at)
        .order_by(col(m.PolicyLogRow.id).desc())
    )
    row = store.session.exec(query).first()
    if row is None or row.digest == fallback.digest:
        return fallback
    return parse_policy(row.text)


def actions_known_at(
    store: Store, at: dt.datetime, *, fallback: Policy, subject: str | None = None
) -> list[Action]:
    """The actions the system would have derived at ``at``."""
    replay = ReplayStore(store, at)
    policy = policy_at(store, at, fallback)
    actions: list[Action] = []
    for known in replay.known_subjects(subject):
        actions += derive_actions(Facts(known), policy)
    return actions
