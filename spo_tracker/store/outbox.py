"""The outbox adapter: enqueue without duplicates, claim with a conditional update, record
the outcomes. Delivery uses short transactions of its own so a slow SMTP server never holds a
database lock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, update
from sqlmodel import Session, col, select

from ..core.errors import InvalidInput, NotFound
from .service_models import OutboxRow, ServiceStateRow

if TYPE_CHECKING:
    from .repo import Store

ACTIVE = ("pending", "failed")
STATES = ("pending", "failed", "sent", "dead", "uncertain", "dropped")
#: May be queued again by hand (``spo outbox retry``).
RETRYABLE = ("failed", "dead", "uncertain")


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


@dataclass(frozen=True)
class Claimed:
    """What delivery needs of a claimed row."""

    id: int
    recipient: str
    subject_line: str
    body_text: str
    body_html: str
    message_id: str
    attempts: int
    kind: str = ""
    action_id: str | None = None
    stage: str = ""
    dedupe_key: str = ""
    replaced: bool = False  # rewritten when reviewed: record what was sent instead
    #: an earlier attempt was cut off before its outcome was recorded: it may have arrived
    interrupted: bool = False


_CLAIMED = (
    col(OutboxRow.id),
    col(OutboxRow.recipient),
    col(OutboxRow.subject_line),
    col(OutboxRow.body_text),
    col(OutboxRow.body_html),
    col(OutboxRow.message_id),
    col(OutboxRow.attempts),
    col(OutboxRow.kind),
    col(OutboxRow.action_id),
    col(OutboxRow.stage),
    col(OutboxRow.dedupe_key),
)


def _claimed(row: Any) -> Claimed:
    *values, interrupted_at = row
    claimed = Claimed(int(values[0] or 0), *values[1:])
    return replace(claimed, interrupted=True) if interrupted_at is not None else claimed


def claim_due(engine: Engine, now: dt.datetime, worker: str, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due rows for sending, oldest first, in one transaction.

    One conditional UPDATE: only rows still unclaimed and pending or failed are taken, and
    RETURNING says which, so two workers never hold the same row. SQLite runs it under
    BEGIN IMMEDIATE (one writer at a time); on PostgreSQL the rows are picked with
    ``FOR UPDATE SKIP LOCKED``, so a concurrent claimer takes the next rows instead of waiting
    for these (and the UPDATE's own conditions are checked again on the locked rows).
    """
    if limit < 1:
        return []
    due = (
        select(col(OutboxRow.id))
        .where(col(OutboxRow.state).in_(ACTIVE))
        .where(col(OutboxRow.claimed_at).is_(None))
        .where(col(OutboxRow.next_attempt_at) <= now)
        .order_by(col(OutboxRow.id))
        .limit(limit)
    )
    if engine.dialect.name == "postgresql":
        # A materialised CTE runs once: as a plain ``IN (subquery)`` PostgreSQL may run a
        # LIMIT ... SKIP LOCKED subquery more than once and claim more rows than asked.
        picked = (
            due.with_for_update(skip_locked=True)
            .cte("due")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        wanted = col(OutboxRow.id).in_(select(picked.c.id))
    else:
        wanted = col(OutboxRow.id).in_(due)
    statement = (
        update(OutboxRow)
        .where(wanted)
        .where(col(OutboxRow.claimed_at).is_(None))
        .where(col(OutboxRow.state).in_(ACTIVE))
        .values(claimed_at=now, claimed_by=worker)
        .returning(*_CLAIMED, col(OutboxRow.interrupted_at))
    )
    with engine.begin() as conn:
        rows = [_claimed(row) for row in conn.execute(statement)]
    return sorted(rows, key=lambda r: r.id)


@dataclass(frozen=True)
class Outcome:
    """How one send ended: ``sent``, ``failed`` (retry at ``next_attempt_at``), ``dead``,
    ``uncertain`` (refused for good, but an earlier, interrupted attempt may have delivered
    it), or ``dropped`` (not sent: what it said stopped being true before it left)."""

    id: int
    state: str
    attempts: int
    error: str | None = None
    next_attempt_at: dt.datetime | None = None
    # what was sent instead of what was queued: (subject line, text, html)
    replaced: tuple[str, str, str] | None = None


def record(
    engine: Engine,
    outcomes: Sequence[Outcome],
    now: dt.datetime,
    *,
    actor: str = "spo-service",
    purpose: str = "service: reminders",
) -> None:
    """Write the outcomes of several sends in one transaction. A sent row keeps its claim
    (who sent it); a failed or dead one gives it up. Each message sent is a disclosure, in
    the access log (recipient, the subjects it names, its Message-ID) in the same
    transaction."""
    sent = [{"row_id": o.id, "n_attempts": o.attempts} for o in outcomes if o.state == "sent"]
    with engine.begin() as conn:
        if sent:
            _log_disclosures(
                conn, [o.id for o in outcomes if o.state == "sent"], now, actor, purpose
            )
        for o in outcomes:
            if o.replaced is not None:
                subject_line, text, html = o.replaced
                conn.execute(
                    update(OutboxRow)
                    .where(col(OutboxRow.id) == o.id)
                    .values(subject_line=subject_line, body_text=text, body_html=html)
                )
        if sent:
            conn.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == bindparam("row_id"))
                .values(
                    state="sent", sent_at=now, attempts=bindparam("n_attempts"), last_error=None
                ),
                sent,
            )
        for o in outcomes:
            if o.state == "sent":
                continue
            values: dict[str, Any] = {
                "state": o.state,
                "attempts": o.attempts,
                "last_error": o.error,
                "claimed_at": None,
                "claimed_by": None,
            }
            if o.next_attempt_at is not None:
                values["next_attempt_at"] = o.next_attempt_at
            conn.execute(update(OutboxRow).where(col(OutboxRow.id) == o.id).values(**values))


