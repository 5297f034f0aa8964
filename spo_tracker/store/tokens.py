"""Calendar feed tokens and their fetch log in the database, and the data version that tells
a long-lived feed server whether anything was committed since it last read.

A token is a bearer secret in a URL: only its SHA-256 hash is stored, so a copy of the
database does not open any feed. Reading the tokens for display is the read model's
(``Reader.tokens``); this module writes them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import NotFound
from .read import TokenEntry

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.pool import PoolProxiedConnection

    from .calendar_models import FeedTokenRow
    from .repo import Store

log = logging.getLogger("spo_tracker.feeds")
MAX_TOKEN_CHARS = 200  # anything longer is not one of ours: refused without a look-up
FETCH_LOG_DAYS = 90  # older fetch log rows are pruned; each token keeps its own counters


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _entry(row: FeedTokenRow) -> TokenEntry:
    assert row.id is not None
    return TokenEntry(
        id=row.id,
        scope=row.scope,
        target=row.target,
        label=row.label,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        fetch_count=row.fetch_count,
    )


def _audit_image(row: FeedTokenRow) -> dict[str, object]:
    # never the hash: the audit trail is read more widely than the token table
    return {
        "id": row.id,
        "scope": row.scope,
        "target": row.target,
        "label": row.label,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def add_token(store: Store, *, token: str, scope: str, target: str, label: str | None) -> int:
    """Store a new token (its hash) for an officer's or a team's feed; returns its id."""
    from .calendar_models import FeedTokenRow

    row = FeedTokenRow(
        token_hash=hash_token(token),
        scope=scope,
        target=target,
        label=label,
        created_at=store.now,
        created_by=store.actor,
    )
    store.session.add(row)
    store.session.flush()
    assert row.id is not None
    store.audit(
        "feed_token.create",
        row,
        subject_ref=None,
        ref=f"feed-token:{row.id}",
        after=_audit_image(row),
    )
    return row.id


def revoke_token(store: Store, token_id: int) -> tuple[TokenEntry, bool]:
    """Revoke one token; returns it and whether it was still active."""
    from .calendar_models import FeedTokenRow

    row = store.session.get(FeedTokenRow, token_id)
    if row is None:
        raise NotFound(f"feed token {token_id} not found", field="token_id")
    if row.revoked_at is not None:
        return _entry(row), False
    _revoke(store, row)
    return _entry(row), True


def _revoke(store: Store, row: FeedTokenRow) -> None:
    before = _audit_image(row)
    row.revoked_at = store.now
    row.revoked_by = store.actor
    store.session.add(row)
    store.audit(
        "feed_token.revoke",
        row,
        subject_ref=None,
        ref=f"feed-token:{row.id}",
        before=before,
        after=_audit_image(row),
    )


def revoke_officer_tokens(store: Store, email: str) -> int:
    """Revoke every active feed of an officer: their own, and those they made (a
    supervisor's team feed). Returns how many."""
    from sqlalchemy import and_, func, or_
    from sqlmodel import col, select

    from .calendar_models import FeedTokenRow

    email = email.strip().lower()
    query = select(FeedTokenRow).where(
        col(FeedTokenRow.revoked_at).is_(None),
        (
            or_(
                and_(col(FeedTokenRow.scope) == "officer", col(FeedTokenRow.target) == email),
                func.lower(col(FeedTokenRow.created_by)) == email,
            )
        ),
    )
    rows = list(store.session.exec(query).all())
    for row in rows:
        _revoke(store, row)
    return len(rows)


@dataclass(frozen=True)
class Valid:
    """A token that opens a feed: its id, whose feed, and what was last served through it."""

    id: int
    scope: str
    target: str
    served_etag: str | None
    served_modified: dt.datetime | None


def verify_token(store: Store, token: str) -> Valid | None:
    """The active token for a plaintext token, or None (unknown, revoked, or for an officer
    who is no longer active)."""
    from sqlmodel import col, select

    from .calendar_models import FeedTokenRow

    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    digest = hash_token(token)
    row = store.session.exec(
        select(FeedTokenRow).where(col(FeedTokenRow.token_hash) == digest)
    ).one_or_none()
    # The lookup is by hash, so its timing says nothing about the secret; the comparison
    # is constant-time all the same.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None:
        return None
    if row.scope == "officer":
        officer = store.read.officer(row.target)
        if officer is None or not officer.active:
            return None
    assert row.id is not None
    return Valid(row.id, row.scope, row.target, row.served_etag, row.served_modified)


def set_served(store: Store, token_id: int, etag: str, modified: dt.datetime) -> None:
    """Remember the body last served through a token and the Last-Modified given with it."""
    from .calendar_models import FeedTokenRow

    row = store.session.get(FeedTokenRow, token_id)
    assert row is not None
    row.served_etag = etag
    row.served_modified = modified
    store.session.add(row)


@dataclass(frozen=True)
class Fetch:
    """One request for a feed, as logged: which token (None when unknown), when, the status,
    and whose deadlines the answer disclosed (a full answer's subjects; none for a 304)."""

    token_id: int | None
    at: dt.datetime
    status: int
    client: str | None = None
    subjects: tuple[str, ...] = ()


def record_fetches(store: Store, fetches: Sequence[Fetch]) -> None:
    """Log requests, one row each with its own time and status; add them to their tokens'
    fetch counts and last use; prune the log beyond FETCH_LOG_DAYS. The counts are added in
    SQL (``fetch_count + n``), so two servers logging at once both count."""
    from sqlalchemy import case, delete, insert, literal, or_, update
    from sqlmodel import col, select

    from ..core.accountability import SERVICE_FEEDS, Access
    from .calendar_models import FeedFetchRow, FeedTokenRow

    if fetches:
        store.session.execute(
            insert(FeedFetchRow),
            [
                {"token_id": f.token_id, "at": f.at, "status": f.status, "client": f.client}
                for f in fetches
            ],
        )
    used: dict[int, tuple[int, dt.datetime]] = {}
    for f in fetches:
        if f.token_id is not None:
            count, last = used.get(f.token_id, (0, f.at))
            used[f.token_id] = (count + 1, max(last, f.at))
    last_used = col(FeedTokenRow.last_used_at)
    for token_id, (count, last) in sorted(used.items()):
        at = literal(last, getattr(FeedTokenRow, "__table__").c.last_used_at.type)
        # a batch written late never moves last use back past a fetch logged meanwhile
        later = or_(last_used.is_(None), last_used < at)
        store.session.execute(
            update(FeedTokenRow)
            .where(col(FeedTokenRow.id) == token_id)
            .values(
                fetch_count=col(FeedTokenRow.fetch_count) + count,
                last_used_at=case((later, at), else_=last_used),
            )
            .execution_options(synchronize_session=False)
        )
    # a feed served in full discloses its scope's deadlines to whoever holds the token
    served = sorted({f.token_id for f in fetches if f.token_id is not None and f.status == 200})
    targets = (
        {
            row.id: (row.scope, row.target)
            for row in store.session.exec(
                select(FeedTokenRow).where(col(FeedTokenRow.id).in_(served))
            ).all()
        }
        if served
        else {}
    )
    for f in fetches:
        # what it sent: a full answer's subjects (none for a HEAD, or a feed with no events)
        if f.status == 200 and f.token_id in targets and f.subjects:
            scope, target = targets[f.token_id]
            store.note_access(
                Access(
                    "disclosure",
                    "calendar feed",
                    subjects=f.subjects,
                    recipients=[target],
                    detail={
                        "token": f.token_id,
                        "scope": scope,
                        "status": f.status,
                        "client": f.client,
                        "at": f.at.isoformat(),
                    },
                    purpose=SERVICE_FEEDS,
                )
            )
    cutoff = store.now - dt.timedelta(days=FETCH_LOG_DAYS)
    store.session.execute(delete(FeedFetchRow).where(col(FeedFetchRow.at) < cutoff))


_VERSION_QUERIES = {
    "sqlite": "PRAGMA data_version",
    "postgresql": "SELECT pg_current_snapshot()::text",
}


class DataVersion:
    """A cheap value that changes whenever anything is committed to the database, by this
    process or any other: what was read after a version was taken may be reused for as long
    as the version stays the same. Take the version *before* reading: a commit in between
    then shows as a changed version next time (a needless re-read), never as stale data.

    SQLite: ``PRAGMA data_version`` on a connection kept for the purpose, which never writes;
    it changes when any other connection, in any process, commits (and after a checkpoint:
    a false alarm costs a re-read). Its numbers are that connection's own, so each value
    carries the connection's generation: a reconnection never repeats an earlier value. The
    connection never waits for a lock (``busy_timeout=0``: "busy" is an error, read as
    "unknown"), so reading the version does not block (``blocks`` is False).
    PostgreSQL (13+): the current snapshot (``xmin:xmax:in-progress ids``); a transaction
    that commits leaves the in-progress list or moves xmax, so an equal snapshot means
    nothing was committed in between. It covers the whole server, so other databases'
    writes are false alarms too; it is a network round trip (``blocks``).
    Other databases, or any error: ``None``, which never matches, so nothing is reused.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._query = _VERSION_QUERIES.get(self._dialect)
        self.blocks = self._dialect != "sqlite"
        self._conn: PoolProxiedConnection | None = None
        self._generation = 0
        self._failing = False
        self._lock = threading.Lock()

    def current(self, *, wait: bool = True) -> str | None:
        """The version now. With ``wait=False``, None rather than wait for another thread
        or (re)connect: it may then be called from an event loop (SQLite only)."""
        if self._query is None or (not wait and self.blocks):
            return None
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            if self._conn is None and not wait:
                return None
            try:
                if self._conn is None:
                    self._conn = self._connect()
                cursor = self._conn.cursor()
                try:
                    cursor.execute(self._query)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except Exception as exc:  # any failure means "unknown": read everything afresh
                if not self._failing:
                    log.warning("data version unknown, nothing reused until it is back: %s", exc)
                self._failing = True
                self._discard()
                return None
            self._failing = False
            return None if row is None else f"{self._generation}:{row[0]}"
        finally:
            self._lock.release()

    def _connect(self) -> PoolProxiedConnection:
        conn = self._engine.raw_connection()
        if self._dialect == "sqlite":
            cursor = conn.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout=0")
            finally:
                cursor.close()
        else:
            # no transaction is left open between reads (it would hold back vacuum)
            conn.driver_connection.autocommit = True  # type: ignore[union-attr]
        conn.detach()  # never handed back to the pool: its settings are its own
        self._generation += 1
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._discard()
