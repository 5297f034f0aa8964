"""The quick road for ``spo due`` on SQLite: no Typer, no SQLAlchemy.

It handles the common, well-formed invocations and gives up (returns None) on anything else —
another database engine, ``--known-at``, ``--help``, an option it does not know, a value it
cannot parse, a missing or outdated database, a user who is not an officer — so that the full
command produces exactly the same output or the same one-line error. ``SPO_NO_FAST_PATH=1``
turns it off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..rules import Action, Status

OPTIONS = {
    "--officer": str,
    "--team": str,
    "--subject": str,
    "--rule": str,
    "--within": int,
    "--as-of": str,
    "--db": str,
    "--as": str,
    "--policy": str,
    "--config": str,
}
FLAGS = ("--overdue", "--all", "--include-done", "--json")


class _GiveUp(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _GiveUp(message)


def _parse(args: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(add_help=False, allow_abbrev=False)
    for option, kind in OPTIONS.items():
        parser.add_argument(option, type=kind)
    for flag in FLAGS:
        parser.add_argument(flag, action="store_true")
    return parser.parse_args(list(args))


def try_due(args: Sequence[str]) -> int | None:
    """Run ``spo due`` quickly if possible; None means "use the full command"."""
    if os.environ.get("SPO_NO_FAST_PATH") == "1":
        return None
    rest = [a for a in args if a != "due"]
    if len(rest) != len(args) - 1 or "--known-at" in rest or "--help" in rest:
        return None
    try:
        return _due(_parse(rest))
    except (_GiveUp, ValueError, OSError, KeyError):
        return None


def _due(ns: argparse.Namespace) -> int | None:
    from ..dates import parse_date
    from ..errors import SpoError
    from ..policy import RULE_IDS
    from ..store import fastread
    from ..store.schema import SCHEMA_HEAD

    if sum(x is not None for x in (ns.officer, ns.team)) + ns.all > 1:
        return None
    if ns.rule is not None and ns.rule not in RULE_IDS:
        return None
    if ns.within is not None and ns.within < 0:
        return None
    path = _sqlite_path(ns.db)
    if path is None or not os.path.exists(path):
        return None
    try:
        as_of = parse_date(ns.as_of, "--as-of") if ns.as_of is not None else _today()
    except SpoError:
        return None
    within = 14 if ns.within is None else ns.within
    try:
        conn = fastread.connect(path)
    except sqlite3.Error:
        return None
    try:
        if fastread.schema_revision(conn) != SCHEMA_HEAD:
            return None
        officers = _scope(conn, ns)
        if officers is False:
            return None
        digest = fastread.last_policy_digest(conn)
        include = ns.include_done
        rows = fastread.actions(
            conn,
            officers=officers if isinstance(officers, set) else None,
            subject=ns.subject,
            rule=ns.rule,
            due_by=None if include else as_of + dt.timedelta(days=within),
            open_on=None if include else as_of,
            live_on=None if include else as_of,
        )
        # Rows arrive in ``spo due``'s order (deadlines.due_order) and go out one at a time:
        # a national ``--all --json`` never holds every action in memory. The first row is
        # read before anything is printed, so a database error can still give up cleanly.
        first = next(rows, None)
    except sqlite3.Error:
        conn.close()
        return None
    try:
        pairs = _live(itertools.chain([first] if first else [], rows), as_of, ns, include)
        _warn_if_policy_changed(digest, ns.policy)
        _show(ns, pairs, as_of, within)
    finally:
        conn.close()
    return 0


def _live(
    rows: Iterable[dict[str, Any]], as_of: dt.date, ns: argparse.Namespace, include: bool
) -> Iterator[tuple[Action, Status]]:
    from ..rules import Action, Status

    for row in rows:
        action = Action.from_stored(row)
        status = action.status(as_of)
        if status is None:
            continue
        if not include and status in (Status.DONE, Status.CANCELLED):
            continue
        if ns.overdue and status is not Status.OVERDUE:
            continue
        yield action, status


def _sqlite_path(db: str | None) -> str | None:
    value = db or os.environ.get("SPO_DB")
    if value is None:
        from ..store.schema import default_db_path

        return str(default_db_path())
    if "://" in value:
        prefix = "sqlite:///"
        return value[len(prefix) :] if value.startswith(prefix) else None
    return os.path.abspath(os.path.expanduser(value))


def _today() -> dt.date:
    from ..bootstrap import local_today
    from ..clock import SystemClock

    return local_today(SystemClock())


def _scope(conn: sqlite3.Connection, ns: argparse.Namespace) -> set[str] | bool | None:
    """The officers whose actions to show; None for everyone; False to give up."""
    from ..store import fastread

    if ns.officer is not None:
        email = ns.officer.lower()
        return {email} if fastread.officer(conn, email) else False
    if ns.team is not None:
        members = fastread.team(conn, ns.team)
        return members or False
    if ns.all or ns.subject is not None:
        return None
    from ..bootstrap import acting_user

    actor = acting_user(ns.__dict__["as"]).lower()
    me = fastread.officer(conn, actor)
    if me is None:
        return False
    if me["role"] == "scu":
        return None
    mine = {me["email"]}
    if me["role"] == "supervisor":
        mine |= fastread.supervisees(conn, me["email"])
    return mine


def _warn_if_policy_changed(digest: str | None, option: str | None) -> None:
    if digest is None:
        return
    from ..bootstrap import policy_digest

    if policy_digest(option) != digest:
        sys.stderr.write(
            "warning: the policy has changed since deadlines were last computed: "
            "run `spo recompute --all`\n"
        )


def _show(
    ns: argparse.Namespace, pairs: Iterator[tuple[Action, Status]], as_of: dt.date, within: int
) -> None:
    from .views import action_json, print_actions, write_json_stream

    if ns.json:
        head = {"schema_version": 1, "as_of": as_of.isoformat(), "known_at": None}
        write_json_stream(head, "actions", (action_json(a, s, as_of) for a, s in pairs))
        return
    from ..bootstrap import acting_user

    who = (
        ns.officer
        or (f"team {ns.team}" if ns.team else None)
        or (ns.subject and f"subject {ns.subject}")
        or ("everyone" if ns.all else acting_user(ns.__dict__["as"]))
    )
    what = "overdue" if ns.overdue else f"overdue and due within {within} days"
    print_actions(list(pairs), as_of, f"Due for {who} as of {as_of} ({what})")
