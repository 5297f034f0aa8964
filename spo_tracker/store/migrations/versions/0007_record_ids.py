"""record ids for every fact, corrections and voids kept, breach outcomes dated

Every fact (visit, breach, notification, allocation, condition, renewal decision...) gets its
record id (``S-001/visit-3``), numbered in date order under its subject, order or flag, so
officers can name it to correct or withdraw it; a withdrawn (voided) fact keeps its row,
marked ``voided_at``. ``record_revision`` keeps each correction and void with who, when, why
and the fact before and after. A breach keeps whether a charge followed and the day its
outcome was recorded; a move out, the day each of its three documents was sent;
``checklist_item`` holds the items of the grant and close-down checklists done.

Plain ALTER TABLE throughout: on SQLite a batch rebuild drops the table, which with foreign
keys on would cascade to the rows that point at it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (kind in the id, parent table, parent key column, the column facts are numbered by)
FACTS: dict[str, tuple[str, str, str, str | None]] = {
    "subject_name": ("name", "subject", "subject_id", "since"),
    "subject_address": ("address", "subject", "subject_id", "since"),
    "risk_level": ("risk", "subject", "subject_id", "since"),
    "allocation": ("allocation", "subject", "subject_id", "since"),
    "visit": ("visit", "subject", "subject_id", "date"),
    "breach": ("breach", "subject", "subject_id", "date"),
    "notification": ("notification", "subject", "subject_id", "date"),
    "transfer": ("transfer", "subject", "subject_id", "date"),
    "management_plan": ("smp", "subject", "subject_id", "date"),
    "supervisor_review": ("review", "subject", "subject_id", "date"),
    "action_override": ("override", "subject", "subject_id", "date"),
    "order_condition": ("condition", "spo_order", "order_id", None),
    "variation": ("variation", "spo_order", "order_id", "date"),
    "renewal": ("renewal", "spo_order", "order_id", "date"),
    "discharge_application": ("discharge", "spo_order", "order_id", "date"),
    "flag_review": ("flag-review", "flag", "flag_id", "date"),
}


def _number(table: str) -> None:
    kind, parent, key, by = FACTS[table]
    bind = op.get_bind()
    order = f"x.{key}, " + (f"x.{by} IS NOT NULL, x.{by}, " if by else "") + "x.id"
    rows = bind.execute(
        sa.text(
            f"SELECT x.id, p.reference FROM {table} x JOIN {parent} p ON p.id = x.{key} "
            f"ORDER BY {order}"
        )
    ).all()
    numbers: dict[str, int] = {}
    updates = []
    for row_id, reference in rows:
        numbers[reference] = numbers.get(reference, 0) + 1
        updates.append({"id": row_id, "rid": f"{reference}/{kind}-{numbers[reference]}"})
    for start in range(0, len(updates), 5000):
        bind.execute(
            sa.text(f"UPDATE {table} SET record_id = :rid WHERE id = :id"),
            updates[start : start + 5000],
        )


def upgrade() -> None:
    for table in FACTS:
        op.add_column(table, sa.Column("record_id", sa.String(), nullable=True))
        op.add_column(table, sa.Column("voided_at", sa.DateTime(), nullable=True))
        _number(table)
        op.create_index(f"ix_{table}_record_id", table, ["record_id"], unique=True)
    op.add_column(
        "breach", sa.Column("charged", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("breach", sa.Column("outcome_on", sa.Date(), nullable=True))
    # an outcome recorded before this release: its day is not known, the breach's stands in
    op.execute("UPDATE breach SET outcome_on = date WHERE outcome IS NOT NULL")
    for column in ("statement_of_service_sent", "smp_sent", "risk_information_sent"):
        op.add_column("transfer", sa.Column(column, sa.Date(), nullable=True))
    op.create_table(
        "checklist_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "order_id",
            sa.Integer(),
            sa.ForeignKey("spo_order.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("ref", sa.String(), nullable=True),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_checklist_item_order_id", "checklist_item", ["order_id"])
    op.create_index("ix_checklist_item_record_id", "checklist_item", ["record_id"], unique=True)
    op.create_table(
        "record_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subject_id",
            sa.Integer(),
            sa.ForeignKey("subject.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("record", sa.String(), nullable=False),
        sa.Column("change", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    op.create_index("ix_record_revision_subject_id", "record_revision", ["subject_id"])
    op.create_index("ix_record_revision_record", "record_revision", ["record"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index("ix_record_revision_record", table_name="record_revision")
    op.drop_index("ix_record_revision_subject_id", table_name="record_revision")
    op.drop_table("record_revision")
    op.drop_index("ix_checklist_item_record_id", table_name="checklist_item")
    op.drop_index("ix_checklist_item_order_id", table_name="checklist_item")
    op.drop_table("checklist_item")
    for column in ("statement_of_service_sent", "smp_sent", "risk_information_sent"):
        op.drop_column("transfer", column)
    op.drop_column("breach", "outcome_on")
    op.drop_column("breach", "charged")
    for table in FACTS:
        op.drop_index(f"ix_{table}_record_id", table_name=table)
        # a voided fact was withdrawn: before this revision it did not exist
        op.execute(f"DELETE FROM {table} WHERE voided_at IS NOT NULL")
        op.drop_column(table, "voided_at")
        op.drop_column(table, "record_id")
