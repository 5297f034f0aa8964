"""action ids of 16 hex digits instead of 10

Ten hex digits (40 bits) gave even odds of two actions sharing an id at about a million
actions; a national caseload with years of history gets there. An action's new id is the
SHA-256 it always came from, cut at 16 digits, so each old id is the start of its new one.
This rewrites the ids where they are stored: the action itself, its history, the outbox (its
``action_id`` and the id inside ``dedupe_key``, so nothing already sent is sent again) and the
overrides that name it. Audit images keep the ids they were written with (overrides name an
action by either form; commands accept the start of an id). Calendar clients see each event
once under its new UID.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rewrite(pairs: list[dict[str, str]]) -> None:
    """Give each action ``old`` the id ``new``, everywhere it is stored."""
    if not pairs:
        return
    bind = op.get_bind()
    columns = [c["name"] for c in sa.inspect(bind).get_columns("action") if c["name"] != "id"]
    listed = ", ".join(f'"{c}"' for c in columns)
    for start in range(0, len(pairs), 5000):
        chunk = pairs[start : start + 5000]
        for row in chunk:
            row["old_part"] = f":{row['old']}:"
            row["new_part"] = f":{row['new']}:"
        # a copy under the new id, the references moved to it, then the old row deleted:
        # the history's foreign key never points at a missing action
        bind.execute(
            sa.text(
                f"INSERT INTO action (id, {listed}) SELECT :new, {listed} FROM action WHERE id = :old"
            ),
            chunk,
        )
        bind.execute(
            sa.text("UPDATE action_history SET action_id = :new WHERE action_id = :old"), chunk
        )
        bind.execute(
            sa.text(
                "UPDATE outbox SET action_id = :new, "
                "dedupe_key = replace(dedupe_key, :old_part, :new_part) WHERE action_id = :old"
            ),
            chunk,
        )
        bind.execute(sa.text("UPDATE action_override SET action = :new WHERE action = :old"), chunk)
        bind.execute(sa.text("DELETE FROM action WHERE id = :old"), chunk)


def _ids(length: int) -> list[dict[str, str]]:
    rows = op.get_bind().execute(
        sa.text("SELECT id, subject_ref, rule, order_ref, key FROM action")
    )
    pairs = []
    for old, subject, rule, order, key in rows:
        digest = hashlib.sha256(f"{subject}|{rule}|{order or ''}|{key}".encode()).hexdigest()
        if old != digest[:length]:
            pairs.append({"old": old, "new": digest[:length]})
    return pairs


def upgrade() -> None:
    _rewrite(_ids(16))


def downgrade() -> None:
    _rewrite(_ids(10))
