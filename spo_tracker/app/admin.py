"""Keeping the record safe: the schema, roles for sensitive actions, backups, retention and
health checks."""

from __future__ import annotations

import datetime as dt
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import record as d
from ..core.accountability import ADMINISTRATION
from ..core.errors import DatabaseNotReady, InvalidInput, NotPermitted
from ..core.health import Finding, record_findings
from ..core.retention import Expired, expired
from ..store import files
from ..store.schema import SCHEMA_HEAD, describe, sqlite_file
from . import Context

if TYPE_CHECKING:
    from ..store.read import StoredFact
    from ..store.repo import Store

__all__ = ["SCHEMA_HEAD", "Expired", "Finding"]

SENSITIVE = {
    "override": "override or waive actions",
    "discharge": "record the discharge of an order",
    "purge": "purge records",
    "correct": "correct another officer's record",
    "void": "void another officer's record",
}


# ------------------------------------------------------------------------------ the schema


@dataclass(frozen=True)
class Upgraded:
    database: str  # described, without a password
    before: str | None
    after: str | None


def upgrade(ctx: Context, *, create: bool) -> Upgraded:
    """``spo init`` (``create``: a new SQLite file may be made) and ``spo db upgrade``."""
    from ..store.db import upgrade as run_migrations

    db = sqlite_file(ctx.url)
    if db is not None and db.is_file() and not files.is_sqlite(db):
        # what spo would otherwise meet as a driver error (exit 1) half-way into the upgrade
        raise DatabaseNotReady(f"cannot open {db}: file is not a database")
    before, after = run_migrations(ctx.engine(create=create))
    with ctx.unit_of_work() as store:  # entries from before the hash chain get their place
        store.default_purpose = ADMINISTRATION
    return Upgraded(describe(ctx.url), before, after)


def current(ctx: Context) -> tuple[str, str | None]:
    """The database in use (described) and its schema revision."""
    with ctx.reading(check_schema=False) as reader:
        return describe(ctx.url), reader.schema_revision()


# ------------------------------------------------------------------------------ roles


def require_role(
    ctx: Context, store: Store, what: str, *, subject_ref: str | None = None, ref: str | None = None
) -> None:
    """With ``restrict_sensitive`` on (the default), only the SCU, or a supervisor of the
    subject's team (its offender manager's supervisor, or one of the same team), may do
    ``what``; the acting user (``--as``/``SPO_USER``) must be their email. A refusal is
    audited (``writing``). Real authentication belongs to the host (OS accounts, database
    roles)."""
    if not ctx.settings.restrict_sensitive:
        return
    me = store.read.officer(store.actor.lower())
    target = ref or subject_ref
    if me is not None and me.active and me.role is d.Role.SCU:
        return
    if me is not None and me.active and me.role is d.Role.SUPERVISOR:
        if subject_ref is None or _supervises(store, me, subject_ref):
            return
        raise NotPermitted(
            f"not permitted: {store.actor} may not {SENSITIVE[what]} for {subject_ref}, who is "
            "not their team's (a supervisor of the subject's team, or the SCU)",
            what=what,
            ref=target,
        )
    raise NotPermitted(
        f"not permitted: {store.actor} may not {SENSITIVE[what]} (a supervisor of the "
        "subject's team, or the SCU)",
        what=what,
        ref=target,
    )


def require_officer_admin(ctx: Context, store: Store, officer: d.Officer, verb: str) -> None:
    """Adding or deactivating an officer (with ``access_control`` and ``restrict_sensitive``,
    both on by default): the SCU, for anyone;
    a supervisor, for an offender manager or supervisor of their own team (or one they
    supervise); nobody else. Before any officer exists, anyone starts the database. An
    offender manager who could make an SCU account could do everything the roles keep from
    them. A refusal is audited (``writing``)."""
    settings = ctx.settings
    if (
        not (settings.access_control and settings.restrict_sensitive)
        or not store.read.any_officer()
    ):
        return  # a one-person install (either check off), or the database's first officer
    me = store.read.officer(store.actor.lower())
    if me is not None and me.active and me.role is d.Role.SCU:
        return
    if (
        me is not None
        and me.active
        and me.role is d.Role.SUPERVISOR
        and officer.role is not d.Role.SCU
        and (
            (officer.team is not None and officer.team == me.team) or officer.supervisor == me.email
        )
    ):
        return
    scope = (
        "the SCU"
        if officer.role is d.Role.SCU
        else "a supervisor of the officer's team, or the SCU"
    )
    raise NotPermitted(
        f"not permitted: {store.actor} may not {verb} the officer {officer.email} ({scope})",
        what=f"officer {verb}",
        ref=officer.email,
    )


