"""the access log and the hash chain (Data Protection Act 2018 s62)

``access_log`` keeps one row per operation on personal data: collection, alteration,
consultation, disclosure, combination, erasure; who, when, which subjects, to whom and why.
It and ``audit_log`` carry a hash chain (``seq``, ``hash``; the audit also the ``digest`` of
each entry's content, kept when a purge erases it), checked by ``spo audit verify``. The
existing audit entries are sealed by the first command after the upgrade, in id order. An
email keeps the subjects it names (``outbox.subjects``) for its disclosure entry.

Plain ALTER TABLE: on SQLite a batch rebuild drops the table, which with foreign keys on
would cascade to the rows that point at it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(), nullable=True))
    op.add_column("audit_log", sa.Column("digest", sa.String(), nullable=True))
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"])
    op.add_column("outbox", sa.Column("subjects", sa.JSON(), nullable=True))
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("what", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("hash", sa.String(), nullable=True),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_actor", "access_log", ["actor"])
    op.create_index("ix_access_log_operation", "access_log", ["operation"])
    op.create_index("ix_access_log_seq", "access_log", ["seq"])


def downgrade() -> None:
    op.drop_table("access_log")
    op.drop_column("outbox", "subjects")
    op.drop_index("ix_audit_log_seq", table_name="audit_log")
    op.drop_column("audit_log", "digest")
    op.drop_column("audit_log", "hash")
    op.drop_column("audit_log", "seq")
