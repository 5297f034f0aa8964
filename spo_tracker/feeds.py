"""Calendar use cases: build a calendar from the persisted actions, manage feed tokens, log
fetches, and rewrite the calendar folder.

``ical`` renders; this module gathers what it needs from the store (the actions, how often
each one's due date or state changed, the subjects' initials) and keeps the tokens. A token
is a bearer secret in a URL: it has 256 random bits, only its SHA-256 hash is stored, and it
is shown once, when it is made.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, delete, func, insert, literal, not_, or_, update
from sqlmodel import col, select

from . import ical
from .errors import InvalidInput, NotFound
from .store import models as m
from .store.calendar_models import FeedFetchRow, FeedTokenRow
from .store.repo import action_from_row

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.pool import PoolProxiedConnection

    from .config import Settings
    from .policy import Policy
    from .store.repo import Store

log = logging.getLogger("spo_tracker.feeds")
SCOPE_KINDS = ("officer", "team", "subject", "all")
TOKEN_SCOPES = ("officer", "team")
TOKEN_BYTES = 32  # 256 random bits, URL-safe base64: 43 characters
MAX_TOKEN_CHARS = 200  # anything longer is not one of ours: refused without a look-up
FETCH_LOG_DAYS = 90  # older fetch log rows are pruned; each token keeps its own counters
# Last-Modified of a feed with no actions at all: fixed, so it never moves by itself.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_CHUNK = 500


# ------------------------------------------------------------------------------ scopes


@dataclass(frozen=True)
class FeedScope:
    """Whose deadlines a calendar shows."""

    kind: str  # officer | team | subject | all
    target: str | None = None  # email, team name or subject reference

    def calendar_name(self) -> str:
        if self.kind == "all":
            return "SPO deadlines: all"
        return f"SPO deadlines: {self.kind} {self.target}"

    def describe(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind} {self.target}"


def scope_from_options(
    *,
    officer: str | None = None,
    team: str | None = None,
    subject: str | None = None,
    everyone: bool = False,
    allowed: Sequence[str] = SCOPE_KINDS,
) -> FeedScope:
    """Exactly one of ``--officer``, ``--team``, ``--subject`` and ``--all`` (those allowed)."""
    given = [
        FeedScope(kind, value)
        for kind, value in (("officer", officer), ("team", team), ("subject", subject))
        if value is not None
    ]
    if everyone:
        given.append(FeedScope("all"))
    if len(given) != 1 or given[0].kind not in allowed:
        options = [f"--{kind}" for kind in allowed]
        raise InvalidInput(
            f"give exactly one of {', '.join(options[:-1])} or {options[-1]}",
            field=options[0],
        )
    scope = given[0]
    if scope.target is not None and not scope.target.strip():
        raise InvalidInput("must not be empty", field=f"--{scope.kind}")
    if scope.kind == "officer" and scope.target is not None:
        return FeedScope("officer", scope.target.strip().lower())
    return scope


def _officers_in(store: Store, scope: FeedScope, *, strict: bool) -> frozenset[str] | None:
    """The officers whose actions the scope covers (None: everyone). ``strict`` refuses an
    unknown officer, team or subject; a feed instead shows an empty calendar."""
    if scope.kind == "officer":
        assert scope.target is not None
        if strict and store.get_officer(scope.target) is None:
            raise NotFound(f"officer {scope.target} not found", field="officer")
        return frozenset({scope.target})
    if scope.kind == "team":
        assert scope.target is not None
        members = frozenset(o.email for o in store.list_officers(scope.target))
        if strict and not members:
            raise InvalidInput(f"no officers in team {scope.target!r}", field="team")
        return members
    if scope.kind == "subject":
        assert scope.target is not None
        if strict and not store.subject_ref_taken(scope.target):
            raise NotFound(f"subject {scope.target} not found", field="subject")
        return None
    return None


# ------------------------------------------------------------------------------ calendars


@dataclass(frozen=True)
class Feed:
    """A rendered calendar and the validators HTTP needs."""

    body: bytes
    etag: str  # strong: the quoted SHA-256 of the body
    last_modified: dt.datetime  # from the data (aware UTC, whole seconds)
    events: int


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def build_feed(
    store: Store,
    policy: Policy,
    scope: FeedScope,
    *,
    as_of: dt.date,
    refresh: str = ical.DEFAULT_REFRESH,
    include_closed: bool = False,
    strict: bool = True,
    timezone: str = ical.DEFAULT_TIMEZONE,
) -> Feed:
    """The calendar of ``scope`` from the persisted actions, as they stand on ``as_of``."""
    source = read_feed_source(
        store,
        scope,
        as_of=as_of,
        refresh=refresh,
        include_closed=include_closed,
        strict=strict,
        timezone=timezone,
    )
    return render_feed(source, policy)


@dataclass(frozen=True)
class FeedSource:
    """Everything a feed is made from, as read from the store; ``render_feed`` is pure."""

    scope: FeedScope
    as_of: dt.date
    entries: tuple[ical.Entry, ...]  # in calendar order (due, rule, id)
    # the latest change of any action in scope, shown or not (a closed action leaving the
    # feed changes it without a newer shown event)
    newest_update: dt.datetime | None
    refresh: str = ical.DEFAULT_REFRESH
    include_closed: bool = False
    timezone: str = ical.DEFAULT_TIMEZONE

    def body_key(self) -> tuple[object, ...]:
        """Everything the body's bytes depend on besides the policy: equal keys (and the
        same policy) give identical bytes. The entries are frozen values, compared whole."""
        return (
            self.scope.calendar_name(),
            self.as_of,
            self.refresh,
            self.include_closed,
            self.timezone,
            self.entries,
        )


def read_feed_source(
    store: Store,
    scope: FeedScope,
    *,
    as_of: dt.date,
    refresh: str = ical.DEFAULT_REFRESH,
    include_closed: bool = False,
    strict: bool = True,
    timezone: str = ical.DEFAULT_TIMEZONE,
) -> FeedSource:
    """Read what the calendar of ``scope`` on ``as_of`` is made from."""
    try:
        ical.parse_duration(refresh)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="feed_refresh") from None
    officers = _officers_in(store, scope, strict=strict)
    subject = scope.target if scope.kind == "subject" else None
    if officers is not None and not officers:
        rows: list[m.ActionRow] = []
    else:
        rows = store.query_actions(
            officers=officers,
            subject=subject,
            rule=None,
            due_by=None,
            open_on=None if include_closed else as_of,
        )
    ids = [row.id for row in rows]
    sequences = _sequences(store, ids)
    names = _initials(store, sorted({row.subject_ref for row in rows}))
    entries = [
        ical.Entry(
            action=action_from_row(row),
            initials=names.get(row.subject_ref, ""),
            sequence=sequences.get(row.id, 0),
            updated_at=row.updated_at,
        )
        for row in rows
    ]
    entries.sort(key=lambda e: (e.action.due, e.action.rule, e.action.id))
    return FeedSource(
        scope=scope,
        as_of=as_of,
        entries=tuple(entries),
        newest_update=_newest_update(store, officers, subject),
        refresh=refresh,
        include_closed=include_closed,
        timezone=timezone,
    )


def render_feed(source: FeedSource, policy: Policy) -> Feed:
    """The calendar bytes and validators for ``source``; pure."""
    body = ical.build_calendar(
        source.entries,
        name=source.scope.calendar_name(),
        policy=policy,
        as_of=source.as_of,
        refresh=source.refresh,
        include_closed=source.include_closed,
        timezone=source.timezone,
    )
    return _with_validators(source, body, etag_of(body))


def _with_validators(source: FeedSource, body: bytes, etag: str) -> Feed:
    as_of, timezone = source.as_of, source.timezone
    shown = [
        e
        for e in source.entries
        if source.include_closed or ical.status_on(e.action, as_of) not in ical.CLOSED
    ]
    newest = ical.newest_stamp(shown, as_of, timezone)
    candidates = [t for t in (newest, source.newest_update) if t is not None]
    last_modified = max(candidates, default=EPOCH).replace(microsecond=0)
    return Feed(body=body, etag=etag, last_modified=last_modified, events=len(shown))


class FeedRenderer:
    """``render_feed`` for one policy, remembering recent bodies by what they were made
    from: a feed whose source is unchanged is neither rendered nor hashed again, and
    a changed source always renders afresh (the key holds every input, compared whole).
    Bounded: the least recently used bodies go first beyond ``max_bytes``. Thread-safe."""

    def __init__(self, policy: Policy, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[tuple[object, ...], tuple[bytes, str]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.rendered = 0  # how many bodies were rendered (for tests and benchmarks)

    def render(self, source: FeedSource) -> Feed:
        key = source.body_key()
        with self._lock:
            known = self._bodies.get(key)
            if known is not None:
                self._bodies.move_to_end(key)
        if known is not None:
            return _with_validators(source, *known)
        feed = render_feed(source, self.policy)
        with self._lock:
            self.rendered += 1
            if key not in self._bodies:
                self._bodies[key] = (feed.body, feed.etag)
                self._size += len(feed.body)
            while self._size > self.max_bytes and len(self._bodies) > 1:
                _, (body, _etag) = self._bodies.popitem(last=False)
                self._size -= len(body)
        return feed


def _sequences(store: Store, ids: Sequence[str]) -> dict[str, int]:
    """How many times each action's due date or state changed (its creation not counted)."""
    history = m.ActionHistoryRow
    counted = and_(
        col(history.field).in_(["due", "state"]),
        not_(and_(col(history.field) == "state", col(history.old).is_(None))),
    )
    result: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        query = (
            select(col(history.action_id), func.count())
            .where(col(history.action_id).in_(chunk), counted)
            .group_by(col(history.action_id))
        )
        result.update((action_id, int(n)) for action_id, n in store.session.execute(query).all())
    return result


