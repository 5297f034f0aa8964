"""visits planned for days to come

``spo visit plan`` keeps a visit an officer means to make: not a fact (a visit is recorded
with ``spo visit add`` once it has happened, never ahead), so it completes no deadline and
is not exported; it is removed with its subject.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_plan",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subject_id",
            sa.Integer(),
            sa.ForeignKey("subject.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("officer", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
    )
    op.create_index("ix_visit_plan_subject_id", "visit_plan", ["subject_id"])
    op.create_index("ix_visit_plan_date", "visit_plan", ["date"])


def downgrade() -> None:
    op.drop_table("visit_plan")
