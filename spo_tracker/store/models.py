"""SQLModel tables. Rows are kept apart from the domain dataclasses; ``mapping`` converts.

Calendar facts (made, served, visit date...) are ``date`` columns, never midnight datetimes.
The only timestamp is the audit entry's ``at``, an aware UTC datetime. Table names are set
explicitly: ``order`` is a reserved word.
"""

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

SUBJECT_FK = "subject.id"
ORDER_FK = "spo_order.id"
OFFICER_FK = "officer.id"


class OfficerRow(SQLModel, table=True):
    __tablename__ = "officer"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    name: str
    role: str
    team: str | None = Field(default=None, index=True)
    supervisor_id: int | None = Field(default=None, foreign_key=OFFICER_FK)
    active: bool = True


class SubjectRow(SQLModel, table=True):
    __tablename__ = "subject"
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True)
    date_of_birth: dt.date | None = None
    domestic_abuse: bool = False
    registered_sex_offender: bool = False
    rso_exempt_until: dt.date | None = None
    pnc_ref: str | None = None
    niche_ref: str | None = None


class NameRow(SQLModel, table=True):
    __tablename__ = "subject_name"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    name: str
    kind: str
    since: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class AddressRow(SQLModel, table=True):
    __tablename__ = "subject_address"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    address: str
    since: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class RiskRow(SQLModel, table=True):
    __tablename__ = "risk_level"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    level: str
    since: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class AllocationRow(SQLModel, table=True):
    __tablename__ = "allocation"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    officer_id: int = Field(foreign_key=OFFICER_FK, index=True)
    since: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class OrderRow(SQLModel, table=True):
    __tablename__ = "spo_order"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    reference: str = Field(unique=True, index=True)
    type: str
    made: dt.date
    served: dt.date | None = None
    expires: dt.date | None = None
    until_further_order: bool = False
    court: str | None = None
    replaces_id: int | None = Field(default=None, foreign_key=ORDER_FK)
    status: str


class ConditionRow(SQLModel, table=True):
    __tablename__ = "order_condition"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key=ORDER_FK, index=True, ondelete="CASCADE")
    kind: str
    text: str
    ends: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class VariationRow(SQLModel, table=True):
    __tablename__ = "variation"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key=ORDER_FK, index=True, ondelete="CASCADE")
    date: dt.date
    expires: dt.date | None = None
    until_further_order: bool = False
    previous_expires: dt.date | None = None
    previous_until_further_order: bool = False
    notes: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class RenewalRow(SQLModel, table=True):
    __tablename__ = "renewal"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key=ORDER_FK, index=True, ondelete="CASCADE")
    date: dt.date
    decision: str
    reason: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class DischargeRow(SQLModel, table=True):
    __tablename__ = "discharge_application"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key=ORDER_FK, index=True, ondelete="CASCADE")
    date: dt.date
    subject_consents: bool = False
    police_consents: bool = False
    outcome: str
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class ChecklistRow(SQLModel, table=True):
    __tablename__ = "checklist_item"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key=ORDER_FK, index=True, ondelete="CASCADE")
    item: str
    date: dt.date
    ref: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class VisitRow(SQLModel, table=True):
    __tablename__ = "visit"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    date: dt.date
    kind: str
    officer_id: int | None = Field(default=None, foreign_key=OFFICER_FK)
    outcome: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class VisitPlanRow(SQLModel, table=True):
    """A visit planned for a day to come (``spo visit plan``): not a fact, not exported;
    removed with its subject (migration 0010)."""

    __tablename__ = "visit_plan"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    date: dt.date = Field(index=True)
    kind: str
    officer: str | None = None
    note: str | None = None
    created_at: dt.datetime
    created_by: str


class BreachRow(SQLModel, table=True):
    __tablename__ = "breach"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    date: dt.date
    offence: str
    crime_ref: str | None = None
    arrested: bool = False
    outcome: str | None = None
    charged: bool = False
    outcome_on: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class NotificationRow(SQLModel, table=True):
    __tablename__ = "notification"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    date: dt.date
    names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    address: str | None = None
    ack_ref: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class FlagRow(SQLModel, table=True):
    __tablename__ = "flag"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    reference: str = Field(unique=True, index=True)
    expires: dt.date