def _initials(store: Store, refs: Sequence[str]) -> dict[str, str]:
    """Each subject's initials from their current name, read for that and nothing else."""
    entries: dict[str, list[tuple[dt.date, bool, str]]] = defaultdict(list)
    for start in range(0, len(refs), _CHUNK):
        chunk = list(refs[start : start + _CHUNK])
        query = (
            select(
                col(m.SubjectRow.reference),
                col(m.NameRow.name),
                col(m.NameRow.kind),
                col(m.NameRow.since),
            )
            .join(m.NameRow, col(m.NameRow.subject_id) == col(m.SubjectRow.id))
            .where(col(m.SubjectRow.reference).in_(chunk))
            .order_by(col(m.NameRow.id))
        )
        for ref, name, kind, since in store.session.execute(query).all():
            entries[ref].append((since or dt.date.min, kind == "name", name))
    result = {}
    for ref, names in entries.items():
        # as Subject.current_name: a name (not an alias) if any; the latest; ties: the later
        candidates = [n for n in names if n[1]] or names
        best = candidates[0]
        for entry in candidates[1:]:
            if entry[0] >= best[0]:
                best = entry
        result[ref] = ical.initials(best[2])
    return result


def _newest_update(
    store: Store, officers: frozenset[str] | None, subject: str | None
) -> dt.datetime | None:
    if officers is not None and not officers:
        return None
    query = select(func.max(col(m.ActionRow.updated_at)))
    if officers is not None:
        query = query.where(col(m.ActionRow.officer).in_(sorted(officers)))
    if subject is not None:
        query = query.where(col(m.ActionRow.subject_ref) == subject)
    value = store.session.execute(query).scalar()
    if value is None:
        return None
    assert isinstance(value, dt.datetime)
    # an aggregate bypasses the column type: SQLite hands back the stored UTC text's value
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


