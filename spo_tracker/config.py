"""Deployment settings: a TOML file (``--config`` / ``SPO_CONFIG``) with environment overrides.

Secrets never live in the file or the database: the SMTP password comes from
``SPO_SMTP_PASSWORD`` or a file named by ``smtp_password_file``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .core.errors import InvalidInput
from .core.text import quote


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "spo-tracker"


@dataclass(frozen=True)
class Settings:
    # mail
    smtp_url: str | None = None  # smtp://host:port[?starttls=true], smtps://host:port, user@
    smtp_password_file: str | None = None
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "spo-tracker@localhost"
    mail_from_name: str = "SPO tracker"  # the From display name Outlook shows
    message_id_domain: str | None = None  # None: the domain of mail_from
    admin_email: str | None = None
    scu_email: str | None = None
    maildir: str = field(default_factory=lambda: str(_default_data_dir() / "maildir"))
    app_url: str = "Review it in spo-tracker: spo due, spo explain ID"  # pointer back to the tool
    # service
    timezone: str | None = None  # None: the policy's (Europe/London for the shipped one)
    sweep_minutes: int = 5
    digest_time: str = "07:00"
    watchdog_minutes: int = 30
    delivery_seconds: int = 30  # how often `spo run` sends the outbox
    claim_timeout_seconds: int = 600  # a claim older than this belonged to a dead process
    serve_feeds: bool = True  # `spo run` also serves calendar feeds
    team_digest: bool = True  # each supervisor: one daily digest of their team
    force_digest: bool = True  # the SCU mailbox: one daily digest of the force
    # only the SCU and a supervisor of the subject's team may override or waive actions,
    # discharge orders, correct or void another officer's records, purge records; off only
    # for a one-person install
    restrict_sensitive: bool = True
    # accountability (Data Protection Act 2018 s62): the acting user must be an active
    # officer (or the service account), who sees and changes their team's subjects and
    # unallocated ones, the SCU everyone's; off only for a one-person install
    access_control: bool = True
    service_account: str = "spo-service"  # the acting user of `spo run` and `spo serve`
    require_purpose: bool = False  # exports and whole-caseload reads must give --purpose
    # calendars
    feed_base_url: str = "http://127.0.0.1:8080"
    feed_host: str = "127.0.0.1"
    feed_port: int = 8080
    feed_refresh: str = "PT1H"
    calendar_folder: str | None = None  # rewrite per-officer/team .ics files here
    # who answers for unallocated subjects' actions (an officer's email); None: the SCU mailbox
    unallocated_officer: str | None = None

    def id_domain(self) -> str:
        """The domain of our Message-IDs and List-Ids."""
        return self.message_id_domain or self.mail_from.rsplit("@", 1)[-1]

    def sender(self) -> str:
        """The From header: the display name and the address."""
        from email.utils import formataddr

        return formataddr((self.mail_from_name, self.mail_from))

    def digest_clock(self) -> dt.time:
        return dt.time.fromisoformat(self.digest_time)

    def smtp_password(self) -> str | None:
        value = os.environ.get("SPO_SMTP_PASSWORD")
        if value:
            return value
        if self.smtp_password_file:
            try:
                return Path(self.smtp_password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InvalidInput(
                    f"cannot read {self.smtp_password_file}: {exc}", field="smtp_password_file"
                ) from None
        return None


# Environment variables that override the file, by setting name.
ENV = {
    "smtp_url": "SPO_SMTP_URL",
    "smtp_timeout_seconds": "SPO_SMTP_TIMEOUT_SECONDS",
    "mail_from": "SPO_MAIL_FROM",
    "mail_from_name": "SPO_MAIL_FROM_NAME",
    "message_id_domain": "SPO_MESSAGE_ID_DOMAIN",
    "team_digest": "SPO_TEAM_DIGEST",
    "force_digest": "SPO_FORCE_DIGEST",
    "admin_email": "SPO_ADMIN_EMAIL",
    "scu_email": "SPO_SCU_EMAIL",
    "maildir": "SPO_MAILDIR",
    "app_url": "SPO_APP_URL",
    "timezone": "SPO_TIMEZONE",
    "sweep_minutes": "SPO_SWEEP_MINUTES",
    "digest_time": "SPO_DIGEST_TIME",
    "watchdog_minutes": "SPO_WATCHDOG_MINUTES",
    "delivery_seconds": "SPO_DELIVERY_SECONDS",
    "claim_timeout_seconds": "SPO_CLAIM_TIMEOUT_SECONDS",
    "feed_base_url": "SPO_FEED_BASE_URL",
    "feed_host": "SPO_FEED_HOST",
    "feed_port": "SPO_FEED_PORT",
    "feed_refresh": "SPO_FEED_REFRESH",
    "calendar_folder": "SPO_CALENDAR_FOLDER",
    "restrict_sensitive": "SPO_RESTRICT_SENSITIVE",
    "access_control": "SPO_ACCESS_CONTROL",
    "service_account": "SPO_SERVICE_ACCOUNT",
    "require_purpose": "SPO_REQUIRE_PURPOSE",
    "serve_feeds": "SPO_SERVE_FEEDS",
    "unallocated_officer": "SPO_UNALLOCATED_OFFICER",
}


def _coerce(name: str, value: Any, kind: str) -> Any:
    try:
        if kind == "int":
            number = int(value)
            if number <= 0:
                raise ValueError
            return number
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[
                str(value).lower()
            ]
    except (ValueError, KeyError):
        raise InvalidInput(f"{quote(value)} is not a valid {kind}", field=name) from None
    if not isinstance(value, str):
        raise InvalidInput(f"{quote(value)} must be text", field=name)
    return value


def load_settings(path: str | None = None) -> Settings:
    """``--config``/``SPO_CONFIG`` file (optional), then environment overrides; validated."""
    kinds = {f.name: str(f.type).split(" |")[0] for f in fields(Settings)}
    values: dict[str, Any] = {}
    source = path or os.environ.get("SPO_CONFIG")
    if source:
        try:
            data = tomllib.loads(Path(source).expanduser().read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read {source}: {exc}", field="--config") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{source} is not valid TOML: {exc}", field="--config") from None
        for key, value in data.items():
            if key not in kinds:
                raise InvalidInput(
                    f"unknown setting (known: {', '.join(sorted(kinds))})", field=key
                )
            values[key] = _coerce(key, value, kinds[key])
    for name, env in ENV.items():
        if os.environ.get(env):
            values[name] = _coerce(env, os.environ[env], kinds[name])
    settings = replace(Settings(), **values)
    for name in ("mail_from_name", "message_id_domain"):
        value = getattr(settings, name)
        if value is not None and (not value.strip() or any(ch in value for ch in '\r\n<>@"')):
            raise InvalidInput(f"{quote(value)} cannot go in a mail header", field=ENV[name])
    if settings.unallocated_officer is not None:
        settings = replace(settings, unallocated_officer=settings.unallocated_officer.lower())
    for name in ("mail_from", "admin_email", "scu_email", "unallocated_officer"):
        value = getattr(settings, name)
        # a mailbox such as spo-tracker@localhost is fine; a line break would split a header
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise InvalidInput(f"{quote(value)} is not a valid email address", field=ENV[name])
    if settings.timezone is not None:
        from .core.policy import check_timezone

        check_timezone(settings.timezone, ENV["timezone"])
    try:
        settings.digest_clock()
    except ValueError:
        raise InvalidInput(
            f"{quote(settings.digest_time)} is not a time like 07:00", field="digest_time"
        ) from None
    return settings