def _supervises(store: Store, supervisor: d.Officer, subject_ref: str) -> bool:
    manager_email = store.read.subject(subject_ref).current_officer()
    manager = store.read.officer(manager_email) if manager_email else None
    if manager is None:
        return False  # an unallocated subject is the SCU's
    if manager.email == supervisor.email or manager.supervisor == supervisor.email:
        return True
    return manager.team is not None and manager.team == supervisor.team


def require_own_or_role(ctx: Context, store: Store, what: str, stored: StoredFact) -> None:
    """A fact may be corrected or voided by the officer who recorded it; anyone else's, by
    a supervisor of the subject's team or the SCU (with ``restrict_sensitive``)."""
    if store.read.record_author(stored) == store.actor:
        return
    require_role(ctx, store, what, subject_ref=stored.subject_ref, ref=stored.record_id)


# ------------------------------------------------------------------------------ backups


def backup(ctx: Context, target: Path, *, force: bool) -> int:
    """A consistent online copy of the SQLite file; returns the pages copied. The whole
    record, as an export is: the SCU's (or the service's), and logged as a disclosure of
    every subject to the file."""
    from . import accountability

    if sqlite_file(ctx.url) is None:
        return files.backup(ctx.url, target, force=force)  # refused: pg_dump's work
    files.writable_file(target, "FILE")
    with ctx.reading() as reader:
        accountability.require_scu(ctx, reader, "back up the whole record")
        pages = files.backup(ctx.url, target, force=force)
        accountability.consulted(
            ctx,
            reader,
            "spo backup",
            reader.subject_refs(),
            default=ADMINISTRATION,
            operation="disclosure",
            recipients=[str(target.resolve())],
            detail={"file": str(target.resolve()), "pages": pages},
        )
    return pages


def restore(ctx: Context, source: Path, *, force: bool) -> tuple[str, str]:
    """Put a backup back once it has passed its checks (a damaged one is refused and the
    database left as it was); returns the database (described) and the backup's revision.
    Over a database that exists, only the SCU (or the service) may; the restored record's
    own access log then keeps that it was restored, by whom and from which file (the rows
    written since the backup are gone with the rest)."""
    from . import accountability

    db = sqlite_file(ctx.url)
    if db is not None and db.exists() and not files.integrity(ctx.url):
        with ctx.reading(check_schema=False) as reader:
            if reader.schema_revision() == SCHEMA_HEAD:
                accountability.require_scu(ctx, reader, "restore the database")
    revision = files.restore(ctx.url, source, force=force)
    if revision == SCHEMA_HEAD:
        with ctx.reading() as reader:
            accountability.consulted(
                ctx,
                reader,
                "spo restore",
                [],
                default=ADMINISTRATION,
                operation="alteration",
                detail={"from": str(source.resolve()), "backup_revision": revision},
            )
    return describe(ctx.url), revision


# ------------------------------------------------------------------------------ retention


def retention_review(ctx: Context, *, as_of: dt.date | None = None) -> list[Expired]:
    """Subjects whose last order ended more than the policy's retention period ago."""
    day = as_of or ctx.today()
    from . import accountability

    with ctx.reading() as reader:
        seen = accountability.visibility(ctx, reader)  # an officer: their team's, unallocated
        found = expired(
            [s for s in reader.subjects() if seen.allows(s)],
            years=ctx.policy.retention_years,
            as_of=day,
        )
        accountability.consulted(
            ctx,
            reader,
            "spo retention review",
            [x.reference for x in found],
            default=ADMINISTRATION,
        )
        return found