# ------------------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class NewToken:
    """A token just made: the plaintext and its URLs exist only here, shown once."""

    id: int
    token: str
    scope: FeedScope
    url: str
    webcal_url: str


@dataclass(frozen=True)
class TokenInfo:
    id: int
    scope: FeedScope
    label: str | None
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    fetch_count: int

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "scope": self.scope.kind,
            "target": self.scope.target,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "fetch_count": self.fetch_count,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def feed_urls(base_url: str, token: str) -> tuple[str, str]:
    """The https (as configured) and webcal:// URLs of a token's feed."""
    base = base_url.rstrip("/")
    url = f"{base}/calendars/{token}.ics"
    webcal = re.sub(r"^https?://", "webcal://", url)
    return url, webcal


def _info(row: FeedTokenRow) -> TokenInfo:
    assert row.id is not None
    return TokenInfo(
        id=row.id,
        scope=FeedScope(row.scope, row.target),
        label=row.label,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        fetch_count=row.fetch_count,
    )


def _audit_entry(row: FeedTokenRow) -> dict[str, object]:
    # never the hash: the audit trail is read more widely than the token table
    info = _info(row).as_json()
    return {k: v for k, v in info.items() if k not in ("last_used_at", "fetch_count")}


def create_token(store: Store, *, scope: FeedScope, label: str | None, base_url: str) -> NewToken:
    """A new feed token for an officer or a team; returns the plaintext once."""
    if scope.kind not in TOKEN_SCOPES:
        raise InvalidInput(
            "a feed is for one officer (--officer) or a team (--team)", field="officer"
        )
    if scope.kind == "officer":
        assert scope.target is not None
        officer = store.get_officer(scope.target)
        if officer is None:
            raise NotFound(f"officer {scope.target} not found", field="officer")
        if not officer.active:
            raise InvalidInput(f"officer {scope.target} is deactivated", field="officer")
    else:
        _officers_in(store, scope, strict=True)
    if label is not None and not label.strip():
        raise InvalidInput("must not be empty", field="label")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = FeedTokenRow(
        token_hash=hash_token(token),
        scope=scope.kind,
        target=scope.target or "",
        label=label.strip() if label else None,
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
        after=_audit_entry(row),
    )
    url, webcal = feed_urls(base_url, token)
    return NewToken(id=row.id, token=token, scope=scope, url=url, webcal_url=webcal)


