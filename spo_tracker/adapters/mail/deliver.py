"""Delivery: SMTP through aiosmtplib, or a local maildir when no SMTP server is configured.

Errors are sorted into the kinds the outbox acts on: ``TransientError`` (try again later:
4xx replies), its kind ``Unreachable`` (the server cannot be reached at all: connection
refused or dropped, timeouts, 421; the whole delivery pass stops and backs off) and
``PermanentError`` (give up and alert: 5xx replies, authentication failures, a refused
recipient).
"""

from __future__ import annotations

import asyncio
import binascii
import datetime as dt
import email.policy
import functools
import hashlib
import mailbox
import os
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from ...core.errors import InvalidInput
from ...core.text import quote

if TYPE_CHECKING:
    import aiosmtplib


class TransientError(Exception):
    """Worth retrying later."""


class Unreachable(TransientError):
    """The server is not there (refused, dropped, timed out, closing): no other message
    would fare better now."""


class PermanentError(Exception):
    """Retrying will not help."""


class Transport(Protocol):
    #: how many messages it can usefully send at once (``deliver`` runs that many senders)
    connections: int

    def describe(self) -> str: ...

    async def send(self, message: Outgoing) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """One email as it goes on the wire: the envelope and the whole message (CRLF lines)."""

    sender: str  # envelope sender: the bare address
    recipient: str
    data: bytes
    smtputf8: bool = False  # an address is not ASCII: the server must offer SMTPUTF8


def _check_header(header: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{header} header would contain a line break")


@functools.lru_cache(maxsize=16)
def _date_header(date: dt.datetime) -> str:
    return format_datetime(date)


@functools.lru_cache(maxsize=16)
def _envelope_address(value: str) -> str:
    return parseaddr(value)[1] or value


def _subject_header(subject: str) -> str:
    # ASCII stays as it is (folded at 78 columns); anything else, or text that would read as
    # an RFC 2047 encoded word, becomes UTF-8 encoded words.
    charset = "us-ascii" if subject.isascii() and "=?" not in subject else "utf-8"
    return Header(subject, charset, header_name="Subject").encode(linesep="\r\n")


def _qp(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF lines: 7-bit clean, lines of at most 76 characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


#: Kinds of mail that need reading first (Outlook shows them flagged).
URGENT = ("escalation", "breach", "watchdog")
_LIST_NAMES = {
    "reminder": "SPO reminders",
    "escalation": "SPO escalations",
    "change": "SPO deadline changes",
    "breach": "SPO breach alerts",
    "digest": "SPO digests",
    "team-digest": "SPO team digests",
    "force-digest": "SPO force digests",
    "watchdog": "spo-tracker service alerts",
}


def mail_headers(kind: str, domain: str) -> list[tuple[str, str]]:
    """Headers that make Outlook and Exchange treat a message as what it is: automatic (no
    out-of-office replies to it), urgent or not, and one of a list a rule can file."""
    headers = [("X-Auto-Response-Suppress", "All")]
    if kind in URGENT:
        headers += [("Importance", "high"), ("X-Priority", "1")]
    name = _LIST_NAMES.get(kind, "spo-tracker mail")
    headers.append(("List-Id", f"{name} <{kind}.spo-tracker.{domain}>"))
    return headers


def compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: dt.datetime,
    headers: Sequence[tuple[str, str]] = (),
) -> Outgoing:
    """The message delivery sends: multipart/alternative, a text part then an HTML part, both
    UTF-8 quoted-printable; our own Message-ID (stable per dedupe key, so a re-send is
    recognisable) and ``Auto-Submitted``. Header values are single lines by construction.

    Written directly rather than through ``EmailMessage`` (``set_content``/``add_alternative``
    and the generator cost ~2 ms a message, most of a delivery's time); ``build_message``
    parses the result back so tests read it with the email package. An address that is not
    ASCII needs SMTPUTF8 and takes the ``EmailMessage`` path instead.
    """
    for header, value in (
        ("From", sender),
        ("To", recipient),
        ("Subject", subject),
        ("Message-ID", message_id),
        *headers,
    ):
        _check_header(header, value)
    plain = all(value.isascii() for _, value in headers)
    if not (sender.isascii() and recipient.isascii() and message_id.isascii() and plain):
        message = _email_message(
            sender=sender,
            recipient=recipient,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id,
            date=date,
            headers=headers,
        )
        data = message.as_bytes(policy=email.policy.SMTPUTF8)
        return Outgoing(_envelope_address(sender), recipient, data, smtputf8=True)
    # "=_" cannot occur in quoted-printable text ("=" is always followed by hex digits or a
    # line break), so this boundary never collides with a body.
    boundary = "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
    head = (
        f"From: {sender}\r\n"
        f"To: {recipient}\r\n"
        f"Subject: {_subject_header(subject)}\r\n"
        f"Date: {_date_header(date)}\r\n"
        f"Message-ID: {message_id}\r\n"
        "Auto-Submitted: auto-generated\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers)
        + "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
        "\r\n"
    )
    parts = [head.encode("ascii")]
    for subtype, body in (("plain", text), ("html", html)):
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n".encode("ascii")
        )
        parts.append(_qp(body))
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return Outgoing(_envelope_address(sender), recipient, b"".join(parts))


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: dt.datetime,
    headers: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    """What ``compose`` sends, parsed back into an ``EmailMessage`` (for reading and tests)."""
    outgoing = compose(
        sender=sender,
        recipient=recipient,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id,
        date=date,
        headers=headers,
    )
    policy = email.policy.SMTPUTF8 if outgoing.smtputf8 else email.policy.SMTP
    parsed = BytesParser(_class=EmailMessage, policy=policy).parsebytes(outgoing.data)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _email_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: dt.datetime,
    headers: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    """A multipart/alternative message through the email package (addresses beyond ASCII)."""
    message = EmailMessage()
    for header, value in (("From", sender), ("To", recipient), ("Subject", subject)):
        _check_header(header, value)
        message[header] = value
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in headers:
        message[name] = value
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
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
            f"{quote(url)} is not smtp://host:port or smtps://host:port", field="SPO_SMTP_URL"
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
        raise InvalidInput(f"{quote(url)} has an invalid port", field="SPO_SMTP_URL") from None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=password,
        timeout=timeout,
    )


