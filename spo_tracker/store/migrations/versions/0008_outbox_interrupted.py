"""outbox: when a send was interrupted

A delivery pass killed between handing a message to the mail server and recording the
answer leaves its claim, which goes stale; the message is sent again. The time of that
interrupted attempt is kept, so a permanent refusal of the resend is recorded as "delivery
uncertain" (the first attempt may have arrived), not as undeliverable.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not a batch copy (see 0006).


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("interrupted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("outbox", "interrupted_at")