def list_tokens(store: Store, *, include_revoked: bool = True) -> list[TokenInfo]:
    query = select(FeedTokenRow).order_by(col(FeedTokenRow.id))
    if not include_revoked:
        query = query.where(col(FeedTokenRow.revoked_at).is_(None))
    return [_info(row) for row in store.session.exec(query).all()]


def revoke_token(store: Store, token_id: int) -> tuple[TokenInfo, bool]:
    """Revoke one token; returns it and whether it was still active."""
    row = store.session.get(FeedTokenRow, token_id)
    if row is None:
        raise NotFound(f"feed token {token_id} not found", field="token_id")
    if row.revoked_at is not None:
        return _info(row), False
    _revoke(store, row)
    return _info(row), True


def _revoke(store: Store, row: FeedTokenRow) -> None:
    before = _audit_entry(row)
    row.revoked_at = store.now
    row.revoked_by = store.actor
    store.session.add(row)
    store.audit(
        "feed_token.revoke",
        row,
        subject_ref=None,
        ref=f"feed-token:{row.id}",
        before=before,
        after=_audit_entry(row),
    )


def revoke_officer_feeds(store: Store, email: str) -> int:
    """Revoke every active feed of an officer: their own, and those they made (a
    supervisor's team feed). Called when an officer is deactivated. Returns how many."""
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


def verify_token(store: Store, token: str) -> FeedTokenRow | None:
    """The active token row for a plaintext token, or None (unknown, revoked, or for an
    officer who is no longer active)."""
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
        officer = store.get_officer(row.target)
        if officer is None or not officer.active:
            return None
    return row


def token_scope(row: FeedTokenRow) -> FeedScope:
    return FeedScope(row.scope, row.target)


