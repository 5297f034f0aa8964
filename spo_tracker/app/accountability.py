"""Who saw, changed and sent what (Data Protection Act 2018 Part 3, s62): the purpose of
each operation, the access log and its queries, the hash chain's check, the acting user and
what they may see.

Every read that shows a subject's personal data or actions notes a *consultation*
(``consulted``), written when the read ends, before anything is printed; every write is
logged as collection, alteration, combination or erasure by the store as its transaction
ends; emails, feeds, exports and files written note a *disclosure*.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import record as d
from ..core.accountability import (
    ACCOUNTABILITY,
    ANCHOR,
    CASE_MANAGEMENT,
    OPERATIONS,
    Access,
    Break,
    check_purpose,
    parse_anchor,
    unexplained_start,
    verify,
)
from ..core.errors import InvalidInput, NotPermitted
from ..core.text import quote
from . import Context

if TYPE_CHECKING:
    from ..store.read import AccessEntry, Reader
    from ..store.repo import Store

__all__ = ["OPERATIONS", "Access", "Break"]

# the access log's own tables: what ``spo audit verify`` checks
CHAINS = ("audit_log", "access_log")
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}
MAX_ACTOR = 254  # an email address at most


def purpose(text: str) -> str:
    """``--purpose``, checked: one line of plain text."""
    try:
        return check_purpose(text)
    except ValueError as exc:
        raise InvalidInput(f"{exc}", field="--purpose") from None


def consulted(
    ctx: Context,
    reader: Reader,
    what: str,
    subjects: Iterable[str],
    *,
    default: str,
    whole_caseload: bool = False,
    operation: str = "consultation",
    recipients: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """Note that this read showed ``subjects`` (written to the access log as it ends).
    ``whole_caseload``: a read of everyone's data, which ``require_purpose`` makes name its
    purpose."""
    given = getattr(ctx, "purpose", None)
    if given is None and whole_caseload and ctx.settings.require_purpose:
        raise InvalidInput(
            f"{what} reads the whole caseload: give --purpose TEXT (require_purpose is on)",
            field="--purpose",
        )
    reader.accesses.append(
        {
            "operation": operation,
            "what": what,
            "purpose": given or default,
            "subjects": sorted(set(subjects)),
            "recipients": sorted(set(recipients)),
            "detail": detail or {},
        }
    )


def disclosed(
    ctx: Context,
    store: Store,
    what: str,
    subjects: Iterable[str],
    *,
    default: str,
    recipients: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
    whole_caseload: bool = False,
) -> None:
    """Note, in a write, that data left: an email, a feed, a file."""
    given = getattr(ctx, "purpose", None)
    if given is None and whole_caseload and ctx.settings.require_purpose:
        raise InvalidInput(
            f"{what} discloses the whole caseload: give --purpose TEXT (require_purpose is on)",
            field="--purpose",
        )
    store.note_access(
        Access(
            "disclosure",
            what,
            subjects=sorted(set(subjects)),
            recipients=sorted(set(recipients)),
            detail=detail or {},
            purpose=given or default,
        )
    )


# ------------------------------------------------------------------------------ the log


def access_log(
    ctx: Context,
    *,
    subject: str | None = None,
    actor: str | None = None,
    operation: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[AccessEntry]:
    """``spo audit access``: who did what to whose data, oldest first. Reading the log is a
    consultation too (of the subjects it names)."""
    if operation is not None and operation not in OPERATIONS:
        raise InvalidInput(
            f"unknown operation {quote(operation)} (one of {', '.join(OPERATIONS)})",
            field="--operation",
        )
    if date_from and date_to and date_to < date_from:
        raise InvalidInput(f"{date_to} is before --from {date_from}", field="--to")
    since = start_of(date_from, ctx.timezone) if date_from else None
    before = start_of(date_to + dt.timedelta(days=1), ctx.timezone) if date_to else None
    with ctx.reading() as reader:
        require_scu(ctx, reader, "read the access log")
        found = reader.access_log(
            subject=subject,
            actor=actor.lower() if actor else None,
            operation=operation,
            since=since,
            before=before,
        )
        named = {ref for entry in found for ref in entry.subjects}
        consulted(ctx, reader, "spo audit access", named, default=ACCOUNTABILITY)
    return found


def require_scu(ctx: Context, reader: Reader, what: str, ref: str | None = None) -> None:
    """Only the SCU (or the service account, or access control off) may do ``what``: the
    change audit, the access log, exports, the outbox. Refused with exit 4, audited."""
    if not visibility(ctx, reader).everyone:
        raise denied(
            ctx,
            NotPermitted(
                f"not permitted: {ctx.actor} may not {what} (the SCU)", what=what, ref=ref
            ),
        )


def start_of(day: dt.date, timezone: str) -> dt.datetime:
    """Midnight at the start of ``day`` in the force's time zone, in UTC."""
    from zoneinfo import ZoneInfo

    local = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def verify_chains(ctx: Context) -> list[Break]:
    """``spo audit verify``: the first break in each chain (none: whole)."""
    with ctx.reading() as reader:
        require_scu(ctx, reader, "verify the audit")
        found = []
        for table in CHAINS:
            anchor = parse_anchor(reader.service_state(ANCHOR + table))
            found.append(
                unexplained_start(table, anchor, reader.purged_through(table))
                or verify(table, reader.chain(table), anchor)
            )
    return [b for b in found if b is not None]


