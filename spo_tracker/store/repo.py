"""The write side of the store: domain objects in, every write audited.

One ``Store`` wraps one session, i.e. one transaction: a command builds it, does its work
and commits once, so a failure anywhere leaves nothing half-written. It reads through the
read model (``self.read``) on the same connection, so a read sees what was written before
it; the mapping from dataclasses to rows lives here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, update
from sqlmodel import Session, SQLModel, col, select

from ..core import record as d
from ..core.accountability import CASE_MANAGEMENT, Access, anchor_text, operation_of
from ..core.causes import cause_words
from ..core.errors import Duplicate, NotFound
from ..core.rules import Action
from . import models as m
from .read import (
    FACT_TABLES_BY_KIND,
    OFFICER_FIELDS,
    ORDER_CHILDREN,
    SUBJECT_CHILDREN,
    Reader,
    StoredFact,
)

_Row = TypeVar("_Row", bound=SQLModel)
_T = TypeVar("_T")

_ROWS: dict[str, type[SQLModel]] = {
    str(getattr(cls, "__tablename__")): cls
    for cls in SQLModel.__subclasses__()
    if getattr(cls, "__table__", None) is not None
}
# A subject's and an order's lists: domain attribute -> row class (tables as the read model
# names them).
_SUBJECT_ROWS = {attr: _ROWS[table] for attr, (table, _) in SUBJECT_CHILDREN.items()}
_ORDER_ROWS = {attr: _ROWS[table] for attr, (table, _) in ORDER_CHILDREN.items()}


def _json(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def row_dict(row: SQLModel) -> dict[str, Any]:
    return {k: _json(v) for k, v in row.model_dump().items()}


class Store:
    """Audited writes on one session, acting as ``actor`` at time ``now``."""

    def __init__(self, session: Session, *, actor: str, now: dt.datetime) -> None:
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self.session = session
        self.actor = actor
        self.now = now
        self._reader: Reader | None = None
        # Subjects written in this transaction, and what was done: recomputed before commit.
        self.touched: set[str] = set()
        self._skeletons: dict[str, dict[str, str]] = {}
        self.causes: list[str] = []  # in words: "order O-011 varied on 2026-05-20"
        self._cause_kinds: set[str] = set()
        # for the access log (s62): the operations of this transaction's writes, by kind of
        # write, and the subjects each touched; and accesses noted by the use cases
        self._operations: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.accesses: list[Access] = []
        self.default_purpose = CASE_MANAGEMENT

    # ------------------------------------------------------------------ accountability

    def _operation(self, action: str, subject_ref: str | None) -> None:
        operation = operation_of(action)
        if operation is not None:
            subjects = self._operations[(operation, action)]
            if subject_ref is not None:
                subjects.add(subject_ref)

    def note_access(self, access: Access) -> None:
        """Log an operation this transaction performs that its writes do not show: an email
        sent, a file written, a token's feed served."""
        self.accesses.append(access)

    def finish(self, purpose: str | None = None) -> None:
        """As the transaction ends: one access-log row per kind of write and per access
        noted, then the change audit and the access log chained (``chain``)."""
        entries: list[dict[str, Any]] = [
            {
                "operation": operation,
                "what": action,
                "purpose": purpose or self.default_purpose,
                "subjects": sorted(subjects),
            }
            for (operation, action), subjects in sorted(self._operations.items())
        ]
        entries += [
            {
                "operation": a.operation,
                "what": a.what,
                "purpose": purpose or a.purpose or self.default_purpose,
                "subjects": sorted(set(a.subjects)),
                "recipients": list(a.recipients),
                "detail": dict(a.detail),
            }
            for a in self.accesses
        ]
        self.session.flush()
        self.read.log_access(self.now, self.actor, entries)
        self.read.seal("audit_log")
        self.read.seal("access_log")
        self._operations.clear()
        self.accesses = []

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
        on = getattr(row, "date", None) or getattr(row, "since", None)
        # a fact's words name its subject ("visit to S-001"); a correction names the record
        named = subject_ref if d.split_record_id(ref or "") and "." in action else ref
        if action.startswith("record."):
            named, on = ref, None
        self._cause(action, named, on)
        self._operation(action, ref if action == "retention.purge" else subject_ref)
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

    def _cause(self, action: str, ref: str | None, on: object) -> None:
        """Note what this transaction did, in words, once per kind of write (the history of
        every action it changes says why)."""
        if action not in self._cause_kinds:
            self._cause_kinds.add(action)
            day = on if isinstance(on, dt.date) and not isinstance(on, dt.datetime) else None
            self.causes.append(cause_words(action, ref, day))

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
        with one Core ``INSERT ... RETURNING id`` per table; append their audit rows to
        ``audit``. Returns the row ids in ``entries`` order.

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
                _, values, _item, subject_ref, ref = entries[index]
                ids[index] = new_id
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
                self._operation(action, subject_ref)
        self._cause(action, "the record" if action == "import" else entries[0][4], None)
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

    @property
    def read(self) -> Reader:
        """The read model on this transaction's own connection (pending writes flushed
        first, so every read sees them)."""
        if self._reader is None:
            raw = self.session.connection().connection.driver_connection
            dialect = self.session.get_bind().dialect.name
            self._reader = Reader(raw, dialect, before=self.session.flush)
        return self._reader

    def officer_id(self, email: str, field: str = "officer") -> int:
        oid = self.read.officer_maps()[0].get(email)
        if oid is None:
            raise NotFound(f"officer {email} not found", field=field)
        return oid

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
        if officer.email in self.read.officer_maps()[0]:
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
        self.read.forget_officers()

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

    def reference_clash(self, kind: str, ref: str) -> str | None:
        """The existing subject/order/flag reference that is ``ref`` or looks like it."""
        known = self._skeletons.get(kind)
        if known is None:
            refs = self.read.references(kind)
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

    # ------------------------------------------------------------------ writing the record

    def _row_values(self, obj: Any, row_cls: type[SQLModel]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name in OFFICER_FIELDS:
                values[OFFICER_FIELDS[f.name]] = (
                    self.officer_id(value, f.name) if value is not None else None
                )
            elif f.name == "id":
                if "record_id" in row_cls.model_fields and value is not None:
                    values["record_id"] = value
            elif f.name in row_cls.model_fields:
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
            d.number_subject(subject)
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
            for attr, row_cls in _SUBJECT_ROWS.items()
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
                for attr, row_cls in _ORDER_ROWS.items()
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
    ) -> str:
        """Add one entry to a subject's list (a visit, a breach, a name...); returns its
        record id."""
        if subject_id is None:
            subject_id = self._subject_row(subject_ref).id
        assert subject_id is not None
        row_cls = _SUBJECT_ROWS[attr]
        self.lock_subjects([subject_ref])  # numbering: one writer of a subject at a time
        taken = self.read.record_ids(_table(row_cls).name, "subject_id", subject_id)
        d.number_facts(subject_ref, d.SUBJECT_FACTS[attr], [item], taken)
        row = row_cls(subject_id=subject_id, **self._row_values(item, row_cls))
        self._insert(row, action, subject_ref=subject_ref, ref=item.id)
        return str(item.id)

    def add_visit_plan(self, subject_ref: str, plan: d.PlannedVisit) -> int:
        """A visit planned for a day to come; audited (``visit_plan.add``)."""
        subject_row = self._subject_row(subject_ref)
        assert subject_row.id is not None
        row = m.VisitPlanRow(
            subject_id=subject_row.id,
            date=plan.date,
            kind=str(plan.kind),
            officer=plan.officer,
            note=plan.note,
            created_at=self.now,
            created_by=self.actor,
        )
        self._insert(row, "visit_plan.add", subject_ref=subject_ref, ref=subject_ref)
        assert row.id is not None
        return row.id

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
        for attr in _ORDER_ROWS:
            d.number_facts(order.reference, d.ORDER_FACTS[attr], getattr(order, attr), [])
        leaves = [
            (row_cls, {"order_id": row.id, **self._row_values(item, row_cls)}, item)
            for attr, row_cls in _ORDER_ROWS.items()
            for item in getattr(order, attr)
        ]
        self._insert_many(leaves, action, subject_ref=subject_ref, ref=order.reference)
        return row.id

    def add_order_child(self, order_ref: str, attr: str, item: Any, *, action: str) -> str:
        """Add a condition, variation, renewal decision or discharge application; returns its
        record id."""
        order_row = self._order_row(order_ref)
        assert order_row.id is not None
        row_cls = _ORDER_ROWS[attr]
        self.lock_subjects([self.read.subject_of_order(order_ref)])
        taken = self.read.record_ids(_table(row_cls).name, "order_id", order_row.id)
        d.number_facts(order_ref, d.ORDER_FACTS[attr], [item], taken)
        self._insert(
            row_cls(order_id=order_row.id, **self._row_values(item, row_cls)),
            action,
            subject_ref=self.read.subject_of_order(order_ref),
            ref=order_ref,
        )
        return str(item.id)

    def update_order(self, order_ref: str, *, action: str, **changes: Any) -> None:
        row = self._order_row(order_ref)
        values = {k: str(v) if isinstance(v, StrEnum) else v for k, v in changes.items()}
        self._update(
            row,
            values,
            action,
            subject_ref=self.read.subject_of_order(order_ref),
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
        d.number_facts(flag.reference, "flag-review", flag.reviews, [])
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
        assert row.id is not None
        self.lock_subjects([self.read.subject_of_flag(flag_ref)])
        taken = self.read.record_ids("flag_review", "flag_id", row.id)
        d.number_facts(flag_ref, "flag-review", [review], taken)
        self._add_flag_review_row(
            row, self.read.subject_of_flag(flag_ref), review, action="flag.review"
        )

    # ------------------------------------------------------------------ corrections

    def _fact_row(self, stored: StoredFact) -> Any:
        row_cls = _ROWS[stored.table]
        row = self.session.get(row_cls, stored.row_id)
        assert row is not None
        return row

    def _revision(
        self,
        stored: StoredFact,
        change: d.RevisionKind,
        reason: str,
        before: dict[str, Any],
        after: dict[str, Any] | None,
    ) -> None:
        self.session.add(
            m.RevisionRow(
                subject_id=stored.subject_id,
                record=stored.record_id,
                change=str(change),
                at=self.now,
                actor=self.actor,
                reason=reason,
                before=before,
                after=after,
            )
        )

    def correct_record(
        self,
        stored: StoredFact,
        fact: Any,
        *,
        reason: str,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        """Put ``fact`` in place of the stored one (same record id); the earlier version is
        kept as a revision, and audited with the reason."""
        row = self._fact_row(stored)
        values = self._row_values(fact, type(row))
        values.pop("record_id", None)
        old = row_dict(row)
        for key, value in values.items():
            setattr(row, key, value)
        self.session.add(row)
        self.session.flush()
        self._revision(stored, d.RevisionKind.CORRECTED, reason, before, after)
        self.audit(
            "record.correct",
            row,
            subject_ref=stored.subject_ref,
            ref=stored.record_id,
            before={**old, "reason": reason},
        )

    def update_record(self, stored: StoredFact, fact: Any, *, action: str) -> None:
        """Add what became known to a stored fact (a breach's outcome, a document sent):
        audited with the row before and after."""
        row = self._fact_row(stored)
        values = self._row_values(fact, type(row))
        values.pop("record_id", None)
        self._update(row, values, action, subject_ref=stored.subject_ref, ref=stored.record_id)

    def void_record(self, stored: StoredFact, *, reason: str, before: dict[str, Any]) -> None:
        """Withdraw a fact: its row stays (marked voided, its id never reused) and no rule
        sees it again; a revision and the audit keep who, when and why."""
        row = self._fact_row(stored)
        old = row_dict(row)
        row.voided_at = self.now
        self.session.add(row)
        self.session.flush()
        self._revision(stored, d.RevisionKind.VOIDED, reason, before, None)
        self.audit(
            "record.void",
            row,
            subject_ref=stored.subject_ref,
            ref=stored.record_id,
            before={**old, "reason": reason},
        )

    def restore_revisions(
        self, subject: d.Subject, voided: Sequence[tuple[d.Revision, Any]]
    ) -> None:
        """An imported subject's revisions, and its voided facts as they were withdrawn."""
        subject_id = self.read.subject_ids([subject.reference])[subject.reference]
        for revision, fact in voided:
            split = d.split_record_id(revision.record)
            assert split is not None
            table, parent_table, key, _, _ = FACT_TABLES_BY_KIND[split[1]]
            parent_id = self.read.value(
                f"SELECT id FROM {parent_table} WHERE reference = :ref", {"ref": split[0]}
            )
            row_cls = _ROWS[table]
            values = self._row_values(fact, row_cls)
            values.update({key: parent_id, "record_id": revision.record})
            values["voided_at"] = revision.at
            self._insert(row_cls(**values), "import", subject_ref=subject.reference, ref=None)
        for revision in subject.revisions:
            self.session.add(
                m.RevisionRow(
                    subject_id=subject_id,
                    record=revision.record,
                    change=str(revision.change),
                    at=revision.at,
                    actor=revision.by,
                    reason=revision.reason,
                    before=revision.before,
                    after=revision.after,
                )
            )

    # ------------------------------------------------------------------ derived actions

    def purge_subject(self, ref: str, *, reason: str, removed: dict[str, int]) -> None:
        """Remove a subject's whole record (its rows cascade), its queued mail, and the
        personal data its earlier audit entries held; audit that it happened and why."""
        from .service_models import OutboxRow

        subject_id = self.read.subject_ids([ref])[ref]
        self.session.execute(delete(m.SubjectRow).where(col(m.SubjectRow.id) == subject_id))
        self.session.execute(delete(OutboxRow).where(col(OutboxRow.subject_ref) == ref))
        self.session.execute(
            update(m.AuditRow)
            .where(col(m.AuditRow.subject_ref) == ref)
            .values(before=None, after=None)
        )
        self.audit(
            "retention.purge",
            None,
            subject_ref=None,
            ref=ref,
            entity="subject",
            after={"reason": reason, "removed": removed},
        )
        self.touched.discard(ref)

    def prune_access_log(self, before: dt.datetime, *, anchor_key: str) -> int:
        """Remove the access log's rows older than ``before`` (the policy's log retention):
        a start of its chain, whose last row's place and hash are kept (``anchor_key`` in
        the service state) so the rest still verifies. Audited; returns the rows removed."""
        from .outbox import set_state

        self.session.flush()
        self.read.seal("access_log")
        last = self.read.value(
            "SELECT max(seq) FROM access_log WHERE at < :before AND seq IS NOT NULL",
            {"before": before},
        )
        if last is None:
            return 0
        seal = self.read.value("SELECT hash FROM access_log WHERE seq = :seq", {"seq": last})
        result = self.session.execute(delete(m.AccessRow).where(col(m.AccessRow.seq) <= int(last)))
        removed = getattr(result, "rowcount", 0)
        set_state(self.session, anchor_key, anchor_text(int(last), str(seal)), self.now)
        self.audit(
            "retention.log",
            None,
            subject_ref=None,
            ref=None,
            entity="access_log",
            after={"removed": int(removed or 0), "before": before.isoformat(), "through": last},
        )
        return int(removed or 0)

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

    def reconcile_actions(
        self,
        derived: Sequence[tuple[int, Sequence[Action], Sequence[dict[str, Any]]]],
        *,
        cause: str,
        policy_version: str,
    ) -> int:
        """Bring the persisted actions in line with a fresh derivation; keep every change of
        due date, state or officer as history. An action the facts no longer call for is kept
        as one that never applied (``Action.applies``), never deleted: nothing about it
        depends on the day this runs. Returns the number of changes.

        ``derived`` holds, per subject, its id, its freshly derived actions and its rows from
        ``action_rows``. The changes of all of them are written together with Core
        statements, many rows each."""
        history: list[tuple[str, str, str | None, str | None]] = []
        fresh: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for subject_id, actions, existing in derived:
            self._reconcile_one(
                subject_id, actions, existing, cause, policy_version, history, fresh, changed
            )
        self._write_actions(fresh, changed, history, cause)
        return len(fresh) + len(changed)

    def _reconcile_one(
        self,
        subject_id: int,
        actions: Sequence[Action],
        existing: Sequence[dict[str, Any]],
        cause: str,
        policy_version: str,
        history: list[tuple[str, str, str | None, str | None]],
        fresh: list[dict[str, Any]],
        changed: list[dict[str, Any]],
    ) -> None:
        by_id = {row["id"]: row for row in existing}
        for action in actions:
            values = _action_values(action, policy_version)
            stored = by_id.pop(action.id, None)
            if stored is None:
                fresh.append(
                    {"id": action.id, "subject_id": subject_id, "updated_at": self.now, **values}
                )
                history.append((action.id, "state", None, values["state"]))
                continue
            diff = {k: v for k, v in values.items() if stored[k] != v}
            if not diff:
                continue
            for name in sorted(_TRACKED & diff.keys()):
                history.append((action.id, name, _text(stored[name]), _text(diff[name])))
            changed.append({**stored, **diff, "updated_at": self.now})
        for stored in by_id.values():
            if stored["state"] == "cancelled" and stored["cancelled_on"] is None:
                continue  # already kept as never applying
            history.append((stored["id"], "state", stored["state"], "cancelled"))
            changed.append(
                {
                    **stored,
                    "state": "cancelled",
                    "cancelled_on": None,
                    "explanation": {
                        **stored["explanation"],
                        "cancellation": f"No longer applies after {cause}: the record as it "
                        "now stands never called for it.",
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
        # splits the rows into a statement per run of rows that set the same columns.)
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

    def record_policy(self, *, name: str, version: str, digest: str, text: str) -> bool:
        """Log a policy the first time it is used; True if it was new."""
        query = select(m.PolicyLogRow).where(col(m.PolicyLogRow.digest) == digest)
        if self.session.exec(query).first() is not None:
            return False
        self.session.add(
            m.PolicyLogRow(at=self.now, name=name, version=version, digest=digest, text=text)
        )
        return True


def _table(row_cls: type[SQLModel]) -> Any:
    return row_cls.__table__  # type: ignore[attr-defined]


# what an action's history keeps: its date, its state and its completion (a corrected fact
# that turns a late completion into an on-time one shows), who has it
_TRACKED = {"due", "state", "completed", "officer", "owner"}


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
        "owner": action.owner,
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


def _chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