@dataclass(frozen=True)
class Fetch:
    """One request for a feed, as logged: which token (None when unknown), when, the status."""

    token_id: int | None
    at: dt.datetime
    status: int
    client: str | None = None


def record_fetches(store: Store, fetches: Sequence[Fetch]) -> None:
    """Log requests, one row each with its own time and status; add them to their tokens'
    fetch counts and last use; prune the log beyond FETCH_LOG_DAYS. The counts are added in
    SQL (``fetch_count + n``), so two servers logging at once both count."""
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
    cutoff = store.now - dt.timedelta(days=FETCH_LOG_DAYS)
    store.session.execute(delete(FeedFetchRow).where(col(FeedFetchRow.at) < cutoff))


def served_last_modified(store: Store, row: FeedTokenRow, feed: Feed) -> dt.datetime:
    """Last-Modified for this token's feed: from the data, but never earlier than the first
    time this exact body was served through the token. Content can change without a newer
    row in scope (an action reallocated away, a lapse, a new day making one overdue): then
    Last-Modified moves to now, so an If-Modified-Since client is not told "not modified"."""
    served = row.served_modified
    if row.served_etag == feed.etag and served is not None:
        return max(served, feed.last_modified)
    value = feed.last_modified
    if row.served_etag is not None:  # the content changed since the last fetch
        value = max(value, store.now.astimezone(dt.UTC).replace(microsecond=0))
        if served is not None and value <= served:
            # HTTP dates have whole seconds: a change within the second of the last one
            # must still move Last-Modified forward.
            value = served + dt.timedelta(seconds=1)
    row.served_etag = feed.etag
    row.served_modified = value
    store.session.add(row)
    return value


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


# ------------------------------------------------------------------------------ files


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` owner-only (0600) under a temporary name, then rename: a reader never
    sees half a file, and a crash leaves the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old temporary file may have had other permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9@._+-]+", "-", text.lower()).strip("-.") or "unnamed"


@dataclass(frozen=True)
class FolderResult:
    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


def write_calendar_folder(
    store: Store, settings: Settings, policy: Policy, as_of: dt.date, now: dt.datetime
) -> FolderResult:
    """Rewrite one feed file per active officer (``officer-EMAIL.ics``) and per team
    (``team-NAME.ics``) into ``settings.calendar_folder``, atomically and owner-only; remove
    files of this kind that no longer have an officer or team. Unchanged files are left as
    they are; written ones get ``now`` as their modification time."""
    if not settings.calendar_folder:
        return FolderResult([], [], [])
    folder = Path(settings.calendar_folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    wanted: dict[str, FeedScope] = {}
    officers = store.list_officers()
    for officer in officers:
        if officer.active:
            wanted[f"officer-{_slug(officer.email)}.ics"] = FeedScope("officer", officer.email)
    for team in sorted({o.team for o in officers if o.team}):
        name = f"team-{_slug(team)}.ics"
        if name in wanted:  # two team names with the same slug: keep both apart
            name = f"team-{_slug(team)}-{hashlib.sha256(team.encode()).hexdigest()[:8]}.ics"
        wanted[name] = FeedScope("team", team)
    written, unchanged = [], []
    stamp = now.timestamp()
    for name, scope in sorted(wanted.items()):
        feed = build_feed(
            store,
            policy,
            scope,
            as_of=as_of,
            refresh=settings.feed_refresh,
            strict=False,
            timezone=settings.timezone,
        )
        path = folder / name
        try:
            same = path.read_bytes() == feed.body
        except OSError:
            same = False
        if same:
            unchanged.append(path)
            continue
        atomic_write(path, feed.body)
        os.utime(path, (stamp, stamp))
        written.append(path)
    removed = []
    for path in sorted(folder.glob("*.ics")):
        if path.name.startswith(("officer-", "team-")) and path.name not in wanted:
            path.unlink(missing_ok=True)
            removed.append(path)
    return FolderResult(written, unchanged, removed)
