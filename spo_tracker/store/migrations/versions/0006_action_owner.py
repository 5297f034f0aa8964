"""who owns each action

Each rule names who does its action (the offender manager, their supervisor, the SCU); the
action keeps that owner beside the officer it names, so lists, reminders and feeds follow it.
Existing actions get theirs at the next recompute (``spo recompute --all``, or the service's
first sweep: the policy changed with this release).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not a batch copy: on SQLite a batch operation rebuilds the table by
# dropping it, and with foreign keys on that would cascade to every action's history.


def upgrade() -> None:
    op.add_column(
        "action",
        sa.Column("owner", sa.String(), nullable=False, server_default="offender-manager"),
    )


def downgrade() -> None:
    op.drop_column("action", "owner")
