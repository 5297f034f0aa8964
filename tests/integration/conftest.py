"""Fixtures the service tests share: a real SMTP server and known service settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.smtp import SmtpServer, StartSmtp, smtp_servers

ADMIN = "admin@force.example"
SCU = "scu@force.example"


@pytest.fixture
def start_smtp() -> Iterator[StartSmtp]:
    with smtp_servers() as start:
        yield start


@pytest.fixture
def smtp(start_smtp: StartSmtp, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    """A running server, and SPO_SMTP_URL pointing at it."""
    server = start_smtp()
    monkeypatch.setenv("SPO_SMTP_URL", server.url)
    return server


@pytest.fixture
def service_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Known settings; nothing from the developer's environment, nothing in their home.
    Modules that drive the service use it with ``pytestmark``."""
    for name in (
        "SPO_SMTP_URL",
        "SPO_SMTP_PASSWORD",
        "SPO_CONFIG",
        "SPO_FAULT",
        "SPO_CALENDAR_FOLDER",
        "SPO_DIGEST_TIME",
        "SPO_TIMEZONE",
        "SPO_WATCHDOG_MINUTES",
        "SPO_MAIL_FROM",
        "SPO_UNALLOCATED_OFFICER",
        "SPO_MAIL_FROM_NAME",
        "SPO_MESSAGE_ID_DOMAIN",
        "SPO_TEAM_DIGEST",
        "SPO_FORCE_DIGEST",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SPO_MAILDIR", str(tmp_path / "maildir"))
    monkeypatch.setenv("SPO_ADMIN_EMAIL", ADMIN)
    monkeypatch.setenv("SPO_SCU_EMAIL", SCU)
