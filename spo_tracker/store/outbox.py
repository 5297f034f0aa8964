"""The outbox adapter: enqueue without duplicates, claim with a conditional update, record
the outcome. Delivery uses short transactions of its own so a slow SMTP server never holds a
database lock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, func, insert, update
from sqlmodel import Session, col, select

from .service_models import OutboxRow, ServiceStateRow

ACTIVE = ("pending", "failed")


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    wanted = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(col(OutboxRow.dedupe_key)).where(col(OutboxRow.dedupe_key).in_(chunk))
        found.update(session.exec(query).all())
    return found


def enqueue(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows whose dedupe key is new; a row another instance inserted first is skipped
    (``ON CONFLICT DO NOTHING``), so racing sweeps cannot queue the same email twice."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    else:  # pragma: no cover - other engines are not supported deployments
        statement = insert(OutboxRow)
        session.execute(statement, list(rows))
        return len(rows)
    statement = dialect_insert(OutboxRow).on_conflict_do_nothing(index_elements=["dedupe_key"])
    before = session.exec(select(func.count()).select_from(OutboxRow)).one()
    session.execute(statement, list(rows))
    after = session.exec(select(func.count()).select_from(OutboxRow)).one()
    return int(after - before)


def due_ids(engine: Engine, now: dt.datetime, limit: int) -> list[int]:
    with Session(engine) as session:
        query = (
            select(col(OutboxRow.id))
            .where(col(OutboxRow.state).in_(ACTIVE))
            .where(col(OutboxRow.claimed_at).is_(None))
            .where(col(OutboxRow.next_attempt_at) <= now)
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return [int(i) for i in session.exec(query).all() if i is not None]


def claim(engine: Engine, row_id: int, now: dt.datetime, worker: str) -> OutboxRow | None:
    """Take one row for sending; None if another worker already has it."""
    with Session(engine, expire_on_commit=False) as session:
        result = session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == row_id)
            .where(col(OutboxRow.claimed_at).is_(None))
            .where(col(OutboxRow.state).in_(ACTIVE))
            .values(claimed_at=now, claimed_by=worker)
        )
        if getattr(result, "rowcount", 0) != 1:
            session.rollback()
            return None
        session.commit()
        return session.get(OutboxRow, row_id)


def finish(engine: Engine, row_id: int, **values: Any) -> None:
    with Session(engine) as session:
        session.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id).values(**values))
        session.commit()


def release_stale_claims(engine: Engine, older_than: dt.datetime) -> int:
    """Claims left by a process that died between claim and send go back in the queue."""
    with Session(engine) as session:
        result = session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.state).in_(ACTIVE))
            .where(col(OutboxRow.claimed_at) < older_than)
            .values(claimed_at=None, claimed_by=None)
        )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def counts(session: Session) -> dict[str, int]:
    query = select(OutboxRow.state, func.count()).group_by(col(OutboxRow.state))
    found = {str(state): int(n) for state, n in session.execute(query).all()}
    return {state: found.get(state, 0) for state in ("pending", "failed", "sent", "dead")}


def get_state(session: Session, name: str) -> str | None:
    row = session.get(ServiceStateRow, name)
    return row.value if row else None


def set_state(session: Session, name: str, value: str, now: dt.datetime) -> None:
    """Insert or update a bookkeeping value in one statement: two service instances may set
    the same heartbeat at the same moment."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    statement = upsert(ServiceStateRow).values(name=name, value=value, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": now}
        )
    )
    session.expire_all()  # a value read earlier in this session must not shadow the new one