def _log_disclosures(
    conn: Connection, ids: Sequence[int], now: dt.datetime, actor: str, purpose: str
) -> None:
    from .read import Reader

    raw = conn.connection.driver_connection
    reader = Reader(raw, conn.dialect.name)
    entries = []
    for start in range(0, len(ids), 500):
        for row in reader.query(
            "SELECT id, kind, recipient, subject_ref, subjects, message_id FROM outbox "
            "WHERE id IN (:ids) ORDER BY id",
            {"ids": list(ids[start : start + 500])},
        ):
            named = row["subjects"]
            if isinstance(named, str):
                import json

                named = json.loads(named)
            subjects = set(named or ())
            if row["subject_ref"]:
                subjects.add(row["subject_ref"])
            entries.append(
                {
                    "operation": "disclosure",
                    "what": f"email {row['kind']}",
                    "purpose": purpose,
                    "subjects": sorted(subjects),
                    "recipients": [row["recipient"]],
                    "detail": {"message_id": row["message_id"], "outbox": row["id"]},
                }
            )
    reader.mark_chain_start(["access_log"])  # the outcomes so far wrote no access rows
    reader.log_access(now, actor, entries)
    reader.seal("access_log")


def release(engine: Engine, ids: Iterable[int], worker: str) -> int:
    """Give back claims on rows this worker took but never started to send."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    released = 0
    with engine.begin() as conn:
        for start in range(0, len(wanted), 500):
            result = conn.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id).in_(wanted[start : start + 500]))
                .where(col(OutboxRow.claimed_by) == worker)
                .where(col(OutboxRow.state).in_(ACTIVE))
                .values(claimed_at=None, claimed_by=None)
            )
            released += int(getattr(result, "rowcount", 0) or 0)
    return released


def release_stale_claims(engine: Engine, older_than: dt.datetime) -> int:
    """Claims left by a process that died between claim and outcome go back in the queue,
    marked interrupted (as of the claim): whatever that attempt did is unknown, so the
    message may already have arrived."""
    with engine.begin() as conn:
        result = conn.execute(
            update(OutboxRow)
            .where(col(OutboxRow.state).in_(ACTIVE))
            .where(col(OutboxRow.claimed_at) < older_than)
            .values(claimed_at=None, claimed_by=None, interrupted_at=col(OutboxRow.claimed_at))
        )
        return int(getattr(result, "rowcount", 0) or 0)


def set_state(session: Session | Connection, name: str, value: str, now: dt.datetime) -> None:
    """Insert or update a bookkeeping value in one statement: two service instances may set
    the same heartbeat at the same moment."""
    dialect = (
        session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    )
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
    if isinstance(session, Session):
        session.expire_all()  # a value read earlier in this session must not shadow it


def set_state_now(engine: Engine, name: str, value: str, now: dt.datetime) -> None:
    """``set_state`` in a transaction of its own (delivery's heartbeat)."""
    with engine.begin() as conn:
        set_state(conn, name, value, now)


def advance_state_now(engine: Engine, name: str, moment: dt.datetime) -> None:
    """Set a heartbeat to ``moment`` unless it already says later (the clock went back):
    in a transaction of its own."""
    with engine.begin() as conn:
        current = conn.execute(
            select(col(ServiceStateRow.value)).where(col(ServiceStateRow.name) == name)
        ).scalar()
        if current and dt.datetime.fromisoformat(current) >= moment:
            return
        set_state(conn, name, moment.isoformat(), moment)


def retry(store: Store, message_id: int) -> None:
    """Queue a failed, undeliverable or uncertain message again, due at once whatever moment
    the service acts as; audited."""
    row = store.session.get(OutboxRow, message_id)
    if row is None:
        raise NotFound(f"message {message_id} not found", field="id")
    if row.state not in RETRYABLE:
        raise InvalidInput(
            f"message {message_id} is {row.state}, not failed, undeliverable or uncertain",
            field="id",
        )
    row.state = "pending"
    row.next_attempt_at = row.created_at
    row.claimed_at = None
    row.claimed_by = None
    store.session.add(row)
    store.audit("outbox.retry", row, subject_ref=None, ref=str(message_id))
