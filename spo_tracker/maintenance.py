"""Keeping the record safe: roles for sensitive actions, backups, retention, health checks."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import domain as d
from .config import Settings
from .dates import anniversary
from .errors import InvalidInput, NotPermitted
from .policy import Policy
from .rules import records_end
from .store.repo import Store

SENSITIVE = {
    "override": "override or waive actions",
    "discharge": "record the discharge of an order",
    "purge": "purge records",
}


def require_role(store: Store, settings: Settings, what: str) -> None:
    """With ``restrict_sensitive`` on, only active supervisors and SCU officers may do
    ``what``; the acting user (``--as``/``SPO_USER``) must be their email. Real
    authentication belongs to the host (OS accounts, database roles)."""
    if not settings.restrict_sensitive:
        return
    me = store.get_officer(store.actor.lower())
    allowed = (d.Role.SUPERVISOR, d.Role.SCU)
    if me is None or not me.active or me.role not in allowed:
        raise NotPermitted(
            f"not permitted: {store.actor} may not {SENSITIVE[what]} (supervisors and the SCU only)"
        )


# ------------------------------------------------------------------------------ backups


def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise InvalidInput(
            "backup and restore work on SQLite files; for PostgreSQL use pg_dump and "
            "pg_restore (see the README)",
            field="--db",
        )
    return Path(parsed.database)


def backup(url: str, target: Path, *, force: bool) -> int:
    """A consistent online copy through SQLite's backup API (safe while the service runs).
    Returns the number of pages copied."""
    source = sqlite_path(url)
    if not source.exists():
        raise InvalidInput(f"no database at {source}", field="--db")
    if target.exists() and not force:
        raise InvalidInput(f"{target} exists: give --force to replace it", field="FILE")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        with dst:
            src.backup(dst)
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":  # pragma: no cover - a corrupt source
            raise InvalidInput(f"the copy failed its integrity check: {check}", field="--db")
    finally:
        src.close()
        dst.close()
    os.replace(tmp, target)
    return pages


def restore(url: str, source: Path, *, force: bool) -> str | None:
    """Copy a backup over the database (through the backup API, so it is safe against a
    running service's connections). Returns the backup's schema revision."""
    target = sqlite_path(url)
    if not source.is_file():
        raise InvalidInput(f"no backup file at {source}", field="FILE")
    try:
        probe = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            revision = probe.execute("SELECT version_num FROM alembic_version").fetchone()
            probe.execute("SELECT count(*) FROM subject").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            f"{source} is not an spo-tracker database ({exc})", field="FILE"
        ) from None
    if target.exists() and not force:
        raise InvalidInput(
            f"{target} exists: restoring would replace it; give --force", field="--force"
        )
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, timeout=30)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()
    return str(revision[0]) if revision else None


# ------------------------------------------------------------------------------ retention


@dataclass(frozen=True)
class Expired:
    reference: str
    records_end: dt.date
    keep_until: dt.date


def retention_review(store: Store, policy: Policy, as_of: dt.date) -> list[Expired]:
    """Subjects whose last order ended more than the policy's retention period ago."""
    found = []
    for subject in store.load_subjects():
        ended = records_end(subject)
        if ended is None:
            continue
        keep_until = anniversary(ended, policy.retention_years)
        if keep_until <= as_of:
            found.append(Expired(subject.reference, ended, keep_until))
    return found


def purge(store: Store, policy: Policy, expired: list[Expired]) -> int:
    """Remove expired subjects' records. The audit keeps that it happened and why, and loses
    the personal data its earlier entries held about them."""
    from sqlalchemy import delete, update
    from sqlmodel import col

    from .store import models as m
    from .store.service_models import OutboxRow

    for item in expired:
        subject = store.load_subject(item.reference)
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
        subject_id = store.subject_ids([item.reference])[item.reference]
        store.session.execute(delete(m.SubjectRow).where(col(m.SubjectRow.id) == subject_id))
        store.session.execute(delete(OutboxRow).where(col(OutboxRow.subject_ref) == item.reference))
        store.session.execute(
            update(m.AuditRow)
            .where(col(m.AuditRow.subject_ref) == item.reference)
            .values(before=None, after=None)
        )
        summary: dict[str, Any] = {
            "reason": f"retention: last order ended {item.records_end}; kept "
            f"{policy.retention_years} years, until {item.keep_until}",
            "removed": dict(counts),
        }
        store.audit(
            "retention.purge",
            None,
            subject_ref=None,
            ref=item.reference,
            entity="subject",
            after=summary,
        )
    store.touched.clear()  # nothing left to recompute
    return len(expired)


# ------------------------------------------------------------------------------ doctor


@dataclass(frozen=True)
class Finding:
    check: str
    message: str
    subject: str | None = None


def _mode_problem(path: Path) -> str | None:
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return f"{path} is readable or writable by others (mode {mode:o}); chmod go-rwx"
    return None


def doctor(
    store: Store, settings: Settings, policy: Policy, url: str, today: dt.date
) -> list[Finding]:
    from .store import outbox
    from .store.db import SCHEMA_HEAD, current_revision

    findings: list[Finding] = []
    if url.startswith("sqlite"):
        db = sqlite_path(url)
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), db.parent):
            problem = _mode_problem(path) if path != db.parent else None
            if problem:
                findings.append(Finding("permissions", problem))
    for folder in (settings.maildir, settings.calendar_folder):
        if folder and Path(folder).exists():
            for path in [Path(folder), *Path(folder).rglob("*")]:
                problem = _mode_problem(path)
                if problem:
                    findings.append(Finding("permissions", problem))
                    break
    revision = current_revision(store.session.get_bind())  # type: ignore[arg-type]
    if revision != SCHEMA_HEAD:
        findings.append(
            Finding("migrations", f"schema at {revision}, needs {SCHEMA_HEAD}: run spo db upgrade")
        )
    if store.last_policy_digest() not in (None, policy.digest):
        findings.append(
            Finding(
                "policy",
                "the policy changed since deadlines were computed: run spo recompute --all",
            )
        )
    officers = {o.email: o for o in store.list_officers()}
    for subject in store.load_subjects():
        in_force = [
            o
            for o in subject.orders
            if o.status is d.OrderStatus.ACTIVE
            and (o.until_further_order or (o.expires is not None and o.expires >= today))
            and o.made <= today
        ]
        current = subject.current_officer()
        if not in_force:
            findings.append(Finding("no-active-order", "no order in force", subject.reference))
        elif current is None:
            findings.append(
                Finding(
                    "unallocated",
                    "an order is in force but no offender manager is allocated",
                    subject.reference,
                )
            )
        if current is not None and current in officers and not officers[current].active:
            findings.append(
                Finding(
                    "inactive-officer",
                    f"allocated to {current}, who is no longer active",
                    subject.reference,
                )
            )
        if subject.current_risk() is None and in_force:
            findings.append(
                Finding(
                    "no-risk-level",
                    "no risk level recorded (the review cadence falls back to monthly)",
                    subject.reference,
                )
            )
    dead = outbox.counts(store.session).get("dead", 0)
    if dead:
        findings.append(
            Finding(
                "undeliverable-mail", f"{dead} email(s) could not be delivered: spo outbox --failed"
            )
        )
    return findings
