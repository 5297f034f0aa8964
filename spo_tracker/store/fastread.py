"""Read-only queries for ``spo due`` on SQLite through the standard library alone.

An officer runs ``spo due`` many times a day; importing SQLAlchemy, SQLModel and the CLI
framework costs far more than the query. This adapter answers the same question as
``Store.query_actions`` with plain SQL on a read-only connection; a test keeps the two views
identical.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

DATE_COLUMNS = (
    "trigger_date",
    "window_opens",
    "due",
    "completed",
    "cancelled_on",
    "lapses_on",
    "soon_from",
)


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)
    conn.row_factory = sqlite3.Row
    return conn


def schema_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def officer(conn: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT o.email, o.role, o.team, o.active, s.email AS supervisor FROM officer o "
        "LEFT JOIN officer s ON s.id = o.supervisor_id WHERE o.email = ?",
        (email,),
    ).fetchone()
    return dict(row) if row else None


def supervisees(conn: sqlite3.Connection, email: str) -> set[str]:
    rows = conn.execute(
        "SELECT o.email FROM officer o JOIN officer s ON s.id = o.supervisor_id WHERE s.email = ?",
        (email,),
    )
    return {r[0] for r in rows}


def team(conn: sqlite3.Connection, name: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT email FROM officer WHERE team = ?", (name,))}


def last_policy_digest(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT digest FROM policy_log ORDER BY id DESC LIMIT 1").fetchone()
    return str(row[0]) if row else None


def actions(
    conn: sqlite3.Connection,
    *,
    officers: Iterable[str] | None,
    subject: str | None,
    rule: str | None,
    due_by: dt.date | None,
    open_on: dt.date | None,
    live_on: dt.date | None = None,
) -> Iterator[dict[str, Any]]:
    """The same selection as ``Store.query_actions`` (without ``due_from``), in ``spo due``'s
    order, one row at a time (a national ``--all --json`` need not hold every row at once).
    ``live_on`` also leaves out, in SQL, what ``Action.status`` would not show as live on that
    day: actions not triggered yet, and those lapsed with their order."""
    where: list[str] = []
    params: list[Any] = []
    if live_on is not None:
        where.append("trigger_date <= ? AND (lapses_on IS NULL OR lapses_on > ?)")
        params += [live_on.isoformat(), live_on.isoformat()]
    if officers is not None:
        emails = sorted(officers)
        where.append(f"officer IN ({', '.join('?' * len(emails)) or 'NULL'})")
        params += emails
    if subject is not None:
        where.append("subject_ref = ?")
        params.append(subject)
    if rule is not None:
        where.append("rule = ?")
        params.append(rule)
    if due_by is not None:
        # with open_on set, "due <= due_by OR due < open_on" is just this: open_on <= due_by
        where.append("due <= ?")
        params.append(due_by.isoformat())
    sql = "SELECT * FROM action WHERE " + " AND ".join(where or ["1"])
    if open_on is not None:
        # open actions through the (state, officer, due) index; the rare ones closed after
        # the day asked about (a replay of an earlier date) through a second, small query
        day = open_on.isoformat()
        sql = (
            f"{sql} AND state = 'open' UNION ALL "
            f"{sql} AND state != 'open' AND id IN ("
            "SELECT id FROM action WHERE completed > ? "
            "UNION SELECT id FROM action WHERE cancelled_on > ?)"
        )
        params = [*params, *params, day, day]
    # the order ``spo due`` lists (deadlines.due_order): dates are ISO text and references
    # ASCII, so SQLite's byte order is Python's
    query = f"SELECT * FROM ({sql}) ORDER BY due, rule, subject_ref, id"
    for row in conn.execute(query, params):
        values = dict(row)
        for column in DATE_COLUMNS:
            if values[column] is not None:
                values[column] = dt.date.fromisoformat(values[column])
        values["explanation"] = json.loads(values["explanation"] or "{}")
        yield values
