"""Calendar use cases: calendars built from the persisted actions, feed tokens, the calendar
folder, and checking a calendar the way clients read it.

``adapters.ical`` renders; this module gathers what it needs through the read model (the
actions, how often each one's due date or state changed, the subjects' initials) and keeps
the tokens. A token is a bearer secret in a URL: it has 256 random bits, only its SHA-256
hash is stored, and it is shown once, when it is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..adapters import ical
from ..core.accountability import CASE_MANAGEMENT, SERVICE_FEEDS, SUPERVISION
from ..core.errors import InvalidInput, NotFound, NotPermitted
from ..core.policy import Policy
from ..core.record import NAME_MAX, check_text
from ..core.rules import Action
from ..core.text import quote
from ..store import tokens
from ..store.files import atomic_write, writable_file
from ..store.read import Reader, TokenEntry
from ..store.tokens import MAX_TOKEN_CHARS, DataVersion, Fetch, Valid, hash_token
from . import Context, accountability

if TYPE_CHECKING:
    from ..store.repo import Store

SCOPE_KINDS = ("officer", "team", "subject", "all")
TOKEN_SCOPES = ("officer", "team")
TOKEN_BYTES = 32  # 256 random bits, URL-safe base64: 43 characters
# Last-Modified of a feed with no actions at all: fixed, so it never moves by itself.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Fetching a URL to check: enough for a large feed, bounded so a hostile server cannot fill
# memory.
MAX_FETCH_BYTES = 50 * 1024 * 1024

# What the feed server needs of the token store, under the names it uses.
verify_token = tokens.verify_token
log_fetches = tokens.record_fetches
__all__ = [
    "MAX_TOKEN_CHARS",
    "DataVersion",
    "Fetch",
    "Valid",
    "atomic_write",
    "hash_token",
    "log_fetches",
    "verify_token",
    "writable_file",
]


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


def _officers_in(reader: Reader, scope: FeedScope, *, strict: bool) -> frozenset[str] | None:
    """The officers whose actions the scope covers (None: everyone). ``strict`` refuses an
    unknown officer, team or subject; a feed instead shows an empty calendar."""
    if scope.kind == "officer":
        assert scope.target is not None
        if strict and reader.officer(scope.target) is None:
            raise NotFound(f"officer {scope.target} not found", field="officer")
        return frozenset({scope.target})
    if scope.kind == "team":
        assert scope.target is not None
        members = frozenset(o.email for o in reader.officers(scope.target))
        if strict and not members:
            raise NotFound(
                f"team {quote(scope.target)} not found (no officer is in it)", field="--team"
            )
        return members
    if scope.kind == "subject":
        assert scope.target is not None
        if strict and not reader.subject_exists(scope.target):
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
    subjects: tuple[str, ...] = ()  # whose deadlines it shows, for the access log


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def build_feed(
    ctx: Context,
    scope: FeedScope,
    *,
    as_of: dt.date | None = None,
    include_closed: bool = False,
) -> Feed:
    """``spo calendar export``: the calendar of ``scope`` as its actions stand on ``as_of``."""
    day = as_of or ctx.today()
    with ctx.reading() as reader:
        _require_scope(ctx, reader, scope, "export the calendar of")
        source = read_feed_source(
            reader,
            scope,
            as_of=day,
            refresh=ctx.settings.feed_refresh,
            include_closed=include_closed,
            strict=True,
            timezone=ctx.timezone,
        )
        accountability.consulted(
            ctx,
            reader,
            "spo calendar export",
            [e.action.subject for e in source.entries],
            # a team's or the force's, as their lists are: supervision; the force's names its
            # purpose when require_purpose is on
            default=SUPERVISION if scope.kind in ("team", "all") else CASE_MANAGEMENT,
            whole_caseload=scope.kind == "all",
            operation="disclosure",
            detail={"scope": scope.kind, "target": scope.target},
        )
    return render_feed(source, ctx.policy)


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
    reader: Reader,
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
    officers = _officers_in(reader, scope, strict=strict)
    subject = scope.target if scope.kind == "subject" else None
    found: list[tuple[Action, dt.datetime]] = []
    if officers is None or officers:
        found = [
            (a, updated)
            for a, updated in reader.stamped_actions(
                officers=officers, subject=subject, open_on=None if include_closed else as_of
            )
            if a.applies
        ]
    sequences = reader.sequences([a.id for a, _ in found])
    names = reader.initials(sorted({a.subject for a, _ in found}))
    entries = [
        ical.Entry(
            action=a,
            initials=names.get(a.subject, ""),
            sequence=sequences.get(a.id, 0),
            updated_at=updated,
        )
        for a, updated in found
    ]
    entries.sort(key=lambda e: (e.action.due, e.action.rule, e.action.id))
    return FeedSource(
        scope=scope,
        as_of=as_of,
        entries=tuple(entries),
        newest_update=reader.newest_update(officers, subject),
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
    return Feed(
        body=body,
        etag=etag,
        last_modified=last_modified,
        events=len(shown),
        subjects=tuple(sorted({e.action.subject for e in shown})),
    )


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


def feed_urls(base_url: str, token: str) -> tuple[str, str]:
    """The https (as configured) and webcal:// URLs of a token's feed."""
    base = base_url.rstrip("/")
    url = f"{base}/calendars/{token}.ics"
    webcal = re.sub(r"^https?://", "webcal://", url)
    return url, webcal


