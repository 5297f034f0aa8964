"""Tables for the service: the outbox of emails, and the service's own bookkeeping.

Imported by models.py so one metadata holds every table. All due work is rows here: the
scheduler's jobs hold no state of their own.
"""

import datetime as dt

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


class OutboxRow(SQLModel, table=True):
    """One email: to one recipient, for one (kind, action, stage, occurrence).

    ``dedupe_key`` is unique, so enqueueing the same reminder twice is a no-op: that is what
    makes "exactly once" hold across repeated sweeps, restarts and several service instances.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, index=True)
    kind: str  # reminder | escalation | change | breach | digest | watchdog
    action_id: str | None = Field(default=None, index=True)
    stage: str
    occurrence: str = ""
    recipient: str
    subject_ref: str | None = Field(default=None, index=True)
    template: str
    subject_line: str
    body_text: str
    body_html: str
    state: str = "pending"  # pending | sent | failed | dead | uncertain | dropped
    attempts: int = 0
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    claimed_at: dt.datetime | None = None
    claimed_by: str | None = None
    sent_at: dt.datetime | None = None
    last_error: str | None = None
    message_id: str
    # the subjects the message names (a digest names many): its disclosure log (0009)
    subjects: list[str] | None = Field(default=None, sa_column=Column(JSON))
    # an attempt cut off before its outcome was recorded (its claim went stale): that
    # attempt may have delivered it, so a permanent refusal later is "uncertain", not "dead"
    interrupted_at: dt.datetime | None = None


class ServiceStateRow(SQLModel, table=True):
    """Named bookkeeping values: heartbeats, watermarks (e.g. the last action-history row
    turned into change notices)."""

    __tablename__ = "service_state"
    name: str = Field(primary_key=True)
    value: str
    updated_at: dt.datetime