class FlagReviewRow(SQLModel, table=True):
    __tablename__ = "flag_review"
    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id", index=True, ondelete="CASCADE")
    date: dt.date
    outcome: str
    until: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class TransferRow(SQLModel, table=True):
    __tablename__ = "transfer"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    direction: str
    date: dt.date
    force: str
    documents_sent: bool = False
    statement_of_service_sent: dt.date | None = None
    smp_sent: dt.date | None = None
    risk_information_sent: dt.date | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class PlanRow(SQLModel, table=True):
    __tablename__ = "management_plan"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    date: dt.date
    notes: str | None = None
    visit_every_days: int | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class ReviewRow(SQLModel, table=True):
    __tablename__ = "supervisor_review"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    date: dt.date
    by_id: int = Field(foreign_key=OFFICER_FK)
    notes: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class OverrideRow(SQLModel, table=True):
    __tablename__ = "action_override"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    action: str = Field(index=True)
    kind: str
    date: dt.date
    reason: str | None = None
    actor: str | None = None
    record_id: str | None = Field(default=None, unique=True, index=True)
    voided_at: dt.datetime | None = None


class RevisionRow(SQLModel, table=True):
    """A fact corrected or voided: its record id, when, who, why, before and after (the
    export format's JSON of the fact). The fact's own row holds its current version."""

    __tablename__ = "record_revision"
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    record: str = Field(index=True)
    change: str
    at: dt.datetime
    actor: str
    reason: str
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class ActionRow(SQLModel, table=True):
    """A derived action as last computed (the rules engine is the source of truth)."""

    __tablename__ = "action"
    __table_args__ = (
        Index("ix_action_state_officer_due", "state", "officer", "due"),
        # every date, by due date: compliance counts read it alone (migration 0005)
        Index(
            "ix_action_due_dates",
            "due",
            "officer",
            "rule",
            "trigger_date",
            "completed",
            "cancelled_on",
            "lapses_on",
            "soon_from",
            "state",
        ),
    )
    id: str = Field(primary_key=True)
    subject_id: int = Field(foreign_key=SUBJECT_FK, index=True, ondelete="CASCADE")
    subject_ref: str = Field(index=True)
    order_ref: str | None = None
    rule: str = Field(index=True)
    key: str
    officer: str | None = Field(default=None, index=True)
    owner: str = Field(
        default="offender-manager", sa_column_kwargs={"server_default": "offender-manager"}
    )
    trigger_date: dt.date
    window_opens: dt.date
    due: dt.date = Field(index=True)
    completed: dt.date | None = Field(default=None, index=True)
    cancelled_on: dt.date | None = Field(default=None, index=True)
    lapses_on: dt.date | None = None
    soon_from: dt.date
    state: str = Field(index=True)
    late: bool | None = None
    explanation: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    policy_version: str
    updated_at: dt.datetime


class ActionHistoryRow(SQLModel, table=True):
    """One change to a persisted action: its due date, state or officer, old -> new."""

    __tablename__ = "action_history"
    id: int | None = Field(default=None, primary_key=True)
    action_id: str = Field(foreign_key="action.id", index=True, ondelete="CASCADE")
    at: dt.datetime
    field: str
    old: str | None = None
    new: str | None = None
    cause: str


class PolicyLogRow(SQLModel, table=True):
    """Each policy version the first time it was used, so a replay can use the one in force."""

    __tablename__ = "policy_log"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(index=True)
    name: str
    version: str
    digest: str = Field(index=True)
    text: str


class AuditRow(SQLModel, table=True):
    """One change: who, when, what, and the entity before and after (JSON)."""

    __tablename__ = "audit_log"
    # who first stored a fact (corrections by its author need no supervisor): migration 0007
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(index=True)
    actor: str
    action: str
    entity: str
    entity_id: int | None = None
    subject_ref: str | None = Field(default=None, index=True)
    ref: str | None = Field(default=None, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # the hash chain (core/accountability.py; migration 0009), set as the transaction ends
    seq: int | None = Field(default=None, index=True)
    hash: str | None = None
    digest: str | None = None  # of before and after, kept when a purge erases them


class AccessRow(SQLModel, table=True):
    """One operation on personal data (Data Protection Act 2018 s62): collection, alteration,
    consultation, disclosure, combination or erasure; who, when, which subjects, to whom,
    why. Chained like the change audit."""

    __tablename__ = "access_log"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(index=True)
    actor: str = Field(index=True)
    operation: str = Field(index=True)
    what: str
    purpose: str
    subjects: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seq: int | None = Field(default=None, index=True)
    hash: str | None = None


# The other table modules register on the same metadata (imported last: they use the FKs above).
from . import calendar_models, service_models  # noqa: E402, F401
