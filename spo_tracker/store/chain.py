"""The hash chain of the change audit and the access log, in SQL (the rules of the chain
are in ``core/accountability.py``).

A transaction's rows are inserted without a place in the chain; ``seal`` gives them one as
the transaction ends, under a lock (PostgreSQL: an advisory lock per table; SQLite: the
write lock the transaction already holds), so writers on several hosts chain one after
another, in the order they commit. ``load`` reads a chain back for ``spo audit verify``.

Both work on any connection through two callables, so a SQLAlchemy session and the read
model's DB-API connection seal the same way: ``select(sql, params) -> rows as dicts`` and
``update(sql, rows)`` (an executemany).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..core.accountability import (
    ANCHOR,
    GENESIS,
    ChainRow,
    canonical,
    content_digest,
    json_text,
    link,
    parse_anchor,
    timestamp,
)

Select = Callable[[str, Mapping[str, Any]], list[dict[str, Any]]]
Update = Callable[[str, Sequence[Mapping[str, Any]]], None]

# the fields each table's hash covers, in order (the audit's content by its digest)
FIELDS: dict[str, tuple[str, ...]] = {
    "audit_log": ("id", "at", "actor", "action", "entity", "entity_id", "subject_ref", "ref"),
    "access_log": (
        "id",
        "at",
        "actor",
        "operation",
        "what",
        "purpose",
        "subjects",
        "recipients",
        "detail",
    ),
}
_JSON = {"subjects", "recipients", "detail"}
BATCH = 2000


def lock_key(table: str) -> int:
    digest = hashlib.sha256(f"spo-tracker chain {table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _fields(table: str, row: Mapping[str, Any], digest: str | None) -> tuple[Any, ...]:
    values: list[Any] = []
    for name in FIELDS[table]:
        value = row[name]
        if name == "at":
            value = timestamp(value)
        elif name in _JSON:
            value = json_text(value)
        else:
            value = canonical(value)
        values.append(value)
    if table == "audit_log":
        values.append(digest)
    return tuple(values)


def _columns(table: str) -> str:
    extra = ", before, after, digest" if table == "audit_log" else ""
    return ", ".join(FIELDS[table]) + extra + ", seq, hash"


def seal(
    table: str,
    dialect: str,
    select: Select,
    update: Update,
    *,
    foreign: frozenset[int] = frozenset(),
) -> int:
    """Give this transaction's unsealed rows of ``table`` their place and hash; returns how
    many. Call last in the transaction. ``foreign``: the rows already unsealed when the
    transaction began, which it did not write: a row put in outside spo stays unsealed, for
    ``spo audit verify`` to name, rather than taking a place in the chain from the next
    command. A chain not begun yet (no sealed row, no anchor) takes every unsealed row: the
    entries from before the upgrade that added the chain."""
    if dialect == "postgresql":
        select("SELECT pg_advisory_xact_lock(:key) AS locked", {"key": lock_key(table)})
    last = select(
        f"SELECT seq, hash FROM {table} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1", {}
    )
    if last:
        seq, previous = int(last[0]["seq"]), str(last[0]["hash"])
    else:  # a new chain, or one whose start a retention purge removed
        kept = select(
            "SELECT value FROM service_state WHERE name = :name", {"name": ANCHOR + table}
        )
        anchor = parse_anchor(kept[0]["value"] if kept else None)
        if anchor is None:
            foreign = frozenset()  # a new chain: the backlog from before it is sealed first
        seq, previous = anchor or (0, GENESIS)
    sealed, after_id = 0, 0
    while True:
        rows = select(
            f"SELECT {_columns(table)} FROM {table} WHERE seq IS NULL AND id > :after "
            f"ORDER BY id LIMIT {BATCH}",
            {"after": after_id},
        )
        if not rows:
            return sealed
        changes = []
        for row in rows:
            after_id = int(row["id"])
            if after_id in foreign:
                continue
            digest = content_digest(row["before"], row["after"]) if table == "audit_log" else None
            seq += 1
            previous = link(previous, (seq, *_fields(table, row, digest)))
            change = {"row_id": row["id"], "seq": seq, "hash": previous}
            if table == "audit_log":
                change["digest"] = digest
            changes.append(change)
        extra = ", digest = :digest" if table == "audit_log" else ""
        if changes:
            update(
                f"UPDATE {table} SET seq = :seq, hash = :hash{extra} WHERE id = :row_id", changes
            )
        sealed += len(changes)


def load(table: str, select: Select) -> Iterator[ChainRow]:
    """A chain as stored: sealed rows in ``seq`` order, then any unsealed ones."""
    purged: set[str] = set()
    if table == "audit_log":
        purged = {
            str(r["ref"])
            for r in select(
                "SELECT ref FROM audit_log WHERE action = 'retention.purge' AND ref IS NOT NULL",
                {},
            )
        }
    for sealed in (True, False):
        after: tuple[int, int] = (0, 0)
        while True:
            if sealed:
                where, order, key = "seq IS NOT NULL AND seq > :after", "seq", "seq"
            else:
                where, order, key = "seq IS NULL AND id > :after", "id", "id"
            rows = select(
                f"SELECT {_columns(table)} FROM {table} WHERE {where} ORDER BY {order} "
                f"LIMIT {BATCH}",
                {"after": after[0]},
            )
            if not rows:
                break
            for row in rows:
                digest = row.get("digest")
                content = None
                if table == "audit_log":
                    content = content_digest(row["before"], row["after"])
                yield ChainRow(
                    id=int(row["id"]),
                    seq=None if row["seq"] is None else int(row["seq"]),
                    hash=row["hash"],
                    fields=(row["seq"], *_fields(table, row, digest)),
                    digest=digest,
                    content=content,
                    erased_by=row.get("subject_ref") in purged,
                )
            after = (int(rows[-1][key]), 0)