#: SMTP connections a delivery pass keeps open. Each carries one message at a time (neither
#: aiosmtplib nor every relay pipelines), so a few in parallel overlap our work with the
#: server's; kept small because relays limit concurrent connections per client.
SMTP_CONNECTIONS = 3


class SmtpTransport:
    """Up to ``connections`` connections, reused for a whole delivery pass; a connection that
    fails is dropped and the next send opens a new one."""

    def __init__(self, config: SmtpConfig, *, connections: int = SMTP_CONNECTIONS) -> None:
        self.config = config
        self.connections = max(1, connections)
        self._idle: list[aiosmtplib.SMTP] = []

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
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except Exception:  # closing a broken connection is best effort
                client.close()

    async def send(self, message: Outgoing) -> None:
        """Send on an idle connection (or a new one); safe to call concurrently."""
        import aiosmtplib

        client: aiosmtplib.SMTP | None = None
        try:
            # aiosmtplib's timeout is per operation: bound the whole exchange as well.
            async with asyncio.timeout(self.config.timeout * 3):
                client = self._idle.pop() if self._idle else await self._connect()
                refused, _reply = await client.sendmail(
                    message.sender,
                    [message.recipient],
                    message.data,
                    # aiosmtplib refuses (SMTPNotSupported) when the server lacks it
                    mail_options=["SMTPUTF8"] if message.smtputf8 else [],
                )
        except aiosmtplib.SMTPAuthenticationError as exc:
            self._drop(client)
            raise PermanentError(f"authentication failed: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._keep(client)
            codes = [r.code for r in exc.recipients]
            if all(400 <= code < 500 for code in codes):
                raise TransientError(f"recipient deferred: {codes}") from exc
            raise PermanentError(f"recipient refused: {codes}") from exc
        except aiosmtplib.SMTPConnectResponseError as exc:  # refused in its greeting
            self._drop(client)
            raise Unreachable(f"{exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            self._drop(client)
            if exc.code == 421:  # the service is closing the channel: the server, not this mail
                raise Unreachable(f"{exc.code} {exc.message}") from exc
            if 400 <= exc.code < 500:
                raise TransientError(f"{exc.code} {exc.message}") from exc
            raise PermanentError(f"{exc.code} {exc.message}") from exc
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            OSError,
            TimeoutError,
        ) as exc:
            self._drop(client)
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        except aiosmtplib.SMTPException as exc:
            self._drop(client)
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-exchange: the connection's state is unknown
            self._drop(client)
            raise
        self._keep(client)
        if refused:
            by_address = {addr: resp.code for addr, resp in refused.items()}
            if all(400 <= code < 500 for code in by_address.values()):
                raise TransientError(f"recipient deferred: {by_address}")
            raise PermanentError(f"recipient refused: {by_address}")

    def _keep(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.append(client)

    def _drop(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            client.close()


class MaildirTransport:
    """Writes each message into a maildir (owner-only): the offline default."""

    connections = 1

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()

    def describe(self) -> str:
        return f"maildir {self.path}"

    async def send(self, message: Outgoing) -> None:
        await asyncio.to_thread(self._write, message)

    async def close(self) -> None:
        return None

    def _write(self, message: Outgoing) -> None:
        old = os.umask(0o077)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            box = mailbox.Maildir(str(self.path), create=True)
            box.add(message.data.replace(b"\r\n", b"\n"))  # a file on disk: local line ends
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