def _info(entry: TokenEntry) -> TokenInfo:
    return TokenInfo(
        id=entry.id,
        scope=FeedScope(entry.scope, entry.target),
        label=entry.label,
        created_at=entry.created_at,
        created_by=entry.created_by,
        revoked_at=entry.revoked_at,
        last_used_at=entry.last_used_at,
        fetch_count=entry.fetch_count,
    )


def _require_scope(ctx: Context, reader: Reader, scope: FeedScope, what: str) -> None:
    """An offender manager or supervisor exports and subscribes to their team's calendars
    (an officer of it, the team, one of its subjects or an unallocated one); the SCU to
    any. Refused with exit 4, audited."""
    seen = accountability.visibility(ctx, reader)
    if seen.everyone:
        return
    if scope.kind == "subject" and scope.target is not None:
        for subject in reader.summaries_of([scope.target]):
            accountability.consult_subject(ctx, reader, subject, "spo calendar export")
        return
    me = reader.officer(ctx.actor.lower())
    allowed = (scope.kind == "officer" and scope.target in seen.officers) or (
        scope.kind == "team" and me is not None and scope.target == me.team
    )
    if not allowed:
        raise accountability.denied(
            ctx,
            NotPermitted(
                f"not permitted: {ctx.actor} may not {what} {scope.describe()} (their "
                "team's, or the SCU)",
                what="calendar",
                ref=scope.target,
            ),
        )


def create_token(ctx: Context, *, scope: FeedScope, label: str | None) -> NewToken:
    """A new feed token for an officer or a team; returns the plaintext once."""
    if scope.kind not in TOKEN_SCOPES:
        raise InvalidInput(
            "a feed is for one officer (--officer) or a team (--team)", field="officer"
        )
    if label is not None:
        # one line of plain text: it is shown in `spo calendar token list`
        label = label.strip()
        for problem in check_text(label, "label", max_len=NAME_MAX, required=True):
            raise InvalidInput(problem.message, field="label")
    with ctx.reading() as reader:
        _require_scope(ctx, reader, scope, "make a feed of")
    with ctx.unit_of_work() as store:
        if scope.kind == "officer":
            assert scope.target is not None
            officer = store.read.officer(scope.target)
            if officer is None:
                raise NotFound(f"officer {scope.target} not found", field="officer")
            if not officer.active:
                raise InvalidInput(f"officer {scope.target} is deactivated", field="officer")
        else:
            _officers_in(store.read, scope, strict=True)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        token_id = tokens.add_token(
            store,
            token=token,
            scope=scope.kind,
            target=scope.target or "",
            label=label,
        )
    url, webcal = feed_urls(ctx.settings.feed_base_url, token)
    return NewToken(id=token_id, token=token, scope=scope, url=url, webcal_url=webcal)


