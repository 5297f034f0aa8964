"""The delivery benchmark at a tiny size (it must run, count and check; speed is not asserted),
and the message ``compose`` writes for delivery, read back with the email package."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from benchmarks import bench_delivery
from spo_tracker.adapters.mail.deliver import MaildirTransport, build_message, compose

# --------------------------------------------------------------------------- the benchmark


def test_the_delivery_benchmark_runs_at_a_tiny_size_and_the_server_gets_every_message(
    tmp_path: Path,
) -> None:
    figures = bench_delivery.run(workdir=tmp_path, quick=False, runs=1, messages=20)

    assert {f.group for f in figures} == {"delivery"}
    by_unit: dict[str, list[bench_delivery.Figure]] = {}
    for figure in figures:
        assert figure.samples, figure.label
        assert all(sample > 0 for sample in figure.samples), figure
        assert figure.size == 20
        by_unit.setdefault(figure.unit, []).append(figure)
    # baseline, spo, baseline with spo's bytes, one connection with no database
    assert len(by_unit["/s"]) == 4
    [ratio] = by_unit["x"]
    assert ratio.target == (">=", 5.0)
    ours = next(f for f in figures if f.target == (">=", 200.0))
    assert ours.per == "emails"

    # every step was checked against what the server received, Message-ID by Message-ID
    checks = json.loads((tmp_path / "delivery" / "server-checks.json").read_text())
    measured = {c["what"]: c for c in checks if "run" in c["what"]}
    assert set(measured) == {
        "baseline run 1",
        "spo run 1",
        "composed baseline run 1",
        "one connection run 1",
    }
    for check in measured.values():
        assert check["messages"] == check["distinct"] == 20
        assert check["repeated"] == 0
    assert len({c["ids"] for c in measured.values()}) == 1  # the same 20 messages each time


# --------------------------------------------------------------------------- the message

NOW = dt.datetime(2026, 3, 8, 10, tzinfo=dt.UTC)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    # the wire has CRLF line ends and the parts keep them
    text = str(plain.get_content())  # type: ignore[attr-defined]
    markup = str(html.get_content())  # type: ignore[attr-defined]
    return text.replace("\r\n", "\n"), markup.replace("\r\n", "\n")


def values(**kw: str) -> dict[str, object]:
    base: dict[str, object] = {
        "sender": "spo@force.example",
        "recipient": "om1@force.example",
        "subject": "OVERDUE SPO S-004 (P.P.): initial visit overdue by 21 days",
        "text": "Initial visit for S-004 (P.P.)\nDue:        2026-11-02\n",
        "html": '<p style="color:#b00"><b>Initial visit</b> &mdash; S-004</p>\n',
        "message_id": "<2d461681217421a571f305f9@spo-tracker>",
        "date": NOW,
    }
    base.update(kw)
    return base


def test_compose_writes_a_multipart_alternative_message_that_reads_back_exactly() -> None:
    v = values(
        # a long line, trailing spaces, a leading dot, "From " and a non-ASCII character
        text="x " * 70 + "end\ntrailing   \n.dot\nFrom here\ncafé — 5 x 2\n",
        html="<p>" + "word " * 60 + "</p>\n<p>naïve</p>\n",
    )
    outgoing = compose(**v)  # type: ignore[arg-type]
    assert outgoing.sender == "spo@force.example"
    assert outgoing.recipient == "om1@force.example"
    assert not outgoing.smtputf8
    assert outgoing.data.isascii()  # 7-bit clean: no 8BITMIME needed
    lines = outgoing.data.split(b"\r\n")
    assert all(len(line) <= 78 for line in lines)
    assert b"\n" not in outgoing.data.replace(b"\r\n", b"")  # CRLF throughout

    message = parsed(outgoing.data)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == v["sender"]
    assert message["To"] == v["recipient"]
    assert message["Subject"] == v["subject"]
    assert message["Message-ID"] == v["message_id"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime == NOW
    assert parts(message) == (v["text"], v["html"])


def test_a_non_ascii_or_encoded_word_looking_subject_is_encoded_and_reads_back() -> None:
    for subject in ("Rappel : visite à faire — S-001", "SPO =?utf-8?q?x?= S-001 " + "y" * 90):
        message = parsed(compose(**values(subject=subject)).data)  # type: ignore[arg-type]
        assert message["Subject"] == subject


def test_the_message_is_the_same_whichever_way_it_is_read() -> None:
    """``build_message`` (what tests read) is ``compose``'s bytes parsed."""
    v = values()
    built = build_message(**v)  # type: ignore[arg-type]
    assert parts(built) == parts(parsed(compose(**v).data))  # type: ignore[arg-type]
    assert built["Message-ID"] == v["message_id"]
    # the same dedupe key gives the same bytes: a re-send is recognisable
    assert compose(**v).data == compose(**v).data  # type: ignore[arg-type]


@pytest.mark.parametrize("header", ["sender", "recipient", "subject", "message_id"])
def test_compose_refuses_a_line_break_in_any_header(header: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        compose(**values(**{header: "x@force.example\r\nBcc: someone@elsewhere.example"}))  # type: ignore[arg-type]


def test_a_non_ascii_address_goes_the_smtputf8_way() -> None:
    outgoing = compose(**values(sender="spö@force.example"))  # type: ignore[arg-type]
    assert outgoing.smtputf8
    assert outgoing.sender == "spö@force.example"
    message = email.message_from_bytes(outgoing.data, policy=email.policy.SMTPUTF8)
    assert isinstance(message, EmailMessage)
    assert message["From"] == "spö@force.example"
    assert parts(message) == (values()["text"], values()["html"])


def test_the_maildir_gets_the_message_with_local_line_ends(tmp_path: Path) -> None:
    transport = MaildirTransport(str(tmp_path / "maildir"))
    asyncio.run(transport.send(compose(**values())))  # type: ignore[arg-type]
    [stored] = list((tmp_path / "maildir" / "new").iterdir())
    data = stored.read_bytes()
    assert b"\r\n" not in data
    message = parsed(data)
    assert parts(message) == (values()["text"], values()["html"])
