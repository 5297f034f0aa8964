"""A real SMTP server (aiosmtpd on loopback) that records what it receives and can refuse
chosen recipients or answer slowly."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def recipient(self) -> str:
        [to] = self.rcpt_tos
        return to

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    def everything(self) -> str:
        """Headers, both decoded parts and the raw bytes: what leaves the building."""
        headers = "\n".join(f"{k}: {v}" for k, v in self.message.items())
        raw = self.message.as_bytes().decode("utf-8", "replace")
        return "\n".join((headers, self.text(), self.html(), raw))


@dataclass
class Recorder:
    """An aiosmtpd handler: records every message; refuses chosen recipients."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # hang up at DATA, as a server going down mid-send does

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        reply = self.refuse.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop:
            server.transport.close()
            return "421 closing"
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow server: lets two senders overlap
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    handler: Recorder
    controller: Controller

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def refuse(self) -> dict[str, str]:
        return self.handler.refuse

    def message_ids(self) -> list[str]:
        return [r.message_id for r in self.received]

    def to(self, recipient: str, kind_prefix: str = "") -> list[Received]:
        return [
            r
            for r in self.received
            if r.recipient == recipient and r.subject.startswith(kind_prefix)
        ]


def free_port() -> int:
    """aiosmtpd's Controller(port=0) does not work: find a free port first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


StartSmtp = Callable[..., SmtpServer]


@contextmanager
def smtp_servers() -> Iterator[StartSmtp]:
    """Start as many servers as a test needs (on a chosen port, to bring one back); all stop
    at the end."""
    started: list[SmtpServer] = []

    def start(port: int | None = None) -> SmtpServer:
        handler = Recorder()
        port = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
        controller.start()
        server = SmtpServer(port, handler, controller)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.controller.stop()
