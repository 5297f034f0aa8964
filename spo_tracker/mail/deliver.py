"""Delivery: SMTP through aiosmtplib, or a local maildir when no SMTP server is configured.

Errors are sorted into the two kinds the outbox acts on: ``TransientError`` (try again later:
connection refused, timeouts, disconnects, 4xx replies) and ``PermanentError`` (give up and
alert: 5xx replies, authentication failures, a refused recipient).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import mailbox
import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import InvalidInput

if TYPE_CHECKING:
    import aiosmtplib


class TransientError(Exception):
    """Worth retrying later."""


class PermanentError(Exception):
    """Retrying will not help."""


class Transport(Protocol):
    def describe(self) -> str: ...

    async def send(self, message: EmailMessage) -> None: ...

    async def close(self) -> None: ...


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: dt.datetime,
) -> EmailMessage:
    """A multipart/alternative message; header values are single lines by construction."""
    message = EmailMessage()
    for header, value in (("From", sender), ("To", recipient), ("Subject", subject)):
        if "\r" in value or "\n" in value:
            raise ValueError(f"{header} header would contain a line break")
        message[header] = value
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout: float


def parse_smtp_url(url: str, password: str | None, timeout: float) -> SmtpConfig:
    """``smtp://host:port`` (plain, or ``?starttls=true``), ``smtps://host:port`` (implicit
    TLS), with an optional ``user@``. The password never comes from the URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InvalidInput(
            f"{url!r} is not smtp://host:port or smtps://host:port", field="SPO_SMTP_URL"
        )
    if parts.password:
        raise InvalidInput(
            "put the password in SPO_SMTP_PASSWORD or a file, not in the URL", field="SPO_SMTP_URL"
        )
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "false") in ("true", "1", "yes")
    implicit = parts.scheme == "smtps"
    if implicit and starttls:
        raise InvalidInput("smtps:// already uses TLS; drop ?starttls", field="SPO_SMTP_URL")
    try:
        port = parts.port or (465 if implicit else 25)
    except ValueError:
        raise InvalidInput(f"{url!r} has an invalid port", field="SPO_SMTP_URL") from None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=password,
        timeout=timeout,
    )


class SmtpTransport:
    """One connection reused for a whole delivery pass; reconnects after any failure."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: aiosmtplib.SMTP | None = None

    def describe(self) -> str:
        c = self.config
        scheme = "smtps" if c.implicit_tls else "smtp"
        tls = "+starttls" if c.starttls else ""
        return f"{scheme}{tls}://{c.host}:{c.port}"

    async def _connect(self) -> aiosmtplib.SMTP:
        import aiosmtplib

        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.implicit_tls,
            # A bool, never the default None: None silently sends in plain text when the
            # server offers no STARTTLS; True fails instead.
            start_tls=c.starttls,
            username=c.username,
            password=c.password,
            timeout=c.timeout,
        )
        await client.connect()
        return client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.quit()
            except Exception:  # closing a broken connection is best effort
                client.close()

    async def send(self, message: EmailMessage) -> None:
        import aiosmtplib

        try:
            # aiosmtplib's timeout is per operation: bound the whole exchange as well.
            async with asyncio.timeout(self.config.timeout * 3):
                if self._client is None:
                    self._client = await self._connect()
                refused, _reply = await self._client.send_message(message)
        except aiosmtplib.SMTPAuthenticationError as exc:
            await self._drop()
            raise PermanentError(f"authentication failed: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(400 <= code < 500 for code in codes):
                raise TransientError(f"recipient deferred: {codes}") from exc
            raise PermanentError(f"recipient refused: {codes}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._drop()
            if 400 <= exc.code < 500:
                raise TransientError(f"{exc.code} {exc.message}") from exc
            raise PermanentError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._drop()
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            by_address = {addr: resp.code for addr, resp in refused.items()}
            if all(400 <= code < 500 for code in by_address.values()):
                raise TransientError(f"recipient deferred: {by_address}")
            raise PermanentError(f"recipient refused: {by_address}")

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


class MaildirTransport:
    """Writes each message into a maildir (owner-only): the offline default."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()

    def describe(self) -> str:
        return f"maildir {self.path}"

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    async def close(self) -> None:
        return None

    def _write(self, message: EmailMessage) -> None:
        old = os.umask(0o077)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            box = mailbox.Maildir(str(self.path), create=True)
            box.add(message)
        except OSError as exc:
            raise TransientError(f"cannot write to {self.path}: {exc}") from exc
        finally:
            os.umask(old)


def transport_from(
    smtp_url: str | None, password: str | None, timeout: float, maildir: str
) -> Transport:
    if smtp_url:
        return SmtpTransport(parse_smtp_url(smtp_url, password, timeout))
    return MaildirTransport(maildir)