def list_tokens(ctx: Context) -> list[TokenInfo]:
    with ctx.reading() as reader:
        return [_info(t) for t in reader.tokens()]


def revoke_token(ctx: Context, token_id: int) -> tuple[TokenInfo, bool]:
    """Revoke one token; returns it and whether it was still active."""
    with ctx.unit_of_work() as store:
        entry, changed = tokens.revoke_token(store, token_id)
    return _info(entry), changed


def token_scope(valid: Valid) -> FeedScope:
    return FeedScope(valid.scope, valid.target)


def served_last_modified(store: Store, valid: Valid, feed: Feed) -> dt.datetime:
    """Last-Modified for this token's feed: from the data, but never earlier than the first
    time this exact body was served through the token. Content can change without a newer
    row in scope (an action reallocated away, a lapse, a new day making one overdue): then
    Last-Modified moves to now, so an If-Modified-Since client is not told "not modified"."""
    served = valid.served_modified
    if valid.served_etag == feed.etag and served is not None:
        return max(served, feed.last_modified)
    value = feed.last_modified
    if valid.served_etag is not None:  # the content changed since the last fetch
        value = max(value, store.now.astimezone(dt.UTC).replace(microsecond=0))
        if served is not None and value <= served:
            # HTTP dates have whole seconds: a change within the second of the last one
            # must still move Last-Modified forward.
            value = served + dt.timedelta(seconds=1)
    tokens.set_served(store, valid.id, feed.etag, value)
    return value


def record_fetches(ctx: Context, fetches: Sequence[Fetch], *, actor: str) -> None:
    """Write a batch of logged feed fetches in a transaction of their own."""
    with ctx.unit_of_work(actor=actor) as store:
        tokens.record_fetches(store, fetches)


# ------------------------------------------------------------------------------ files


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9@._+-]+", "-", text.lower()).strip("-.") or "unnamed"


@dataclass(frozen=True)
class FolderResult:
    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


