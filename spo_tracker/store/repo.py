"""The store adapter: domain objects in and out, every write audited.

One ``Store`` wraps one session, i.e. one transaction: a command builds it, does its work
and commits once, so a failure anywhere leaves nothing half-written. The mapping between
rows and dataclasses lives here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import typing
from collections import defaultdict
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, or_, update
from sqlmodel import Session, SQLModel, col, select

from .. import domain as d
from ..errors import Duplicate, InvalidInput, NotFound
from ..rules import Action
from . import models as m
from .service_models import OutboxRow

MIN_ACTION_PREFIX = 6  # the shortest start of an action id accepted in its place
_Row = TypeVar("_Row", bound=SQLModel)
_T = TypeVar("_T")
_Obj = TypeVar("_Obj")

# Child collections of a subject: domain attribute -> (row class, domain class).
_SUBJECT_CHILDREN: dict[str, tuple[type[SQLModel], type[Any]]] = {
    "names": (m.NameRow, d.NameEntry),
    "addresses": (m.AddressRow, d.AddressEntry),
    "risk_levels": (m.RiskRow, d.RiskEntry),
    "allocations": (m.AllocationRow, d.Allocation),
    "visits": (m.VisitRow, d.Visit),
    "breaches": (m.BreachRow, d.Breach),
    "notifications": (m.NotificationRow, d.Notification),
    "transfers": (m.TransferRow, d.Transfer),
    "management_plans": (m.PlanRow, d.ManagementPlan),
    "reviews": (m.ReviewRow, d.Review),
    "action_overrides": (m.OverrideRow, d.ActionOverride),
}
_ORDER_CHILDREN: dict[str, tuple[type[SQLModel], type[Any]]] = {
    "conditions": (m.ConditionRow, d.Condition),
    "variations": (m.VariationRow, d.Variation),
    "renewals": (m.RenewalRow, d.Renewal),
    "discharge_applications": (m.DischargeRow, d.DischargeApplication),
}
# Domain fields that name an officer by email, stored as a foreign key.
_OFFICER_FIELDS = {"officer": "officer_id", "by": "by_id"}
# History lists with an unknown start date sort first; events sort by date, then entry order.
_SORT_FIELD = {
    "names": "since",
    "addresses": "since",
    "risk_levels": "since",
    "allocations": "since",
}


def _json(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def row_dict(row: SQLModel) -> dict[str, Any]:
    return {k: _json(v) for k, v in row.model_dump().items()}


class Store:
    """Reads and audited writes on one session, acting as ``actor`` at time ``now``."""

    def __init__(self, session: Session, *, actor: str, now: dt.datetime) -> None:
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self.session = session
        self.actor = actor
        self.now = now
        self._officer_ids: dict[str, int] | None = None
        self._officer_emails: dict[int, str] | None = None
        # Subjects written in this transaction, and what was done: recomputed before commit.
        self.touched: set[str] = set()
        self._skeletons: dict[str, dict[str, str]] = {}
        self.causes: list[str] = []

    # ------------------------------------------------------------------ audit

    def audit(
        self,
        action: str,
        row: SQLModel | None,
        *,
        subject_ref: str | None,
        ref: str | None = None,
        before: dict[str, Any] | None = None,
        entity: str | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        table = entity or (str(getattr(row, "__tablename__", "")) if row is not None else "")
        if subject_ref is not None:
            self.touched.add(subject_ref)
        if action not in self.causes:
            self.causes.append(action)
        self.session.add(
            m.AuditRow(
                at=self.now,
                actor=self.actor,
                action=action,
                entity=table,
                entity_id=getattr(row, "id", None),
                subject_ref=subject_ref,
                ref=ref,
                before=before,
                after=after if after is not None else (row_dict(row) if row else None),
            )
        )

    def _insert(self, row: _Row, action: str, *, subject_ref: str | None, ref: str | None) -> _Row:
        self.session.add(row)
        self.session.flush()
        self.audit(action, row, subject_ref=subject_ref, ref=ref)
        return row

    def _insert_many(
        self,
        rows: Sequence[tuple[type[SQLModel], dict[str, Any], Any]],
        action: str,
        *,
        subject_ref: str,
        ref: str,
    ) -> None:
        """Insert many rows — (row class, column values, domain item) — and audit them."""
        audit: list[dict[str, Any]] = []
        self._insert_rows([(*row, subject_ref, ref) for row in rows], action, audit)
        self._write_audit(audit)

    def _insert_rows(
        self,
        entries: Sequence[tuple[type[SQLModel], dict[str, Any], Any, str, str]],
        action: str,
        audit: list[dict[str, Any]],
    ) -> list[int]:
        """Insert rows — (row class, column values, domain item, subject ref, audit ref) —
        with one Core ``INSERT ... RETURNING id`` per table; give each domain item its new
        id; append their audit rows to ``audit``. Returns the ids in ``entries`` order.

        An import writes hundreds of thousands of rows: an ORM object per row and per audit
        row, and a statement per subject, cost most of its time."""
        if not entries:
            return []
        self.session.flush()  # what is pending (a parent, its audit row) goes first
        by_table: dict[type[SQLModel], list[int]] = defaultdict(list)
        for index, entry in enumerate(entries):
            by_table[entry[0]].append(index)
        ids = [0] * len(entries)
        for row_cls, indexes in by_table.items():
            table = _table(row_cls)
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            new_ids = self.session.execute(statement, [entries[i][1] for i in indexes]).scalars()
            names = list(row_cls.model_fields)  # the order model_dump (row_dict) uses
            for index, new_id in zip(indexes, new_ids, strict=True):
                _, values, item, subject_ref, ref = entries[index]
                ids[index] = new_id
                if hasattr(item, "id"):
                    item.id = new_id
                audit.append(
                    {
                        "at": self.now,
                        "actor": self.actor,
                        "action": action,
                        "entity": table.name,
                        "entity_id": new_id,
                        "subject_ref": subject_ref,
                        "ref": ref,
                        "before": None,
                        "after": {
                            name: new_id if name == "id" else _json(values.get(name))
                            for name in names
                        },
                    }
                )
                self.touched.add(subject_ref)
        if action not in self.causes:
            self.causes.append(action)
        return ids

    def _write_audit(self, audit: list[dict[str, Any]]) -> None:
        if audit:
            self.session.execute(insert(_table(m.AuditRow)), audit)

    def _update(
        self, row: _Row, changes: dict[str, Any], action: str, *, subject_ref: str | None, ref: str
    ) -> _Row:
        before = row_dict(row)
        for key, value in changes.items():
            setattr(row, key, value)
        self.session.add(row)
        self.session.flush()
        self.audit(action, row, subject_ref=subject_ref, ref=ref, before=before)
        return row

    # ------------------------------------------------------------------ officers

    def _officer_maps(self) -> tuple[dict[str, int], dict[int, str]]:
        if self._officer_ids is None or self._officer_emails is None:
            rows = self.session.execute(select(col(m.OfficerRow.id), col(m.OfficerRow.email))).all()
            self._officer_ids = {email: oid for oid, email in rows}
            self._officer_emails = {oid: email for oid, email in rows}  # noqa: C416
        return self._officer_ids, self._officer_emails

    def officer_emails(self) -> set[str]:
        return set(self._officer_maps()[0])

    def officer_id(self, email: str, field: str = "officer") -> int:
        oid = self._officer_maps()[0].get(email)
        if oid is None:
            raise NotFound(f"officer {email} not found", field=field)
        return oid

    def _officer_from_row(self, row: m.OfficerRow) -> d.Officer:
        emails = self._officer_maps()[1]
        return d.Officer(
            email=row.email,
            name=row.name,
            role=d.Role(row.role),
            team=row.team,
            supervisor=emails.get(row.supervisor_id) if row.supervisor_id else None,
            active=row.active,
        )

    def get_officer(self, email: str) -> d.Officer | None:
        row = self.session.exec(
            select(m.OfficerRow).where(col(m.OfficerRow.email) == email)
        ).one_or_none()
        return self._officer_from_row(row) if row else None

    def list_officers(self, team: str | None = None) -> list[d.Officer]:
        query = select(m.OfficerRow).order_by(col(m.OfficerRow.email))
        if team is not None:
            query = query.where(col(m.OfficerRow.team) == team)
        rows = self.session.execute(query).scalars().all()
        return [self._officer_from_row(r) for r in rows]

    def deactivate_officer(self, email: str) -> None:
        row = self.session.exec(
            select(m.OfficerRow).where(col(m.OfficerRow.email) == email)
        ).one_or_none()
        if row is None:
            raise NotFound(f"officer {email} not found", field="email")
        if not row.active:
            raise Duplicate(f"officer {email} is already inactive", field="email")
        self._update(row, {"active": False}, "officer.deactivate", subject_ref=None, ref=email)

    def add_officer(self, officer: d.Officer) -> None:
        if officer.email in self._officer_maps()[0]:
            raise Duplicate(f"an officer with email {officer.email} already exists", field="email")
        row = m.OfficerRow(
            email=officer.email,
            name=officer.name,
            role=str(officer.role),
            team=officer.team,
            supervisor_id=self.officer_id(officer.supervisor, "supervisor")
            if officer.supervisor
            else None,
            active=officer.active,
        )
        self._insert(row, "officer.add", subject_ref=None, ref=officer.email)
        self._officer_ids = self._officer_emails = None

    # ------------------------------------------------------------------ lookups

    def _subject_row(self, ref: str, field: str = "subject") -> m.SubjectRow:
        row = self.session.exec(
            select(m.SubjectRow).where(col(m.SubjectRow.reference) == ref)
        ).one_or_none()
        if row is None:
            raise NotFound(f"subject {ref} not found", field=field)
        return row

    def _order_row(self, ref: str, field: str = "order") -> m.OrderRow:
        row = self.session.exec(
            select(m.OrderRow).where(col(m.OrderRow.reference) == ref)
        ).one_or_none()
        if row is None:
            raise NotFound(f"order {ref} not found", field=field)
        return row

    def _flag_row(self, ref: str, field: str = "flag") -> m.FlagRow:
        row = self.session.exec(
            select(m.FlagRow).where(col(m.FlagRow.reference) == ref)
        ).one_or_none()
        if row is None:
            raise NotFound(f"flag {ref} not found", field=field)
        return row

    def _ref_of_subject(self, subject_id: int) -> str:
        return str(
            self.session.execute(
                select(col(m.SubjectRow.reference)).where(col(m.SubjectRow.id) == subject_id)
            ).scalar_one()
        )

    def subject_ref_of_order(self, order_ref: str, field: str = "order") -> str:
        return self._ref_of_subject(self._order_row(order_ref, field).subject_id)

    def subject_ref_of_flag(self, flag_ref: str, field: str = "flag") -> str:
        return self._ref_of_subject(self._flag_row(flag_ref, field).subject_id)

    def reference_clash(self, kind: str, ref: str) -> str | None:
        """The existing subject/order/flag reference that is ``ref`` or looks like it."""
        column = {
            "subject": m.SubjectRow.reference,
            "order": m.OrderRow.reference,
            "flag": m.FlagRow.reference,
        }[kind]
        known = self._skeletons.get(kind)
        if known is None:
            refs = self.session.execute(select(col(column))).scalars().all()
            known = self._skeletons[kind] = {d.reference_skeleton(r): r for r in refs}
        return known.get(d.reference_skeleton(ref))

    def _claim_reference(self, kind: str, ref: str, field: str) -> None:
        clash = self.reference_clash(kind, ref)
        if clash == ref:
            raise Duplicate(f"{kind} {ref} already exists", field=field)
        if clash is not None:
            raise Duplicate(f"{kind} {ref} looks like the existing {kind} {clash}", field=field)
        if kind in self._skeletons:
            self._skeletons[kind][d.reference_skeleton(ref)] = ref

    def subject_ref_taken(self, ref: str) -> bool:
        query = select(func.count()).where(col(m.SubjectRow.reference) == ref)
        return bool(self.session.execute(query).scalar())

    def subject_refs(self) -> list[str]:
        query = select(col(m.SubjectRow.reference)).order_by(col(m.SubjectRow.reference))
        return list(self.session.execute(query).scalars().all())

    def load_subject(self, ref: str, field: str = "subject") -> d.Subject:
        row = self._subject_row(ref, field)
        return self._load([row])[0]

    def load_subjects(self, refs: Sequence[str] | None = None) -> list[d.Subject]:
        """Whole records, ordered by reference; one query per table, not per subject.

        Read with Core (plain rows, not ORM entities): a full recompute loads every record,
        and building an ORM object per row cost more than deriving the deadlines."""
        table = _table(m.SubjectRow)
        query = select(table).order_by(table.c.reference)
        if refs is None:
            return self._load(list(self.session.execute(query).all()))
        rows: list[Any] = []
        for chunk in _chunks(list(refs), 500):
            rows += self.session.execute(query.where(table.c.reference.in_(chunk))).all()
        return self._load(sorted(rows, key=lambda r: r.reference))

    def _children(
        self, row_cls: type[SQLModel], parent_col: str, parent_ids: list[int]
    ) -> dict[int, list[Any]]:
        grouped: dict[int, list[Any]] = defaultdict(list)
        if not parent_ids:
            return grouped
        table = _table(row_cls)
        column = table.c[parent_col]
        order_cols = [table.c.id]
        if "date" in table.c:
            order_cols.insert(0, table.c.date)
        for chunk in _chunks(parent_ids, 500):
            query = select(table).where(column.in_(chunk)).order_by(*order_cols)
            for child in self.session.execute(query).all():
                grouped[getattr(child, parent_col)].append(child)
        return grouped

    def _to_domain(self, row: Any, cls: type[_Obj], row_cls: type[SQLModel]) -> _Obj:
        emails = self._officer_maps()[1]
        values: dict[str, Any] = {}
        for name, column, enum_cls, officer in _plan(cls, row_cls):  # type: ignore[arg-type]
            value = getattr(row, column)
            if value is not None:
                if officer:
                    value = emails.get(value)
                elif enum_cls is not None:
                    value = enum_cls(value)
            values[name] = value
        return cls(**values)

    def _load(self, rows: Sequence[Any]) -> list[d.Subject]:
        ids = [r.id for r in rows if r.id is not None]
        children = {
            attr: self._children(row_cls, "subject_id", ids)
            for attr, (row_cls, _) in _SUBJECT_CHILDREN.items()
        }
        orders = self._children(m.OrderRow, "subject_id", ids)
        order_ids = [o.id for group in orders.values() for o in group]
        order_children = {
            attr: self._children(row_cls, "order_id", order_ids)
            for attr, (row_cls, _) in _ORDER_CHILDREN.items()
        }
        order_refs = {o.id: o.reference for group in orders.values() for o in group}
        flags = self._children(m.FlagRow, "subject_id", ids)
        flag_ids = [f.id for group in flags.values() for f in group]
        flag_reviews = self._children(m.FlagReviewRow, "flag_id", flag_ids)

        subjects = []
        for row in rows:
            sid = row.id
            assert sid is not None
            subject = d.Subject(
                reference=row.reference,
                names=[],
                date_of_birth=row.date_of_birth,
                domestic_abuse=row.domestic_abuse,
                registered_sex_offender=row.registered_sex_offender,
                rso_exempt_until=row.rso_exempt_until,
                pnc_ref=row.pnc_ref,
                niche_ref=row.niche_ref,
            )
            for attr, (row_cls, cls) in _SUBJECT_CHILDREN.items():
                items = [self._to_domain(c, cls, row_cls) for c in children[attr][sid]]
                if attr in _SORT_FIELD:
                    items.sort(key=lambda e: getattr(e, "since") or dt.date.min)
                setattr(subject, attr, items)
            for orow in sorted(orders[sid], key=lambda o: (o.made, o.id)):
                order = self._to_domain(orow, d.Order, m.OrderRow)
                order.replaces = order_refs.get(orow.replaces_id) if orow.replaces_id else None
                for attr, (row_cls, cls) in _ORDER_CHILDREN.items():
                    setattr(
                        order,
                        attr,
                        [self._to_domain(c, cls, row_cls) for c in order_children[attr][orow.id]],
                    )
                subject.orders.append(order)
            for frow in sorted(flags[sid], key=lambda f: (f.expires, f.id)):
                flag = d.Flag(reference=frow.reference, expires=frow.expires)
                flag.reviews = [
                    self._to_domain(r, d.FlagReview, m.FlagReviewRow) for r in flag_reviews[frow.id]
                ]
                subject.flags.append(flag)
            subjects.append(subject)
        return subjects

    # ------------------------------------------------------------------ writing the record

    def _row_values(self, obj: Any, row_cls: type[SQLModel]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name in _OFFICER_FIELDS:
                values[_OFFICER_FIELDS[f.name]] = (
                    self.officer_id(value, f.name) if value is not None else None
                )
            elif f.name in row_cls.model_fields and f.name != "id":
                values[f.name] = str(value) if isinstance(value, StrEnum) else value
        return values

    def add_subject(self, subject: d.Subject, *, action: str = "subject.add") -> None:
        """Insert a whole subject record (``spo subject add``)."""
        self.add_subjects([subject], action=action)

    def add_subjects(self, subjects: Sequence[d.Subject], *, action: str) -> None:
        """Insert whole subject records (``spo import``, a batch at a time): one statement
        per table for the whole batch, parents before children, every row audited."""
        for subject in subjects:
            self._claim_reference("subject", subject.reference, "reference")
        audit: list[dict[str, Any]] = []
        subject_ids = self._insert_rows(
            [
                (m.SubjectRow, self._row_values(s, m.SubjectRow), s, s.reference, s.reference)
                for s in subjects
            ],
            action,
            audit,
        )
        leaves = [
            (
                row_cls,
                {"subject_id": sid, **self._row_values(item, row_cls)},
                item,
                s.reference,
                s.reference,
            )
            for s, sid in zip(subjects, subject_ids, strict=True)
            for attr, (row_cls, _) in _SUBJECT_CHILDREN.items()
            for item in getattr(s, attr)
        ]
        self._insert_rows(leaves, action, audit)
        # Orders: one that replaces another goes in once the other has its id.
        order_ids: dict[str, int] = {}
        pending = [
            (s, sid, order)
            for s, sid in zip(subjects, subject_ids, strict=True)
            for order in s.orders
        ]
        in_batch = {order.reference for _, _, order in pending}
        while pending:
            ready = [
                p
                for p in pending
                if not p[2].replaces or p[2].replaces in order_ids or p[2].replaces not in in_batch
            ]
            if not ready:  # a cycle of replacements: let the first one fail to resolve
                ready = pending[:1]
            pending = [p for p in pending if p not in ready]
            entries = []
            for s, sid, order in ready:
                values = {"subject_id": sid, **self._row_values(order, m.OrderRow)}
                if order.replaces:
                    values["replaces_id"] = (
                        order_ids.get(order.replaces) or self._order_row(order.replaces).id
                    )
                entries.append((m.OrderRow, values, order, s.reference, order.reference))
            for (_, _, order, _, _), oid in zip(
                entries, self._insert_rows(entries, action, audit), strict=True
            ):
                order_ids[order.reference] = oid
        self._insert_rows(
            [
                (
                    row_cls,
                    {"order_id": order_ids[o.reference], **self._row_values(item, row_cls)},
                    item,
                    s.reference,
                    o.reference,
                )
                for s in subjects
                for o in s.orders
                for attr, (row_cls, _) in _ORDER_CHILDREN.items()
                for item in getattr(o, attr)
            ],
            action,
            audit,
        )
        flags = [(s, sid, f) for s, sid in zip(subjects, subject_ids, strict=True) for f in s.flags]
        flag_ids = self._insert_rows(
            [
                (
                    m.FlagRow,
                    {"subject_id": sid, "reference": f.reference, "expires": f.expires},
                    f,
                    s.reference,
                    f.reference,
                )
                for s, sid, f in flags
            ],
            action,
            audit,
        )
        self._insert_rows(
            [
                (
                    m.FlagReviewRow,
                    {"flag_id": fid, **self._row_values(r, m.FlagReviewRow)},
                    r,
                    s.reference,
                    f.reference,
                )
                for (s, _, f), fid in zip(flags, flag_ids, strict=True)
                for r in f.reviews
            ],
            action,
            audit,
        )
        self._write_audit(audit)

    def add_child(
        self, subject_ref: str, subject_id: int | None, attr: str, item: Any, *, action: str
    ) -> int:
        """Add one entry to a subject's list (a visit, a breach, a name...); returns its id."""
        if subject_id is None:
            subject_id = self._subject_row(subject_ref).id
        row_cls, _ = _SUBJECT_CHILDREN[attr]
        row = row_cls(subject_id=subject_id, **self._row_values(item, row_cls))
        self._insert(row, action, subject_ref=subject_ref, ref=subject_ref)
        item_id = getattr(row, "id")
        if hasattr(item, "id"):
            item.id = item_id
        return int(item_id)

    def add_order(self, subject_ref: str, order: d.Order) -> None:
        self._claim_reference("order", order.reference, "order_ref")
        subject_row = self._subject_row(subject_ref)
        assert subject_row.id is not None
        self._add_order_row(subject_row.id, subject_ref, order, {}, action="order.add")

    def _add_order_row(
        self,
        subject_id: int,
        subject_ref: str,
        order: d.Order,
        known: dict[str, int],
        *,
        action: str,
    ) -> int:
        values = self._row_values(order, m.OrderRow)
        if order.replaces:
            values["replaces_id"] = known.get(order.replaces) or self._order_row(order.replaces).id
        row = self._insert(
            m.OrderRow(subject_id=subject_id, **values),
            action,
            subject_ref=subject_ref,
            ref=order.reference,
        )
        assert row.id is not None
        leaves = [
            (row_cls, {"order_id": row.id, **self._row_values(item, row_cls)}, item)
            for attr, (row_cls, _) in _ORDER_CHILDREN.items()
            for item in getattr(order, attr)
        ]
        self._insert_many(leaves, action, subject_ref=subject_ref, ref=order.reference)
        return row.id

    def add_order_child(self, order_ref: str, attr: str, item: Any, *, action: str) -> int:
        """Add a condition, variation, renewal decision or discharge application."""
        order_row = self._order_row(order_ref)
        row_cls, _ = _ORDER_CHILDREN[attr]
        row = self._insert(
            row_cls(order_id=order_row.id, **self._row_values(item, row_cls)),
            action,
            subject_ref=self._ref_of_subject(order_row.subject_id),
            ref=order_ref,
        )
        return int(getattr(row, "id"))

    def update_order(self, order_ref: str, *, action: str, **changes: Any) -> None:
        row = self._order_row(order_ref)
        values = {k: str(v) if isinstance(v, StrEnum) else v for k, v in changes.items()}
        self._update(
            row,
            values,
            action,
            subject_ref=self._ref_of_subject(row.subject_id),
            ref=order_ref,
        )

    def update_subject(self, subject_ref: str, *, action: str, **changes: Any) -> None:
        row = self._subject_row(subject_ref)
        self._update(row, changes, action, subject_ref=subject_ref, ref=subject_ref)

    def add_flag(self, subject_ref: str, flag: d.Flag) -> None:
        self._claim_reference("flag", flag.reference, "flag_ref")
        subject_row = self._subject_row(subject_ref)
        assert subject_row.id is not None
        self._add_flag_row(subject_row.id, subject_ref, flag, action="flag.add")

    def _add_flag_row(
        self, subject_id: int, subject_ref: str, flag: d.Flag, *, action: str
    ) -> None:
        row = self._insert(
            m.FlagRow(subject_id=subject_id, reference=flag.reference, expires=flag.expires),
            action,
            subject_ref=subject_ref,
            ref=flag.reference,
        )
        for review in flag.reviews:
            self._add_flag_review_row(row, subject_ref, review, action=action)

    def _add_flag_review_row(
        self, flag_row: m.FlagRow, subject_ref: str, review: d.FlagReview, *, action: str
    ) -> None:
        assert flag_row.id is not None
        self._insert(
            m.FlagReviewRow(flag_id=flag_row.id, **self._row_values(review, m.FlagReviewRow)),
            action,
            subject_ref=subject_ref,
            ref=flag_row.reference,
        )

    def add_flag_review(self, flag_ref: str, review: d.FlagReview) -> None:
        row = self._flag_row(flag_ref)
        self._add_flag_review_row(
            row, self._ref_of_subject(row.subject_id), review, action="flag.review"
        )

    # ------------------------------------------------------------------ derived actions

    def lock_subjects(self, refs: Sequence[str]) -> None:
        """Serialise writers of the same subjects until this transaction ends. PostgreSQL
        takes row locks (in id order, so two writers cannot deadlock); SQLite needs nothing:
        its write transactions already run one at a time (BEGIN IMMEDIATE)."""
        if self.session.get_bind().dialect.name != "postgresql" or not refs:
            return
        for chunk in _chunks(sorted(set(refs)), 500):
            query = (
                select(col(m.SubjectRow.id))
                .where(col(m.SubjectRow.reference).in_(chunk))
                .order_by(col(m.SubjectRow.id))
                .with_for_update(key_share=True)  # NO KEY UPDATE: no clash with FK inserts
            )
            self.session.exec(query).all()

    def lock_named(self, name: str) -> None:
        """A lock held until the transaction ends, for work that must run one instance at a
        time (the sweep). PostgreSQL: an advisory lock; SQLite: its write lock suffices."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        from sqlalchemy import text

        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def subject_ids(self, refs: Sequence[str]) -> dict[str, int]:
        result: dict[str, int] = {}
        for chunk in _chunks(list(refs), 500):
            query = select(col(m.SubjectRow.reference), col(m.SubjectRow.id)).where(
                col(m.SubjectRow.reference).in_(chunk)
            )
            result.update((ref, sid) for ref, sid in self.session.execute(query).all())
        return result

    def action_rows(self, subject_refs: Sequence[str]) -> dict[str, list[Any]]:
        """The persisted actions of these subjects as plain rows (read with Core: a full
        recompute compares every one of them)."""
        table = _table(m.ActionRow)
        grouped: dict[str, list[Any]] = defaultdict(list)
        for chunk in _chunks(list(subject_refs), 500):
            query = select(table).where(table.c.subject_ref.in_(chunk))
            for row in self.session.execute(query).all():
                grouped[row.subject_ref].append(row)
        return grouped

    def reconcile_actions(
        self,
        derived: Sequence[tuple[int, Sequence[Action], Sequence[Any]]],
        *,
        cause: str,
        today: dt.date,
        policy_version: str,
    ) -> int:
        """Bring the persisted actions in line with a fresh derivation; keep every change of
        due date, state or officer as history. An action that no longer applies is cancelled,
        never deleted. Returns the number of changes.

        ``derived`` holds, per subject, its id, its freshly derived actions and its rows from
        ``action_rows``. The changes of all of them are written together with Core
        statements, many rows each."""
        history: list[tuple[str, str, str | None, str | None]] = []
        fresh: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for subject_id, actions, existing in derived:
            self._reconcile_one(
                subject_id, actions, existing, cause, today, policy_version, history, fresh, changed
            )
        self._write_actions(fresh, changed, history, cause)
        return len(fresh) + len(changed)

    def _reconcile_one(
        self,
        subject_id: int,
        actions: Sequence[Action],
        existing: Sequence[Any],
        cause: str,
        today: dt.date,
        policy_version: str,
        history: list[tuple[str, str, str | None, str | None]],
        fresh: list[dict[str, Any]],
        changed: list[dict[str, Any]],
    ) -> None:
        by_id = {row.id: row for row in existing}
        for action in actions:
            values = _action_values(action, policy_version)
            row = by_id.pop(action.id, None)
            if row is None:
                fresh.append(
                    {"id": action.id, "subject_id": subject_id, "updated_at": self.now, **values}
                )
                history.append((action.id, "state", None, values["state"]))
                continue
            stored = row._mapping
            diff = {k: v for k, v in values.items() if stored[k] != v}
            if not diff:
                continue
            for name in sorted(_TRACKED & diff.keys()):
                history.append((action.id, name, _text(stored[name]), _text(diff[name])))
            changed.append({**stored, **diff, "updated_at": self.now})
        for row in by_id.values():
            if row.state == "cancelled":
                continue
            history.append((row.id, "state", row.state, "cancelled"))
            changed.append(
                {
                    **row._mapping,
                    "state": "cancelled",
                    "cancelled_on": today,
                    "explanation": {
                        **row.explanation,
                        "cancellation": f"Cancelled on {today}: no longer applies after {cause}.",
                    },
                    "updated_at": self.now,
                }
            )

    def _write_actions(
        self,
        fresh: list[dict[str, Any]],
        changed: list[dict[str, Any]],
        history: list[tuple[str, str, str | None, str | None]],
        cause: str,
    ) -> None:
        # Core statements on the tables, many rows each: an import creates thousands of
        # actions. (An ORM bulk insert, ``insert(m.ActionRow)``, leaves None values out and
        # splits the rows into a statement per run of rows that set the same columns: about
        # 15,000 executions for a 2,000-subject import, against about a thousand now.)
        if fresh:
            self.session.execute(insert(_table(m.ActionRow)), fresh)
        if changed:
            table = _table(m.ActionRow)
            columns = [c for c in table.columns.keys() if c != "id"]  # noqa: SIM118
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns})
            )
            self.session.execute(
                statement, [{"_id": v["id"], **{c: v[c] for c in columns}} for v in changed]
            )
            # An ORM copy of a changed action loaded earlier in this transaction is now stale.
            ids = {v["id"] for v in changed}
            for obj in list(self.session.identity_map.values()):
                if isinstance(obj, m.ActionRow) and obj.id in ids:
                    self.session.expire(obj)
        if history:
            self.session.execute(
                insert(_table(m.ActionHistoryRow)),
                [
                    {
                        "action_id": action_id,
                        "at": self.now,
                        "field": name,
                        "old": old,
                        "new": new,
                        "cause": cause,
                    }
                    for action_id, name, old, new in history
                ],
            )

    def query_actions(
        self,
        *,
        officers: frozenset[str] | None,
        subject: str | None,
        rule: str | None,
        due_by: dt.date | None,
        open_on: dt.date | None,
        due_from: dt.date | None = None,
    ) -> list[m.ActionRow]:
        """Persisted actions by officer, subject, rule and due date. ``open_on`` keeps only
        those that could still be open on that day (not done or cancelled before it)."""
        query = select(m.ActionRow)
        if officers is not None:
            query = query.where(col(m.ActionRow.officer).in_(sorted(officers)))
        if subject is not None:
            query = query.where(col(m.ActionRow.subject_ref) == subject)
        if rule is not None:
            query = query.where(col(m.ActionRow.rule) == rule)
        if due_from is not None:
            query = query.where(col(m.ActionRow.due) >= due_from)
        if open_on is not None:
            query = query.where(
                or_(
                    col(m.ActionRow.state) == "open",
                    col(m.ActionRow.completed) > open_on,
                    col(m.ActionRow.cancelled_on) > open_on,
                )
            )
            if due_by is not None:
                # overdue actions are always shown; otherwise only those due soon enough
                query = query.where(
                    or_(col(m.ActionRow.due) <= due_by, col(m.ActionRow.due) < open_on)
                )
        elif due_by is not None:
            query = query.where(col(m.ActionRow.due) <= due_by)
        return list(self.session.exec(query.order_by(col(m.ActionRow.due))).all())

    def history_since(self, after_id: int, limit: int = 5000) -> list[m.ActionHistoryRow]:
        query = (
            select(m.ActionHistoryRow)
            .where(col(m.ActionHistoryRow.id) > after_id)
            .order_by(col(m.ActionHistoryRow.id))
            .limit(limit)
        )
        return list(self.session.exec(query).all())

    def oldest_failing(self) -> OutboxRow | None:
        query = (
            select(OutboxRow)
            .where(col(OutboxRow.state) == "failed")
            .order_by(col(OutboxRow.created_at), col(OutboxRow.id))
            .limit(1)
        )
        return self.session.exec(query).first()

    def dead_messages(self, include_watchdog: bool = False) -> list[OutboxRow]:
        """Undeliverable emails (other than the watchdog's own alerts)."""
        query = select(OutboxRow).where(col(OutboxRow.state) == "dead").order_by(col(OutboxRow.id))
        if not include_watchdog:
            query = query.where(col(OutboxRow.kind) != "watchdog")
        return list(self.session.exec(query).all())

    def action_row(self, action_id: str, field: str = "action_id") -> m.ActionRow:
        """The action with this id, or with the only id that starts with it (at least six
        characters): ids are 16 hex digits, and emails and calendars sent before schema 0004
        show the first 10."""
        row = self.session.get(m.ActionRow, action_id)
        if row is not None:
            return row
        if len(action_id) >= MIN_ACTION_PREFIX and all(c in "0123456789abcdef" for c in action_id):
            query = select(m.ActionRow).where(col(m.ActionRow.id).startswith(action_id)).limit(3)
            found = list(self.session.exec(query).all())
            if len(found) == 1:
                return found[0]
            if found:
                shown = ", ".join(r.id for r in found[:2])
                raise InvalidInput(
                    f"{action_id} is the start of more than one action id ({shown}, ...): "
                    "give more of it",
                    field=field,
                )
        raise NotFound(f"action {action_id} not found", field=field)

    def action_history(self, action_id: str) -> list[m.ActionHistoryRow]:
        query = (
            select(m.ActionHistoryRow)
            .where(col(m.ActionHistoryRow.action_id) == action_id)
            .order_by(col(m.ActionHistoryRow.id))
        )
        return list(self.session.exec(query).all())

    def record_policy(self, *, name: str, version: str, digest: str, text: str) -> bool:
        """Log a policy the first time it is used; True if it was new."""
        query = select(m.PolicyLogRow).where(col(m.PolicyLogRow.digest) == digest)
        if self.session.exec(query).first() is not None:
            return False
        self.session.add(
            m.PolicyLogRow(at=self.now, name=name, version=version, digest=digest, text=text)
        )
        return True

    def last_policy_digest(self) -> str | None:
        query = select(m.PolicyLogRow).order_by(col(m.PolicyLogRow.id).desc())
        row = self.session.exec(query).first()
        return row.digest if row else None

    # ------------------------------------------------------------------ audit trail

    def audit_entries(self, ref: str | None = None) -> list[m.AuditRow]:
        query = select(m.AuditRow).order_by(col(m.AuditRow.id))
        if ref is not None:
            query = query.where(or_(col(m.AuditRow.subject_ref) == ref, col(m.AuditRow.ref) == ref))
        return list(self.session.execute(query).scalars().all())


def _table(row_cls: type[SQLModel]) -> Any:
    return row_cls.__table__  # type: ignore[attr-defined]


@functools.cache
def _plan(cls: Any, row_cls: Any) -> tuple[tuple[str, str, type[StrEnum] | None, bool], ...]:
    """How to build a ``cls`` from a ``row_cls`` row: (field, column, enum to convert to,
    is an officer id to turn into an email) for each field the table stores."""
    columns = set(_table(row_cls).columns.keys())
    enums = _enum_fields(cls)
    plan: list[tuple[str, str, type[StrEnum] | None, bool]] = []
    for f in dataclasses.fields(cls):
        if f.name in _OFFICER_FIELDS:
            plan.append((f.name, _OFFICER_FIELDS[f.name], None, True))
        elif f.name in columns:
            plan.append((f.name, f.name, enums.get(f.name), False))
    return tuple(plan)


@functools.cache
def _enum_fields(cls: Any) -> dict[str, type[StrEnum]]:
    """The dataclass fields of ``cls`` typed with an enum (``X`` or ``X | None``)."""
    found: dict[str, type[StrEnum]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        for candidate in typing.get_args(hint) or (hint,):
            if isinstance(candidate, type) and issubclass(candidate, StrEnum):
                found[name] = candidate
    return found


_TRACKED = {"due", "state", "officer"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _action_values(action: Action, policy_version: str) -> dict[str, Any]:
    return {
        "subject_ref": action.subject,
        "order_ref": action.order,
        "rule": action.rule,
        "key": action.key,
        "officer": action.officer,
        "trigger_date": action.trigger_date,
        "window_opens": action.window_opens,
        "due": action.due,
        "completed": action.completed,
        "cancelled_on": action.cancelled_on,
        "lapses_on": action.lapses_on,
        "soon_from": action.soon_from,
        "state": str(action.state),
        "late": action.late,
        "explanation": action.explanation.as_dict(action.due),
        "policy_version": policy_version,
    }


def action_from_row(row: m.ActionRow) -> Action:
    """A persisted action back as the engine's value (for status on a given day)."""
    return Action.from_stored(row.model_dump())


def _chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
