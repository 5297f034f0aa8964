"""indexes on when actions closed

``spo due`` for a day asks for the actions open on that day: every open one, and the few
closed after it (a replay of an earlier day). Without these indexes the second part scanned
every closed action (most of the table).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_action_completed", "action", ["completed"], unique=False)
    op.create_index("ix_action_cancelled_on", "action", ["cancelled_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_action_cancelled_on", table_name="action")
    op.drop_index("ix_action_completed", table_name="action")