def write_calendar_folder(ctx: Context, *, now: dt.datetime) -> FolderResult:
    """Rewrite one feed file per active officer (``officer-EMAIL.ics``) and per team
    (``team-NAME.ics``) into ``settings.calendar_folder``, atomically and owner-only; remove
    files of this kind that no longer have an officer or team. Unchanged files are left as
    they are; written ones get ``now`` as their modification time."""
    settings = ctx.settings
    if not settings.calendar_folder:
        return FolderResult([], [], [])
    from ..core.dates import local_date

    as_of = local_date(now, ctx.timezone)
    folder = Path(settings.calendar_folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    wanted: dict[str, FeedScope] = {}
    with ctx.reading() as reader:
        officers = reader.officers()
        for officer in officers:
            if officer.active:
                wanted[f"officer-{_slug(officer.email)}.ics"] = FeedScope("officer", officer.email)
        for team in sorted({o.team for o in officers if o.team}):
            name = f"team-{_slug(team)}.ics"
            if name in wanted:  # two team names with the same slug: keep both apart
                name = f"team-{_slug(team)}-{hashlib.sha256(team.encode()).hexdigest()[:8]}.ics"
            wanted[name] = FeedScope("team", team)
        sources = {
            name: read_feed_source(
                reader,
                scope,
                as_of=as_of,
                refresh=settings.feed_refresh,
                strict=False,
                timezone=ctx.timezone,
            )
            for name, scope in sorted(wanted.items())
        }
    written, unchanged = [], []
    stamp = now.timestamp()
    for name, source in sources.items():
        feed = render_feed(source, ctx.policy)
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
    if written:  # each file written discloses its scope's deadlines to the folder's readers
        with ctx.reading() as reader:
            for path in written:
                source = sources[path.name]
                accountability.consulted(
                    ctx,
                    reader,
                    "calendar folder",
                    [e.action.subject for e in source.entries],
                    default=SERVICE_FEEDS,
                    operation="disclosure",
                    recipients=[source.scope.target or source.scope.kind],
                    detail={"file": str(path)},
                )
    removed = []
    for path in sorted(folder.glob("*.ics")):
        if path.name.startswith(("officer-", "team-")) and path.name not in wanted:
            path.unlink(missing_ok=True)
            removed.append(path)
    return FolderResult(written, unchanged, removed)


# ------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class Checked:
    """What reading a calendar the way clients do found."""

    source: str  # as given, with any feed token hidden
    events: int
    parsers: list[str]  # those that read it
    problems: list[str]
    notes: list[str]  # parsers that could not run here


def check_calendar(source: str) -> Checked:
    """Read a file or feed URL with icalendar, ical and recurring-ical-events, and report
    what clients trip on (``adapters.ical.lint``)."""
    data, problems = _read_source(source)
    result = ical.lint(data)
    problems += result.problems
    parsers = ["icalendar"]
    notes: list[str] = []
    if result.parsed:
        for name, outcome in _other_parsers(data, notes):
            if outcome is None:
                parsers.append(name)
            else:
                problems.append(outcome)
    return Checked(redact(source), result.events, parsers, problems, notes)


def redact(source: str) -> str:
    """A feed URL without its token (it is a secret)."""
    import re

    return re.sub(r"/calendars/[^/?#]+\.ics", "/calendars/<token>.ics", source)


def _read_source(source: str) -> tuple[bytes, list[str]]:
    if "://" not in source:
        try:
            return Path(source).read_bytes(), []
        except OSError as exc:
            raise InvalidInput(f"cannot read {source}: {exc.strerror}", field="source") from None
    import urllib.error
    import urllib.request

    url = source
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInput("only file paths and http(s) or webcal URLs", field="source")
    request = urllib.request.Request(url, headers={"User-Agent": "spo-tracker calendar check"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read(MAX_FETCH_BYTES + 1)
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raise InvalidInput(f"{redact(source)} answered {exc.code}", field="source") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidInput(f"cannot fetch {redact(source)}: {reason}", field="source") from None
    problems = []
    if len(data) > MAX_FETCH_BYTES:
        raise InvalidInput(f"{redact(source)} is larger than 50 MB", field="source")
    if not content_type.lower().startswith("text/calendar"):
        problems.append(f"Content-Type is {content_type or 'missing'}, not text/calendar")
    return data, problems


def _other_parsers(data: bytes, notes: list[str]) -> list[tuple[str, str | None]]:
    """(parser, None if it read the calendar, else the problem) for the independent
    parsers, when installed (they come with the test extras); ``notes`` says which are not."""
    results: list[tuple[str, str | None]] = []
    text = data.decode("utf-8", errors="replace")
    try:
        from ical.calendar_stream import IcsCalendarStream
        from ical.exceptions import CalendarParseError
    except ImportError:
        notes.append("the ical package is not installed: strict parse skipped")
    else:
        try:
            IcsCalendarStream.calendar_from_ics(text)
            results.append(("ical", None))
        except (CalendarParseError, ValueError) as exc:
            results.append(("ical", f"the strict ical parser refuses it: {_short(exc)}"))
    try:
        import icalendar
        import recurring_ical_events
    except ImportError:
        notes.append("recurring-ical-events is not installed: expansion skipped")
    else:
        try:
            cal = icalendar.Calendar.from_ical(data)
            recurring_ical_events.of(cal).between((2000, 1, 1), (2040, 1, 1))
            results.append(("recurring-ical-events", None))
        except Exception as exc:  # any failure to expand is the finding itself
            results.append(("recurring-ical-events", f"recurring-ical-events fails: {_short(exc)}"))
    return results


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
