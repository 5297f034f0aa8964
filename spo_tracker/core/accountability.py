"""Accountability, as the Data Protection Act 2018 s62 asks of a law-enforcement processor:
which operations are logged, the purpose each command records by default, and the hash
chain that makes the change audit and the access log tamper-evident. Pure: rows in, hashes
and findings out.

The chain: every row carries ``seq`` (its place, 1, 2, 3...) and ``hash`` =
SHA-256(previous row's hash, then the row's canonical fields). Changing a row changes its
hash; removing or inserting one breaks the sequence or the next row's link. A row whose
personal data a retention purge erased keeps the digest of what it held, so the chain
still holds, and the purge is itself a row further on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# s62(1): the operations the logs must cover.
OPERATIONS = (
    "collection",
    "alteration",
    "consultation",
    "disclosure",
    "combination",
    "erasure",
)

# the purpose recorded when a command is not given one (``--purpose``)
CASE_MANAGEMENT = "case management"
SUPERVISION = "supervision"
COMPLIANCE_REPORTING = "compliance reporting"
SERVICE_REMINDERS = "service: reminders"
SERVICE_FEEDS = "service: calendar feeds"
ADMINISTRATION = "administration"
ACCOUNTABILITY = "accountability"

GENESIS = "0" * 64
MAX_PURPOSE = 500


@dataclass(frozen=True)
class Access:
    """One operation on personal data, for the access log: what, which subjects, to whom."""

    operation: str
    what: str  # the command or service step: "spo show", "email reminder", "feed"
    subjects: Sequence[str] = ()
    recipients: Sequence[str] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)
    purpose: str | None = None  # None: the command's default

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}")


def operation_of(audit_action: str) -> str | None:
    """The s62 operation a change-audit entry is: an insert collects, a purge erases, an
    import combines, every other change alters; a refusal touched nothing."""
    if audit_action == "refused":
        return None
    if audit_action.startswith("retention."):
        return "erasure"
    if audit_action == "import":
        return "combination"
    if audit_action.endswith(".add"):
        return "collection"
    return "alteration"


def check_purpose(text: str) -> str:
    """A purpose is one line of plain text; returns it trimmed, or raises ValueError."""
    value = text.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_PURPOSE:
        raise ValueError(f"at most {MAX_PURPOSE} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be one line with no control characters")
    return value


# ------------------------------------------------------------------------------ the chain


def canonical(value: Any) -> Any:
    """One form for a stored value whichever engine returned it: datetimes as ISO text with
    microseconds (naive, as stored), JSON as sorted compact text, dates as ISO."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode()
    return value


def timestamp(value: Any) -> str | None:
    """A stored moment as canonical text (SQLite returns text, PostgreSQL a datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return str(canonical(value))


def json_text(value: Any) -> str:
    """A stored JSON value (text from SQLite, decoded from PostgreSQL) as canonical text."""
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_digest(before: Any, after: Any) -> str:
    """The digest of what an audit entry held, kept when a purge erases the content."""
    text = json_text(before) + "\n" + json_text(after)
    return hashlib.sha256(text.encode()).hexdigest()


ERASED = content_digest(None, None)


def link(previous: str, fields: Sequence[Any]) -> str:
    """A row's hash: SHA-256 of the previous row's hash and its canonical fields."""
    text = json.dumps([previous, *fields], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    """A stored row as the verifier needs it: its id, place, hash, and canonical fields."""

    id: int
    seq: int | None
    hash: str | None
    fields: tuple[Any, ...]
    digest: str | None = None  # audit rows: the digest of their content as sealed
    content: str | None = None  # audit rows: the digest of their content now
    erased_by: bool = False  # a later purge of the row's subject explains erased content


ANCHOR = "chain-anchor:"  # + table: where a chain begins after a retention purge


def anchor_text(seq: int, hash_: str) -> str:
    return f"{seq}:{hash_}"


def parse_anchor(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    seq, _, hash_ = text.partition(":")
    return int(seq), hash_


@dataclass(frozen=True)
class Break:
    table: str
    row_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row_id}" if self.row_id is not None else "the chain"
        return f"{self.table} {where}: {self.reason}"


def unexplained_start(
    table: str, anchor: tuple[int, str] | None, purged_through: Iterable[int]
) -> Break | None:
    """A chain that begins after its first rows (``anchor``) must owe it to a retention purge
    the change audit records (``purged_through``: the last place each removed): otherwise its
    oldest rows were cut, and an anchor written to hide it."""
    if anchor is None or anchor[0] in set(purged_through):
        return None
    return Break(
        table,
        None,
        f"its first {anchor[0]} row(s) are gone, and no retention purge on record removed them",
    )


def verify(
    table: str, rows: Iterable[ChainRow], anchor: tuple[int, str] | None = None
) -> Break | None:
    """The first place the chain of ``table`` does not hold (rows in ``seq`` order, the
    unsealed last), or None when it is whole. ``anchor``: the place and hash of the last row
    a retention purge removed from the chain's start, where what is left begins."""
    previous, expected = GENESIS, 1
    if anchor is not None:
        expected, previous = anchor[0] + 1, anchor[1]
    for row in rows:
        if row.seq is None or row.hash is None:
            return Break(table, row.id, "not sealed: inserted outside spo, or its seal removed")
        if row.seq != expected:
            what = "removed" if row.seq > expected else "repeated"
            return Break(table, row.id, f"row {expected} of the chain was {what} before it")
        altered = row.digest is not None and row.content not in (None, row.digest)
        if altered and not (row.content == ERASED and row.erased_by):
            return Break(table, row.id, "its content was altered")
        if link(previous, row.fields) != row.hash:
            return Break(table, row.id, "altered (its hash does not match)")
        previous, expected = row.hash, expected + 1
    return None