def purge(ctx: Context, *, as_of: dt.date | None = None) -> list[Expired]:
    """Remove expired subjects' records. The audit keeps that it happened and why, and loses
    the personal data its earlier entries held about them."""
    today = ctx.today()
    day = as_of or today
    if day > today:
        # a later day would erase records still kept, and the access log's newest rows
        raise InvalidInput(
            f"{day} is in the future (today is {today}): records are purged as of today; "
            "spo retention review --as-of DATE shows what a later day would remove",
            field="--as-of",
        )
    years = ctx.policy.retention_years
    with ctx.unit_of_work() as store:
        store.default_purpose = ADMINISTRATION
        require_role(ctx, store, "purge")
        found = expired(store.read.subjects(), years=years, as_of=day)
        for item in found:
            subject = store.read.subject(item.reference)
            counts = Counter(
                {
                    name: len(getattr(subject, name))
                    for name in (
                        "orders",
                        "visits",
                        "breaches",
                        "notifications",
                        "flags",
                        "transfers",
                        "management_plans",
                        "reviews",
                    )
                }
            )
            store.purge_subject(
                item.reference,
                reason=f"retention: last order ended {item.records_end}; kept "
                f"{years} years, until {item.keep_until}",
                removed=dict(counts),
            )
        # the access log keeps its rows for the policy's [retention] log_years
        from ..core.accountability import ANCHOR
        from ..core.dates import add_months
        from .accountability import start_of

        cutoff = start_of(add_months(day, -12 * ctx.policy.log_retention_years), ctx.timezone)
        store.prune_access_log(cutoff, anchor_key=ANCHOR + "access_log")
    return found


# ------------------------------------------------------------------------------ doctor


def _mode_problem(path: Path) -> str | None:
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return f"{path} is readable or writable by others (mode {mode:o}); chmod go-rwx"
    return None


def doctor(ctx: Context) -> list[Finding]:
    """Permissions, SQLite's integrity check, migrations, a changed policy, the quality of
    the record, dead mail."""
    from . import accountability

    findings: list[Finding] = []
    db = sqlite_file(ctx.url)
    if db is not None:
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            problem = _mode_problem(path)
            if problem:
                findings.append(Finding("permissions", problem))
        damage = files.integrity(ctx.url) if db.exists() else []
        if damage:
            # nothing else can be read reliably from a damaged file
            findings.append(
                Finding(
                    "integrity",
                    f"{db} is damaged ({'; '.join(damage)[:300]}): restore the latest good "
                    "backup (spo restore FILE --force)",
                )
            )
            return findings
    settings = ctx.settings
    if not settings.scu_email:
        to = (
            f"go to the administrator ({settings.admin_email}) or nobody"
            if settings.admin_email
            else "go to nobody"
        )
        findings.append(
            Finding(
                "scu-mailbox",
                "scu_email (SPO_SCU_EMAIL) is not set: the SCU's own work, escalations above a "
                f"supervisor, the SCU's breach alerts and the force digest {to}",
            )
        )
    for folder in (settings.maildir, settings.calendar_folder):
        if folder and Path(folder).exists():
            for path in [Path(folder), *Path(folder).rglob("*")]:
                problem = _mode_problem(path)
                if problem:
                    findings.append(Finding("permissions", problem))
                    break
    with ctx.reading(check_schema=False) as reader:
        revision = reader.schema_revision()
        if revision != SCHEMA_HEAD:
            findings.append(
                Finding(
                    "migrations", f"schema at {revision}, needs {SCHEMA_HEAD}: run spo db upgrade"
                )
            )
            return findings
        if reader.last_policy_digest() not in (None, ctx.policy_digest()):
            findings.append(
                Finding(
                    "policy",
                    "the policy changed since deadlines were computed: run spo recompute --all",
                )
            )
        officers = {o.email: o for o in reader.officers()}
        # the record's quality, of the subjects the acting user may see (their team's and
        # unallocated ones; the SCU and the service: everyone's), logged as consulted
        seen = accountability.visibility(ctx, reader)
        quality = record_findings(
            [s for s in reader.subjects() if seen.allows(s)], officers, ctx.today()
        )
        accountability.consulted(
            ctx,
            reader,
            "spo doctor",
            [f.subject for f in quality if f.subject],
            default=ADMINISTRATION,
        )
        findings += quality
        counts = reader.outbox_counts()
    dead, uncertain = counts.get("dead", 0), counts.get("uncertain", 0)
    if dead:
        findings.append(
            Finding(
                "undeliverable-mail", f"{dead} email(s) could not be delivered: spo outbox --failed"
            )
        )
    if uncertain:
        findings.append(
            Finding(
                "uncertain-mail",
                f"{uncertain} email(s) delivery uncertain (an interrupted attempt may have "
                "delivered them; the resend was refused): spo outbox --failed",
            )
        )
    return findings
