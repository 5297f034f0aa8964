"""The read model: every query a view needs, written once in plain SQL for both engines.

Each method answers one view with plain values: the record as domain objects, actions as the
engine's ``Action``, and small frozen rows for the rest (history, audit, outbox, tokens). It
runs on a DB-API connection. A command that only reads opens one with ``connect`` and never
imports SQLAlchemy, whose import costs more than the query; a write transaction hands over
its own connection (``Store.read``), so what it reads includes what it has written. One
implementation per query on SQLite and PostgreSQL alike: parameters are named (``:name``),
a list parameter becomes an ``IN`` list, and values are adapted to the driver here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import re
import typing
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ..core import record as d
from ..core.accountability import ChainRow
from ..core.compliance import Due
from ..core.errors import DatabaseNotReady, InvalidInput, NotFound
from ..core.rules import Action
from .schema import SCHEMA_HEAD, backend, describe, libpq_url, sqlite_file

MIN_ACTION_PREFIX = 6  # the shortest start of an action id accepted in its place
BUSY_TIMEOUT_MS = 15_000
CHUNK = 500  # values per IN list: well inside every engine's limit on parameters
_T = TypeVar("_T")

# A subject's lists: domain attribute -> (table, domain class). The one map of the record's
# tables; the write side (repo) finds its row classes by these table names.
SUBJECT_CHILDREN: dict[str, tuple[str, type[Any]]] = {
    "names": ("subject_name", d.NameEntry),
    "addresses": ("subject_address", d.AddressEntry),
    "risk_levels": ("risk_level", d.RiskEntry),
    "allocations": ("allocation", d.Allocation),
    "visits": ("visit", d.Visit),
    "breaches": ("breach", d.Breach),
    "notifications": ("notification", d.Notification),
    "transfers": ("transfer", d.Transfer),
    "management_plans": ("management_plan", d.ManagementPlan),
    "reviews": ("supervisor_review", d.Review),
    "action_overrides": ("action_override", d.ActionOverride),
}
ORDER_CHILDREN: dict[str, tuple[str, type[Any]]] = {
    "conditions": ("order_condition", d.Condition),
    "variations": ("variation", d.Variation),
    "renewals": ("renewal", d.Renewal),
    "discharge_applications": ("discharge_application", d.DischargeApplication),
    "checklist": ("checklist_item", d.ChecklistEntry),
}
# Every table of facts (each row has its record id and may be voided), by the kind of fact
# its ids name: kind -> (table, parent table, parent key column, domain attribute, class).
FACT_TABLES_BY_KIND: dict[str, tuple[str, str, str, str, type[Any]]] = {
    **{
        d.SUBJECT_FACTS[attr]: (table, "subject", "subject_id", attr, cls)
        for attr, (table, cls) in SUBJECT_CHILDREN.items()
    },
    **{
        d.ORDER_FACTS[attr]: (table, "spo_order", "order_id", attr, cls)
        for attr, (table, cls) in ORDER_CHILDREN.items()
    },
    "flag-review": ("flag_review", "flag", "flag_id", "reviews", d.FlagReview),
}
FACT_TABLES = frozenset(t[0] for t in FACT_TABLES_BY_KIND.values())
# What a list of subjects shows (``subject_summaries``).
SUMMARY_LISTS = frozenset({"names", "risk_levels", "allocations"})
# Domain fields that name an officer by email, stored as the officer's row id.
OFFICER_FIELDS = {"officer": "officer_id", "by": "by_id"}
# Histories whose entries may have no start date: sorted by it (unknown first), not by row.
SINCE_LISTS = {"names", "addresses", "risk_levels", "allocations"}
# An action's columns but its explanation (the largest by far).
BRIEF_COLUMNS = (
    "id",
    "subject_ref",
    "order_ref",
    "rule",
    "key",
    "officer",
    "owner",
    "trigger_date",
    "window_opens",
    "due",
    "completed",
    "cancelled_on",
    "lapses_on",
    "soon_from",
    "state",
    "updated_at",
)
ACTION_DATES = (
    "trigger_date",
    "window_opens",
    "due",
    "completed",
    "cancelled_on",
    "lapses_on",
    "soon_from",
)


# ------------------------------------------------------------------------------ view rows


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a persisted action: its due date, state or officer, old -> new."""

    id: int
    action_id: str
    at: dt.datetime
    field: str
    old: str | None
    new: str | None
    cause: str


@dataclass(frozen=True)
class StoredFact:
    """One fact as stored: its record id, where it lives and whose it is, and the fact."""

    record_id: str
    kind: str
    table: str
    attr: str
    parent_table: str
    parent_ref: str
    subject_ref: str
    subject_id: int
    row_id: int
    fact: Any
    voided_at: dt.datetime | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    subject_ref: str | None
    ref: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class AccessEntry:
    """A row of the access log, as ``spo audit access`` shows it."""

    id: int
    at: dt.datetime
    actor: str
    operation: str
    what: str
    purpose: str
    subjects: list[str]
    recipients: list[str]
    detail: dict[str, Any]


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    kind: str
    state: str
    recipient: str
    subject_line: str
    action_id: str | None
    stage: str
    subject_ref: str | None
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime
    last_error: str | None
    message_id: str
    interrupted_at: dt.datetime | None = None


@dataclass(frozen=True)
class TokenEntry:
    id: int
    scope: str
    target: str
    label: str | None
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    fetch_count: int


@dataclass(frozen=True)
class PolicyEntry:
    at: dt.datetime
    name: str
    version: str
    digest: str
    text: str


# ------------------------------------------------------------------------------ values


def to_date(value: Any) -> dt.date | None:
    if type(value) is str and len(value) == 10:  # the usual case, SQLite's ISO text: quickly
        return dt.date.fromisoformat(value)
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def to_datetime(value: Any) -> dt.datetime | None:
    """Stored moments are UTC: SQLite keeps them as text without an offset."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _moment(value: Any) -> dt.datetime:
    moment = to_datetime(value)
    assert moment is not None
    return moment


def _to_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _to_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _same(value: Any) -> Any:
    return value


def _converter(hint: Any) -> Callable[[Any], Any]:
    """How to turn a stored value into a field of this type."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args and typing.get_origin(hint) is not list and typing.get_origin(hint) is not dict:
        hint = args[0]  # X | None
    if hint is dt.datetime:
        return to_datetime
    if hint is dt.date:
        return to_date
    if hint is bool:
        return _to_bool
    if typing.get_origin(hint) in (list, dict) or hint in (list, dict):
        return _to_json
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        members = {str(m): m for m in hint}
        return members.__getitem__
    return _same