# ------------------------------------------------------------------------------ who acts


def check_actor(ctx: Context, reader: Reader, *, bootstrap: bool = False) -> d.Officer | None:
    """The acting user (``--as``/``SPO_USER``) is an active officer's email or the service
    account; while no officer exists, the commands that start a database (``bootstrap``)
    are open to anyone. Returns the officer (None: the service account, or bootstrapping).
    Control characters are refused whatever the settings."""
    actor = ctx.actor
    if not actor or any(c in _CONTROL for c in actor) or len(actor) > MAX_ACTOR:
        shown = "".join(c if c not in _CONTROL else f"\\x{ord(c):02x}" for c in actor[:60])
        raise InvalidInput(
            f"'{shown}' is not an acting user: an officer's email, one line, at most "
            f"{MAX_ACTOR} characters",
            field="--as",
        )
    if not ctx.settings.access_control:
        return reader.officer(actor.lower())
    if actor == ctx.settings.service_account:
        return None
    me = reader.officer(actor.lower())
    if me is not None and me.active:
        return me
    if bootstrap and not reader.any_officer():
        return None
    if me is not None:
        raise InvalidInput(f"{actor} is no longer an active officer", field="--as")
    raise InvalidInput(
        f"{quote(actor)} is not an active officer's email (--as / SPO_USER) nor the "
        "service account",
        field="--as",
    )


@dataclass(frozen=True)
class Visibility:
    """Whose subjects the acting user may see and change: everyone's (the SCU, the service,
    access control off), or those of ``officers`` (their team) and unallocated ones."""

    everyone: bool
    officers: frozenset[str] = frozenset()
    who: str = ""

    def allows(self, subject: d.Subject) -> bool:
        if self.everyone:
            return True
        manager = subject.current_officer()
        return manager is None or manager in self.officers


def visibility(ctx: Context, reader: Reader, *, bootstrap: bool = False) -> Visibility:
    me = check_actor(ctx, reader, bootstrap=bootstrap)
    if not ctx.settings.access_control or me is None or me.role is d.Role.SCU:
        return Visibility(True, who=ctx.actor)
    return Visibility(False, reader.colleagues(me), who=ctx.actor)


def require_visible(seen: Visibility, subject: d.Subject, what: str) -> None:
    """Refuse (exit 4) a subject outside the acting user's team; ``writing`` audits it."""
    if seen.allows(subject):
        return
    raise NotPermitted(
        f"not permitted: {seen.who} may not {what} {subject.reference}, who is not their "
        "team's (their team's subjects, unallocated ones, or the SCU)",
        what=what,
        ref=subject.reference,
    )


def consult_subject(
    ctx: Context, reader: Reader, subject: d.Subject, what: str, *, default: str = CASE_MANAGEMENT
) -> None:
    """One subject shown: the acting user must see their team's (else refused, exit 4, and
    the refusal audited), and the access log keeps that they consulted it."""
    seen = visibility(ctx, reader)
    if not seen.allows(subject):
        try:
            require_visible(seen, subject, "see")
        except NotPermitted as exc:
            raise denied(ctx, exc) from None
    consulted(ctx, reader, what, [subject.reference], default=default)


def denied(ctx: Context, exc: NotPermitted) -> NotPermitted:
    """``refused``, then the refusal to raise."""
    refused(ctx, exc)
    return exc


def refused(
    ctx: Context, exc: NotPermitted, *, actor: str | None = None, now: dt.datetime | None = None
) -> None:
    """Keep a refusal in the change audit, in a transaction of its own (the refused work, if
    any, rolled back)."""
    with ctx.unit_of_work(actor=actor, now=now) as store:
        store.audit(
            "refused",
            None,
            subject_ref=None,
            ref=exc.ref,
            entity="permission",
            after={"what": exc.what, "reason": exc.message},
        )