@functools.cache
def _fields(cls: type[Any]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


@functools.cache
def _plan(
    cls: type[Any], columns: tuple[str, ...]
) -> tuple[tuple[str, str, Callable[[Any], Any] | None, bool], ...]:
    """How to build a ``cls`` from a row with these columns: (field, column, conversion or
    None to take the value as it is, whether it is an officer's row id), worked out once."""
    plan = []
    for name, convert in _fields(cls):  # type: ignore[arg-type]
        column = OFFICER_FIELDS.get(name) or ("record_id" if name == "id" else name)
        if column in columns:
            plain = convert is _same
            plan.append((name, column, None if plain else convert, name in OFFICER_FIELDS))
    return tuple(plan)


def view_row(cls: type[_T], values: Mapping[str, Any]) -> _T:
    """A frozen view row from a result row of the same column names."""
    return cls(**{name: convert(values.get(name)) for name, convert in _fields(cls)})  # type: ignore[arg-type]


def _common_start(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# ------------------------------------------------------------------------------ the reader

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Reader:
    """Queries on one DB-API connection of ``dialect`` (``sqlite`` or ``postgresql``).
    ``before`` runs before each query (a write transaction flushes what it holds)."""

    def __init__(self, conn: Any, dialect: str, *, before: Callable[[], None] | None = None):
        self.conn = conn
        self.dialect = dialect
        self._before = before
        self._officer_ids: dict[str, int] | None = None
        self._officer_emails: dict[int, str] | None = None
        self._prepared: dict[tuple[str, tuple[tuple[str, int], ...]], str] = {}
        # what a read showed, for the access log: written when the read ends (``noted``)
        self.accesses: list[dict[str, Any]] = []
        self._chain_start: dict[str, frozenset[int]] = {}  # see ``mark_chain_start``

    # ------------------------------------------------------------------ plumbing

    def _adapt(self, value: Any) -> Any:
        if self.dialect != "sqlite":
            return value
        if isinstance(value, dt.datetime):
            # as SQLAlchemy's SQLite DateTime stores it: UTC, no offset
            return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def _sql(self, sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        values: dict[str, Any] = {}
        shape = tuple(
            (k, len(v) if isinstance(v, list | tuple | set | frozenset) else -1)
            for k, v in sorted(params.items())
        )
        for name, value in params.items():
            if isinstance(value, list | tuple | set | frozenset):
                for i, item in enumerate(value):
                    values[f"{name}_{i}"] = self._adapt(item)
            else:
                values[name] = self._adapt(value)
        known = self._prepared.get((sql, shape))
        if known is not None:
            return known, values
        pg = self.dialect == "postgresql"
        lengths = dict(shape)

        def placeholder(name: str) -> str:
            return f"%({name})s" if pg else f":{name}"

        def expand(match: re.Match[str]) -> str:
            name = match.group(1)
            size = lengths[name]
            if size < 0:
                return placeholder(name)
            if size == 0:
                return "NULL"
            return ", ".join(placeholder(f"{name}_{i}") for i in range(size))

        prepared = _PARAM.sub(expand, sql.replace("%", "%%") if pg else sql)
        self._prepared[(sql, shape)] = prepared
        return prepared, values

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Result rows as dicts, one at a time."""
        if self._before is not None:
            self._before()
        text, values = self._sql(sql, params or {})
        cursor = self.conn.cursor()
        try:
            cursor.execute(text, values)
            names = [c[0] for c in cursor.description or ()]
            while batch := cursor.fetchmany(500):
                for row in batch:
                    yield dict(zip(names, row, strict=True))
        finally:
            with contextlib.suppress(Exception):  # a reader left early: its connection may be gone
                cursor.close()

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self.query(sql, params))

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else next(iter(row.values()))

    @property
    def _c(self) -> str:
        """Sort text in byte order, as Python does (PostgreSQL would use the locale's)."""
        return ' COLLATE "C"' if self.dialect == "postgresql" else ""

    # ------------------------------------------------------------------ schema and policy

    def has_table(self, name: str) -> bool:
        if self.dialect == "sqlite":
            sql = "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = :name"
        else:
            sql = (
                "SELECT 1 AS found FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename = :name"
            )
        return self.one(sql, {"name": name}) is not None

    def schema_revision(self) -> str | None:
        if not self.has_table("alembic_version"):
            return None
        value = self.value("SELECT version_num FROM alembic_version")
        return None if value is None else str(value)

    def check_schema(self, where: str) -> None:
        """Refuse a database that is not initialised or is behind this version's schema."""
        revision = self.schema_revision()
        if revision is None:
            raise DatabaseNotReady(f"database {where} is not initialised: run `spo init`")
        if revision != SCHEMA_HEAD:
            raise DatabaseNotReady(
                f"database schema is at revision {revision}, this spo needs {SCHEMA_HEAD}: "
                "run `spo db upgrade`"
            )

    def last_policy_digest(self) -> str | None:
        value = self.value("SELECT digest FROM policy_log ORDER BY id DESC LIMIT 1")
        return None if value is None else str(value)

    def policy_at(self, at: dt.datetime) -> PolicyEntry | None:
        """The policy most recently first used at or before ``at``."""
        row = self.one(
            "SELECT at, name, version, digest, text FROM policy_log WHERE at <= :at "
            "ORDER BY id DESC LIMIT 1",
            {"at": at},
        )
        return None if row is None else view_row(PolicyEntry, row)

    # ------------------------------------------------------------------ officers

    def _officer_rows(self) -> list[dict[str, Any]]:
        return self.all(
            "SELECT id, email, name, role, team, supervisor_id, active FROM officer "
            f"ORDER BY email{self._c}"
        )

    def officer_maps(self) -> tuple[dict[str, int], dict[int, str]]:
        """email -> row id and back (cached for this reader: officers change rarely)."""
        if self._officer_ids is None or self._officer_emails is None:
            rows = self._officer_rows()
            self._officer_ids = {r["email"]: r["id"] for r in rows}
            self._officer_emails = {r["id"]: r["email"] for r in rows}
        return self._officer_ids, self._officer_emails

    def forget_officers(self) -> None:
        self._officer_ids = self._officer_emails = None

    def officer_emails(self) -> set[str]:
        return set(self.officer_maps()[0])

    def officers(self, team: str | None = None) -> list[d.Officer]:
        emails = self.officer_maps()[1]
        return [
            d.Officer(
                email=r["email"],
                name=r["name"],
                role=d.Role(r["role"]),
                team=r["team"],
                supervisor=emails.get(r["supervisor_id"]) if r["supervisor_id"] else None,
                active=bool(r["active"]),
            )
            for r in self._officer_rows()
            if team is None or r["team"] == team
        ]

    def officer(self, email: str) -> d.Officer | None:
        row = self.one(
            "SELECT o.email, o.name, o.role, o.team, s.email AS supervisor, o.active "
            "FROM officer o LEFT JOIN officer s ON s.id = o.supervisor_id WHERE o.email = :email",
            {"email": email},
        )
        if row is None:
            return None
        return d.Officer(
            email=row["email"],
            name=row["name"],
            role=d.Role(row["role"]),
            team=row["team"],
            supervisor=row["supervisor"],
            active=bool(row["active"]),
        )

    def any_officer(self) -> bool:
        return self.value("SELECT 1 FROM officer LIMIT 1") is not None

    def colleagues(self, me: d.Officer) -> frozenset[str]:
        """The emails of ``me``'s team: the same team, those they supervise, and those who
        share their supervisor (``me`` included)."""
        where, params = ["o.email = :me"], {"me": me.email}
        if me.team:
            where.append("o.team = :team")
            params["team"] = me.team
        where.append("s.email = :me")
        if me.supervisor:
            where.append("s.email = :supervisor")
            params["supervisor"] = me.supervisor
        rows = self.query(
            "SELECT o.email FROM officer o LEFT JOIN officer s ON s.id = o.supervisor_id "
            f"WHERE {' OR '.join(where)}",
            params,
        )
        return frozenset(r["email"] for r in rows)

    # ------------------------------------------------------------------ subjects

    def subject_refs(self) -> list[str]:
        rows = self.query(f"SELECT reference FROM subject ORDER BY reference{self._c}")
        return [r["reference"] for r in rows]

    def subject_ids(self, refs: Sequence[str]) -> dict[str, int]:
        result: dict[str, int] = {}
        for chunk in chunks(list(refs)):
            for r in self.query(
                "SELECT reference, id FROM subject WHERE reference IN (:refs)", {"refs": chunk}
            ):
                result[r["reference"]] = r["id"]
        return result

    def subject_exists(self, ref: str) -> bool:
        return bool(self.subject_ids([ref]))

    def references(self, kind: str) -> list[str]:
        """Every subject, order or flag reference."""
        table = {"subject": "subject", "order": "spo_order", "flag": "flag"}[kind]
        return [r["reference"] for r in self.query(f"SELECT reference FROM {table}")]

    def _subject_of(self, table: str, ref: str, what: str, field: str) -> str:
        row = self.one(
            f"SELECT s.reference FROM {table} x JOIN subject s ON s.id = x.subject_id "
            "WHERE x.reference = :ref",
            {"ref": ref},
        )
        if row is None:
            raise NotFound(f"{what} {ref} not found", field=field)
        return str(row["reference"])

    def subject_of_order(self, order_ref: str, field: str = "order") -> str:
        return self._subject_of("spo_order", order_ref, "order", field)

    def subject_of_flag(self, flag_ref: str, field: str = "flag") -> str:
        return self._subject_of("flag", flag_ref, "flag", field)

    def subject(self, ref: str, field: str = "subject") -> d.Subject:
        found = self.subjects([ref])
        if not found:
            raise NotFound(f"subject {ref} not found", field=field)
        return found[0]

    def subjects(self, refs: Sequence[str] | None = None) -> list[d.Subject]:
        """Whole records, ordered by reference: one query per table, not per subject."""
        return self._assemble(self._subject_rows(refs))

    def subject_summaries(self, officer: str | None = None) -> list[d.Subject]:
        """Subjects with only what a list shows: names, risk, allocations, orders (not their
        conditions and decisions) and flags; the other lists are left empty. With
        ``officer``, only those ever allocated to them (the caller keeps the current ones)."""
        if officer is None:
            rows = self._subject_rows(None)
        else:
            officer_id = self.officer_maps()[0].get(officer)
            rows = self.all(
                "SELECT * FROM subject WHERE id IN "
                "(SELECT subject_id FROM allocation WHERE officer_id = :officer) "
                f"ORDER BY reference{self._c}",
                {"officer": officer_id},
            )
        return self._assemble(rows, only=SUMMARY_LISTS)

    def summaries_of(self, refs: Iterable[str]) -> list[d.Subject]:
        """These subjects, with what a list shows (``subject_summaries``)."""
        return self._assemble(self._subject_rows(sorted(set(refs))), only=SUMMARY_LISTS)

    def _subject_rows(self, refs: Sequence[str] | None) -> list[dict[str, Any]]:
        if refs is None:
            return self.all(f"SELECT * FROM subject ORDER BY reference{self._c}")
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(refs)):
            rows += self.all("SELECT * FROM subject WHERE reference IN (:refs)", {"refs": chunk})
        return sorted(rows, key=lambda r: r["reference"])

    def _child_rows(
        self, table: str, parent: str, ids: list[int]
    ) -> dict[int, list[dict[str, Any]]]:
        """Rows of ``table`` by ``parent`` id, by date then entry order where dated."""
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        order = "date, id" if table in _DATED else "id"
        standing = " AND voided_at IS NULL" if table in FACT_TABLES else ""
        for chunk in chunks(ids):
            for row in self.query(
                f"SELECT * FROM {table} WHERE {parent} IN (:ids){standing} ORDER BY {order}",
                {"ids": chunk},
            ):
                grouped[row[parent]].append(row)
        return grouped

    def _item(self, cls: type[_T], row: Mapping[str, Any]) -> _T:
        emails = self.officer_maps()[1]
        values: dict[str, Any] = {}
        for name, column, convert, officer in _plan(cls, tuple(row)):  # type: ignore[arg-type]
            value = row[column]
            if officer:
                values[name] = None if value is None else emails.get(value)
            elif convert is None or value is None:
                values[name] = value
            else:
                values[name] = convert(value)
        return cls(**values)

    def _assemble(
        self, rows: Sequence[Mapping[str, Any]], *, only: frozenset[str] | None = None
    ) -> list[d.Subject]:
        ids = [r["id"] for r in rows]
        wanted = only if only is not None else frozenset(SUBJECT_CHILDREN) | {"order_children"}
        none: dict[int, list[dict[str, Any]]] = defaultdict(list)
        children = {
            attr: self._child_rows(table, "subject_id", ids) if attr in wanted else none
            for attr, (table, _) in SUBJECT_CHILDREN.items()
        }
        orders = self._child_rows("spo_order", "subject_id", ids)
        order_ids = [o["id"] for group in orders.values() for o in group]
        order_children = {
            attr: self._child_rows(table, "order_id", order_ids)
            if "order_children" in wanted
            else none
            for attr, (table, _) in ORDER_CHILDREN.items()
        }
        order_refs = {o["id"]: o["reference"] for group in orders.values() for o in group}
        flags = self._child_rows("flag", "subject_id", ids)
        flag_reviews = self._child_rows(
            "flag_review", "flag_id", [f["id"] for g in flags.values() for f in g]
        )
        subjects = []
        for row in rows:
            sid = row["id"]
            subject = self._item(d.Subject, {**row, "names": None})
            subject.names = []
            for attr, (_, cls) in SUBJECT_CHILDREN.items():
                items = [self._item(cls, c) for c in children[attr][sid]]
                if attr in SINCE_LISTS:
                    items.sort(key=lambda e: getattr(e, "since") or dt.date.min)
                setattr(subject, attr, items)
            for orow in sorted(orders[sid], key=lambda o: (to_date(o["made"]), o["id"])):
                order = self._item(d.Order, {k: v for k, v in orow.items() if k != "replaces"})
                order.replaces = (
                    order_refs.get(orow["replaces_id"]) if orow["replaces_id"] else None
                )
                for attr, (_, cls) in ORDER_CHILDREN.items():
                    setattr(
                        order, attr, [self._item(cls, c) for c in order_children[attr][orow["id"]]]
                    )
                subject.orders.append(order)
            for frow in sorted(flags[sid], key=lambda f: (to_date(f["expires"]), f["id"])):
                flag = self._item(d.Flag, frow)
                flag.reviews = [self._item(d.FlagReview, r) for r in flag_reviews[frow["id"]]]
                subject.flags.append(flag)
            subjects.append(subject)
        return subjects

    def record(self, record_id: str, field: str = "record_id") -> StoredFact:
        """The fact with this record id (``S-001/visit-3``), voided or not."""
        split = d.split_record_id(record_id)
        if split is None:
            raise InvalidInput(
                f"{record_id!r} is not a record id (like S-001/visit-3: spo show lists them)",
                field=field,
            )
        table, parent_table, key, attr, cls = FACT_TABLES_BY_KIND[split[1]]
        row = self.one(f"SELECT * FROM {table} WHERE record_id = :id", {"id": record_id})
        if row is None:
            raise NotFound(f"record {record_id} not found", field=field)
        parent = self.one(f"SELECT * FROM {parent_table} WHERE id = :id", {"id": row[key]})
        assert parent is not None
        subject_id = parent["id"] if parent_table == "subject" else parent["subject_id"]
        subject_ref = self.value("SELECT reference FROM subject WHERE id = :id", {"id": subject_id})
        return StoredFact(
            record_id=record_id,
            kind=split[1],
            table=table,
            attr=attr,
            parent_table=parent_table,
            parent_ref=str(parent["reference"]),
            subject_ref=str(subject_ref),
            subject_id=int(subject_id),
            row_id=int(row["id"]),
            fact=self._item(cls, row),
            voided_at=to_datetime(row["voided_at"]),
        )

    def record_author(self, stored: StoredFact) -> str | None:
        """Who recorded a fact: the actor of the audited write that first stored it."""
        value = self.value(
            "SELECT actor FROM audit_log WHERE entity = :table AND entity_id = :id "
            "ORDER BY id LIMIT 1",
            {"table": stored.table, "id": stored.row_id},
        )
        return None if value is None else str(value)

    def record_ids(self, table: str, key: str, parent_id: int) -> list[str]:
        """The record ids under one parent in ``table``, voided ones too (never reused)."""
        rows = self.query(
            f"SELECT record_id FROM {table} WHERE {key} = :id AND record_id IS NOT NULL",
            {"id": parent_id},
        )
        return [str(r["record_id"]) for r in rows]

    def revisions(self, refs: Sequence[str]) -> dict[str, list[d.Revision]]:
        """Each subject's corrections and voids, oldest first."""
        found: dict[str, list[d.Revision]] = defaultdict(list)
        for chunk in chunks(list(refs)):
            for row in self.query(
                "SELECT s.reference, r.* FROM record_revision r JOIN subject s "
                "ON s.id = r.subject_id WHERE s.reference IN (:refs) ORDER BY r.id",
                {"refs": chunk},
            ):
                found[row["reference"]].append(
                    d.Revision(
                        record=row["record"],
                        change=d.RevisionKind(row["change"]),
                        at=_moment(row["at"]),
                        by=row["actor"],
                        reason=row["reason"],
                        before=_to_json(row["before"]),
                        after=_to_json(row["after"]) if row["after"] is not None else None,
                    )
                )
        return found

    def voided_facts(self, subject_ref: str) -> list[StoredFact]:
        """A subject's voided facts, as they stood when withdrawn."""
        subject_id = self.subject_ids([subject_ref]).get(subject_ref)
        if subject_id is None:
            return []
        ids: list[str] = []
        for table, parent_table, key, _, _ in FACT_TABLES_BY_KIND.values():
            if parent_table == "subject":
                where = f"x.{key} = :sid"
            else:
                where = f"x.{key} IN (SELECT id FROM {parent_table} WHERE subject_id = :sid)"
            ids += [
                str(r["record_id"])
                for r in self.query(
                    f"SELECT x.record_id FROM {table} x WHERE {where} AND x.voided_at IS NOT NULL",
                    {"sid": subject_id},
                )
            ]
        return [self.record(i) for i in ids]

    def initials(self, refs: Sequence[str]) -> dict[str, str]:
        """Each subject's initials, from the current name, read for that and nothing else."""
        names: dict[str, list[d.NameEntry]] = defaultdict(list)
        for chunk in chunks(list(refs)):
            for row in self.query(
                "SELECT s.reference, n.name, n.kind, n.since FROM subject s "
                "JOIN subject_name n ON n.subject_id = s.id WHERE s.reference IN (:refs) "
                "ORDER BY n.id",
                {"refs": chunk},
            ):
                names[row["reference"]].append(self._item(d.NameEntry, row))
        return {ref: d.initials(d.current_name(entries)) for ref, entries in names.items()}

    # ------------------------------------------------------------------ actions

    def _action(self, row: dict[str, Any]) -> Action:
        for column in ACTION_DATES:
            row[column] = to_date(row[column])
        row["explanation"] = _to_json(row.get("explanation")) or {}
        return Action.from_stored(row)

    def actions(self, **filters: Any) -> Iterator[Action]:
        """Persisted actions by officer, subject, rule and due date, in the order lists show
        them (``core.scope.due_order``), one at a time; the filters are ``stamped_actions``'."""
        for action, _ in self.stamped_actions(**filters):
            yield action

    def stamped_actions(
        self,
        *,
        officers: Iterable[str] | None = None,
        subject: str | None = None,
        rule: str | None = None,
        due_from: dt.date | None = None,
        due_by: dt.date | None = None,
        open_on: dt.date | None = None,
        live_on: dt.date | None = None,
        brief: bool = False,
    ) -> Iterator[tuple[Action, dt.datetime]]:
        """Persisted actions with the moment each last changed, in list order. ``open_on``
        keeps those that could
        still be open on that day (not done or cancelled before it), and with ``due_by`` every
        overdue one too; ``live_on`` also leaves out, in SQL, what ``Action.status`` would not
        show as live that day (not triggered yet, lapsed). ``brief`` leaves the explanation out
        (a count or a table needs its dates, not its words: a third of the reading)."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if officers is not None:
            where.append("officer IN (:officers)")
            params["officers"] = sorted(officers)
        for column, value in (("subject_ref", subject), ("rule", rule)):
            if value is not None:
                where.append(f"{column} = :{column}")
                params[column] = value
        if due_from is not None:
            where.append("due >= :due_from")
            params["due_from"] = due_from
        if live_on is not None:
            where.append("trigger_date <= :live AND (lapses_on IS NULL OR lapses_on > :live)")
            params["live"] = live_on
        if due_by is not None:
            # with open_on, overdue ones (due < open_on) are wanted too
            overdue = " OR due < :open_on" if open_on is not None and open_on > due_by else ""
            where.append(f"(due <= :due_by{overdue})")
            params["due_by"] = due_by
        columns = ", ".join(BRIEF_COLUMNS) if brief else "*"
        sql = f"SELECT {columns} FROM action WHERE " + (" AND ".join(where) or "1 = 1")
        if open_on is not None:
            # open actions through the (state, officer, due) index; the few closed after the
            # day asked about (a view of an earlier day) through a second, small query
            params["open_on"] = open_on
            sql = (
                f"{sql} AND state = 'open' UNION ALL "
                f"{sql} AND state <> 'open' AND id IN ("
                "SELECT id FROM action WHERE completed > :open_on "
                "UNION SELECT id FROM action WHERE cancelled_on > :open_on)"
            )
        c = self._c
        ordered = f"SELECT * FROM ({sql}) listed ORDER BY due, rule{c}, subject_ref{c}, id{c}"
        for row in self.query(ordered, params):
            updated = to_datetime(row["updated_at"])
            assert updated is not None
            yield self._action(row), updated

    def compliance_rows(
        self, *, officers: Iterable[str] | None, due_from: dt.date, due_by: dt.date
    ) -> Iterator[Due]:
        """The dates of every action due in the period (what compliance counts), unordered."""
        where = ["due >= :due_from", "due <= :due_by"]
        params: dict[str, Any] = {"due_from": due_from, "due_by": due_by}
        if officers is not None:
            where.append("officer IN (:officers)")
            params["officers"] = sorted(officers)
        # corrected: its completion changed after it was first recorded (action history)
        sql = (
            "SELECT rule, officer, trigger_date, due, completed, cancelled_on, lapses_on, "
            "soon_from, state, EXISTS (SELECT 1 FROM action_history h WHERE h.action_id = "
            "action.id AND h.field = 'completed' AND h.old IS NOT NULL) AS corrected "
            f"FROM action WHERE {' AND '.join(where)}"
        )
        if self._before is not None:
            self._before()
        text, values = self._sql(sql, params)
        cursor = self.conn.cursor()
        try:
            cursor.execute(text, values)
            while batch := cursor.fetchmany(1000):
                for rule, officer, trig, due, done, cancelled, lapses, soon, state, fixed in batch:
                    yield Due(
                        rule,
                        officer,
                        to_date(trig),  # type: ignore[arg-type]
                        to_date(due),  # type: ignore[arg-type]
                        to_date(done),
                        to_date(cancelled),
                        to_date(lapses),
                        to_date(soon),  # type: ignore[arg-type]
                        not (state == "cancelled" and cancelled is None),
                        bool(fixed),
                    )
        finally:
            cursor.close()

    def action_rows(self, subject_refs: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The stored actions of these subjects, every column, for a recompute to compare."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for chunk in chunks(list(subject_refs)):
            for row in self.query(
                "SELECT * FROM action WHERE subject_ref IN (:refs)", {"refs": chunk}
            ):
                for column in ACTION_DATES:
                    row[column] = to_date(row[column])
                row["explanation"] = _to_json(row["explanation"]) or {}
                row["late"] = _to_bool(row["late"])
                row["updated_at"] = to_datetime(row["updated_at"])
                grouped[row["subject_ref"]].append(row)
        return grouped

    def action(self, action_id: str, field: str = "action_id") -> Action:
        """The action with this id, or with the only id that starts with it (at least six
        characters): ids are 16 hex digits, and emails and calendars sent before schema 0004
        show the first 10."""
        row = self.one("SELECT * FROM action WHERE id = :id", {"id": action_id})
        if row is not None:
            return self._action(row)
        if len(action_id) >= MIN_ACTION_PREFIX and all(c in "0123456789abcdef" for c in action_id):
            found = self.all(
                f"SELECT * FROM action WHERE id LIKE :start ORDER BY id{self._c} LIMIT 3",
                {"start": f"{action_id}%"},
            )
            if len(found) == 1:
                return self._action(found[0])
            if found:
                shown = ", ".join(r["id"] for r in found[:2])
                raise InvalidInput(
                    f"{action_id} is the start of more than one action id ({shown}, ...): "
                    "give more of it",
                    field=field,
                )
        hint = ""
        if len(action_id) < MIN_ACTION_PREFIX:
            hint = f" (give at least {MIN_ACTION_PREFIX} characters of its id)"
        raise NotFound(f"action {action_id} not found{hint}", field=field)

    def short_ids(self, ids: Iterable[str], minimum: int = MIN_ACTION_PREFIX) -> dict[str, str]:
        """Each id's shortest start (``minimum`` characters or more) that no other stored
        action shares: what every command taking an ACTION_ID accepts in its place."""
        c = self._c
        result: dict[str, str] = {}
        if self.dialect == "postgresql":
            # One query for a whole list: a round trip per id costs more here than on SQLite.
            # Ids are lowercase hex, which sorts the same in every collation, so the primary
            # key's index finds each neighbour (with COLLATE "C" each query sorted the table).
            for chunk in chunks(list(ids)):
                for row in self.query(
                    "SELECT q.id AS id, "
                    "(SELECT a.id FROM action a WHERE a.id < q.id ORDER BY a.id DESC LIMIT 1) "
                    "AS before, "
                    "(SELECT a.id FROM action a WHERE a.id > q.id ORDER BY a.id LIMIT 1) AS after "
                    "FROM unnest(ARRAY[:ids]::text[]) AS q(id)",
                    {"ids": chunk},
                ):
                    action_id = row["id"]
                    shared = max(
                        (_common_start(action_id, n) for n in (row["before"], row["after"]) if n),
                        default=0,
                    )
                    result[action_id] = action_id[: max(minimum, shared + 1)]
            return result
        for action_id in ids:
            neighbours = [
                r["id"]
                for sql in (
                    f"SELECT id FROM action WHERE id < :id ORDER BY id{c} DESC LIMIT 1",
                    f"SELECT id FROM action WHERE id > :id ORDER BY id{c} LIMIT 1",
                )
                for r in self.query(sql, {"id": action_id})
            ]
            shared = max((_common_start(action_id, n) for n in neighbours), default=0)
            result[action_id] = action_id[: max(minimum, shared + 1)]
        return result

    def action_history(self, action_id: str) -> list[HistoryEntry]:
        rows = self.query(
            "SELECT * FROM action_history WHERE action_id = :id ORDER BY id", {"id": action_id}
        )
        return [view_row(HistoryEntry, r) for r in rows]

    def history_since(self, after_id: int, limit: int = 5000) -> list[HistoryEntry]:
        rows = self.query(
            "SELECT * FROM action_history WHERE id > :after ORDER BY id LIMIT :limit",
            {"after": after_id, "limit": limit},
        )
        return [view_row(HistoryEntry, r) for r in rows]

    def sequences(self, ids: Sequence[str]) -> dict[str, int]:
        """How many times each action's due date or state changed (its creation not counted)."""
        result: dict[str, int] = {}
        for chunk in chunks(list(ids)):
            for row in self.query(
                "SELECT action_id, count(*) AS n FROM action_history WHERE action_id IN (:ids) "
                "AND field IN ('due', 'state') AND NOT (field = 'state' AND old IS NULL) "
                "GROUP BY action_id",
                {"ids": chunk},
            ):
                result[row["action_id"]] = int(row["n"])
        return result

    def newest_update(
        self, officers: Iterable[str] | None, subject: str | None
    ) -> dt.datetime | None:
        """The latest change of any action in scope, shown or not."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if officers is not None:
            emails = sorted(officers)
            if not emails:
                return None
            where.append("officer IN (:officers)")
            params["officers"] = emails
        if subject is not None:
            where.append("subject_ref = :subject")
            params["subject"] = subject
        sql = "SELECT max(updated_at) AS newest FROM action"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return to_datetime(self.value(sql, params))

    # ------------------------------------------------------------------ audit trail

    def audit(self, ref: str | None = None) -> list[AuditEntry]:
        """The change audit as people read it: an officer by email, not by row id, and no
        parent row ids (the entry's reference names the subject, order or flag)."""
        sql = "SELECT * FROM audit_log"
        params = {}
        if ref is not None:
            sql += " WHERE subject_ref = :ref OR ref = :ref"
            params["ref"] = ref
        emails = self.officer_maps()[1]
        entries = []
        for r in self.query(sql + " ORDER BY id", params):
            entry = view_row(AuditEntry, r)
            entries.append(
                dataclasses.replace(
                    entry,
                    before=_readable(entry.before, emails),
                    after=_readable(entry.after, emails),
                )
            )
        return entries

    def visit_plans(
        self, subjects: Sequence[str] | None, *, since: dt.date
    ) -> list[tuple[str, int, d.PlannedVisit]]:
        """Visits planned for ``since`` or later (every subject's, or these), by day:
        (subject reference, plan id, the plan)."""
        sql = (
            "SELECT s.reference, p.id, p.date, p.kind, p.officer, p.note FROM visit_plan p "
            "JOIN subject s ON s.id = p.subject_id WHERE p.date >= :since"
        )
        params: dict[str, Any] = {"since": since}
        if subjects is not None:
            sql += " AND s.reference IN (:refs)"
            params["refs"] = list(subjects)
        found = []
        for row in self.query(sql + f" ORDER BY p.date, s.reference{self._c}, p.id", params):
            plan = d.PlannedVisit(
                date=to_date(row["date"]),  # type: ignore[arg-type]
                kind=d.VisitKind(row["kind"]),
                officer=row["officer"],
                note=row["note"],
            )
            found.append((str(row["reference"]), int(row["id"]), plan))
        return found

    def access_log(
        self,
        *,
        subject: str | None = None,
        actor: str | None = None,
        operation: str | None = None,
        since: dt.datetime | None = None,
        before: dt.datetime | None = None,
    ) -> list[AccessEntry]:
        """The access log, oldest first, filtered. A subject is matched in the rows' lists
        (a whole-caseload read names every subject it showed)."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if actor is not None:
            where.append("actor = :actor")
            params["actor"] = actor
        if operation is not None:
            where.append("operation = :operation")
            params["operation"] = operation
        if since is not None:
            where.append("at >= :since")
            params["since"] = since
        if before is not None:
            where.append("at < :before")
            params["before"] = before
        if subject is not None:  # a cheap filter first, the exact one below
            where.append(
                "subjects LIKE :like" if self.dialect == "sqlite" else "subjects::text LIKE :like"
            )
            params["like"] = "%" + json.dumps(subject)[1:-1].replace("%", "").replace("_", "") + "%"
        sql = "SELECT * FROM access_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        found = []
        for row in self.query(sql + " ORDER BY id", params):
            entry = AccessEntry(
                id=int(row["id"]),
                at=to_datetime(row["at"]),  # type: ignore[arg-type]
                actor=row["actor"],
                operation=row["operation"],
                what=row["what"],
                purpose=row["purpose"],
                subjects=list(_to_json(row["subjects"]) or []),
                recipients=list(_to_json(row["recipients"]) or []),
                detail=dict(_to_json(row["detail"]) or {}),
            )
            if subject is None or subject in entry.subjects:
                found.append(entry)
        return found

    def log_access(self, at: dt.datetime, actor: str, entries: Sequence[Mapping[str, Any]]) -> None:
        """Insert access-log rows (operation, what, purpose, subjects, recipients, detail);
        ``seal`` chains them."""
        if not entries:
            return
        cast = "%s" if self.dialect == "sqlite" else "CAST(%s AS JSON)"
        values = ", ".join(
            [":at", ":actor", ":operation", ":what", ":purpose"]
            + [cast % f":{name}" for name in ("subjects", "recipients", "detail")]
        )
        self.execute_many(
            "INSERT INTO access_log (at, actor, operation, what, purpose, subjects, recipients, "
            f"detail) VALUES ({values})",
            [
                {
                    "at": at,
                    "actor": actor,
                    "operation": e["operation"],
                    "what": e["what"],
                    "purpose": e["purpose"],
                    "subjects": json.dumps(list(e.get("subjects", ()))),
                    "recipients": json.dumps(list(e.get("recipients", ()))),
                    "detail": json.dumps(dict(e.get("detail", {})), sort_keys=True, default=str),
                }
                for e in entries
            ],
        )

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement for many rows (the short writes of a read, the chain's seals)."""
        if not rows:
            return
        if self._before is not None:
            self._before()
        text, _ = self._sql(sql, rows[0])
        cursor = self.conn.cursor()
        try:
            cursor.executemany(text, [self._sql(sql, row)[1] for row in rows])
        finally:
            cursor.close()

    def purged_through(self, table: str) -> list[int]:
        """The last chain place each retention purge of ``table``'s rows removed, as the
        change audit recorded it (``Store.prune_access_log``)."""
        found = []
        for row in self.query(
            "SELECT after FROM audit_log WHERE action = 'retention.log' AND entity = :table",
            {"table": table},
        ):
            after = _to_json(row["after"])
            through = after.get("through") if isinstance(after, dict) else None
            if through is not None and str(through).isdigit():
                found.append(int(through))
        return found

    def mark_chain_start(self, tables: Sequence[str] = ("audit_log", "access_log")) -> None:
        """Note the rows of each chained table already unsealed as the transaction begins
        (none, unless something outside spo put them there): ``seal`` leaves them alone
        (see ``chain.seal``). ``tables``: those the transaction will seal."""
        for table in tables:
            self._chain_start[table] = frozenset(
                int(r["id"]) for r in self.query(f"SELECT id FROM {table} WHERE seq IS NULL")
            )

    def seal(self, table: str) -> int:
        """Chain this transaction's new rows of ``table`` (see ``chain``)."""
        from . import chain

        return chain.seal(
            table,
            self.dialect,
            self._rows,
            self.execute_many,
            foreign=self._chain_start.get(table, frozenset()),
        )

    def chain(self, table: str) -> Iterator[ChainRow]:
        from . import chain

        return chain.load(table, self._rows)

    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return list(self.query(sql, params))

    def audit_images(self, at: dt.datetime) -> Iterator[tuple[str, int | None, Any]]:
        """(table, row id, image after the change) of every audited write up to ``at``."""
        for row in self.query(
            "SELECT entity, entity_id, after FROM audit_log WHERE at <= :at ORDER BY id",
            {"at": at},
        ):
            yield row["entity"], row["entity_id"], _to_json(row["after"])

    # ------------------------------------------------------------------ the service

    def service_state(self, name: str) -> str | None:
        value = self.value("SELECT value FROM service_state WHERE name = :name", {"name": name})
        return None if value is None else str(value)

    def outbox_counts(self) -> dict[str, int]:
        found = {
            str(r["state"]): int(r["n"])
            for r in self.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        }
        states = ("pending", "failed", "sent", "dead", "uncertain", "dropped")
        return {state: found.get(state, 0) for state in states}

    def outbox(
        self, *, states: Sequence[str] | None = None, limit: int = 500, kind_not: str | None = None
    ) -> list[OutboxEntry]:
        """Messages, newest first."""
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if states is not None:
            where.append("state IN (:states)")
            params["states"] = list(states)
        if kind_not is not None:
            where.append("kind <> :kind_not")
            params["kind_not"] = kind_not
        sql = "SELECT * FROM outbox" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.query(sql + " ORDER BY id DESC LIMIT :limit", params)
        return [view_row(OutboxEntry, r) for r in rows]

    def dead_messages(
        self, include_watchdog: bool = False, state: str = "dead"
    ) -> list[OutboxEntry]:
        """Undeliverable emails (other than the watchdog's own alerts), oldest first; with
        ``state="uncertain"``, those refused for good after an interrupted attempt (which may
        have delivered them)."""
        found = self.outbox(
            states=[state], limit=100_000, kind_not=None if include_watchdog else "watchdog"
        )
        return sorted(found, key=lambda r: r.id)

    def oldest_failing(self) -> OutboxEntry | None:
        row = self.one(
            "SELECT * FROM outbox WHERE state = 'failed' ORDER BY created_at, id LIMIT 1"
        )
        return None if row is None else view_row(OutboxEntry, row)

    def told(self, action_ids: Iterable[str]) -> dict[str, list[str]]:
        """Who has been sent a message about each action so far, in the order they were."""
        found: dict[str, list[str]] = defaultdict(list)
        for chunk in chunks(sorted(set(action_ids))):
            for row in self.query(
                "SELECT action_id, recipient FROM outbox WHERE action_id IN (:ids) "
                "AND state = 'sent' ORDER BY id",
                {"ids": chunk},
            ):
                if row["recipient"] not in found[row["action_id"]]:
                    found[row["action_id"]].append(row["recipient"])
        return found

    def stage_keys(self, action_ids: Iterable[str]) -> dict[str, list[str]]:
        """The keys of the reminders and escalations queued about each action (dropped ones
        aside: they never left, being no longer true)."""
        found: dict[str, list[str]] = defaultdict(list)
        for chunk in chunks(sorted(set(action_ids))):
            for row in self.query(
                "SELECT action_id, dedupe_key FROM outbox WHERE action_id IN (:ids) "
                "AND kind IN ('reminder', 'escalation') AND state <> 'dropped'",
                {"ids": chunk},
            ):
                found[row["action_id"]].append(row["dedupe_key"])
        return found

    def outbox_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys are already queued."""
        found: set[str] = set()
        for chunk in chunks(sorted(set(keys))):
            found |= {
                r["dedupe_key"]
                for r in self.query(
                    "SELECT dedupe_key FROM outbox WHERE dedupe_key IN (:keys)", {"keys": chunk}
                )
            }
        return found

    # ------------------------------------------------------------------ calendar feeds

    def tokens(self, *, include_revoked: bool = True) -> list[TokenEntry]:
        sql = "SELECT * FROM feed_token"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        return [view_row(TokenEntry, r) for r in self.query(sql + " ORDER BY id")]


_DATED = {
    table
    for table, cls in [*SUBJECT_CHILDREN.values(), *ORDER_CHILDREN.values()]
    if any(f.name == "date" for f in dataclasses.fields(cls))
} | {"flag_review"}


# An audited row's columns that hold an officer's row id, as the officer they name; and the
# parent keys an entry's reference already names.
_AUDIT_OFFICERS = {column: field for field, column in OFFICER_FIELDS.items()} | {
    "supervisor_id": "supervisor"
}
_AUDIT_PARENTS = frozenset({"subject_id", "order_id", "flag_id"})


def _readable(image: dict[str, Any] | None, emails: Mapping[int, str]) -> dict[str, Any] | None:
    if not isinstance(image, dict):
        return image
    shown: dict[str, Any] = {}
    for key, value in image.items():
        if key in _AUDIT_PARENTS:
            continue
        if key in _AUDIT_OFFICERS:
            # an officer since removed keeps their row id, marked as such
            shown[_AUDIT_OFFICERS[key]] = (
                None if value is None else emails.get(value, f"officer #{value}")
            )
        else:
            shown[key] = value
    return shown


# ------------------------------------------------------------------------------ connections


def connect(url: str) -> Any:
    """A DB-API connection for reading (and the short write of a read: its access log), with no
    transaction open: ``reading`` opens one. A missing database is a one-line error."""
    if backend(url) == "sqlite":
        import sqlite3

        path = sqlite_file(url)
        if path is None or not path.exists():
            raise DatabaseNotReady(f"no database at {path}: run `spo init` first")
        try:
            conn = sqlite3.connect(
                f"file:{path}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            # a read writes its access-log row: as durable as any write (db.py), no more
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise DatabaseNotReady(f"cannot open {path}: {exc}") from None
        return conn
    try:
        import psycopg2
    except ImportError:
        raise DatabaseNotReady(
            "PostgreSQL needs the psycopg2 driver: pip install 'spo-tracker[postgres]'"
        ) from None
    try:
        return psycopg2.connect(libpq_url(url))
    except psycopg2.Error as exc:
        raise cannot_connect(url, exc) from None


def cannot_connect(url: str, exc: BaseException) -> DatabaseNotReady:
    """A database that is missing or cannot be reached: one line, exit 2, on every path (a
    read's DB-API connection and the write side's engine alike)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return DatabaseNotReady(f"cannot connect to {describe(url)}: {first}")


def begin(conn: Any, dialect: str) -> None:
    """Start the read's transaction: one snapshot for every query of a command."""
    if dialect == "sqlite":
        conn.execute("BEGIN")


def log_and_seal(reader: Reader, at: dt.datetime, actor: str) -> None:
    """Write what a read showed to the access log, chained, in a short write transaction of
    its own after the read's (SQLite: BEGIN IMMEDIATE, so no other writer comes between the
    chain's last row and this one)."""
    if not reader.accesses:
        return
    conn, dialect = reader.conn, reader.dialect
    if dialect == "sqlite":
        import sqlite3

        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # busy past the timeout: a long write
            raise DatabaseNotReady(
                f"the database is busy ({exc}): another command has been writing for over "
                f"{BUSY_TIMEOUT_MS // 1000} s (an import or a full recompute), and a read "
                "is logged before it counts as done: try again when that has finished"
            ) from None
    try:
        reader.mark_chain_start(["access_log"])
        reader.log_access(at, actor, reader.accesses)
        reader.seal("access_log")
    except BaseException:
        conn.rollback() if dialect != "sqlite" else conn.execute("ROLLBACK")
        raise
    conn.commit() if dialect != "sqlite" else conn.execute("COMMIT")
    reader.accesses = []


def end(conn: Any, dialect: str, *, commit: bool) -> None:
    try:
        if dialect == "sqlite" and not conn.in_transaction:
            pass  # already ended (the access log's write failed after the read committed)
        elif commit:
            conn.commit() if dialect != "sqlite" else conn.execute("COMMIT")
        else:
            conn.rollback() if dialect != "sqlite" else conn.execute("ROLLBACK")
    finally:
        conn.close()
