"""Nothing raw on a terminal: stored text is printed escaped by every command, single-line
fields refuse control and escape characters on input, and an error repeats at most 200
characters of a bad value.

The stored values are written straight into the SQLite file, as an older version of spo (or
anyone with the file) could have left them: printing must not rely on input checks."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import Spo, invoke

OSC_TITLE = "\x1b]0;owned\x07"  # sets the terminal's title
ANSI_RED = "\x1b[31m"
HOSTILE = f"A{ANSI_RED}B{OSC_TITLE}C\rD\u202eE\x9bF\x7fG"
HUGE = "x" * 100_000


def raw_controls(text: str) -> list[str]:
    """Characters in ``text`` that would act on a terminal rather than show (line ends, and
    CSV's CRLF, aside)."""
    text = text.replace("\r\n", "\n")
    return [
        f"U+{ord(ch):04X}"
        for ch in text
        if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}
    ]


@pytest.fixture
def tainted(caseload: Spo, db_path: Path) -> Spo:
    """The caseload with hostile text in every kind of stored field a command prints."""
    caseload("visit", "add", "S-001", "--date", "2026-03-05", "--outcome", "seen")
    caseload("calendar", "token", "create", "--officer", "om1@force.example", "--label", "phone")
    caseload("db", "current")  # every connection closed
    with sqlite3.connect(db_path) as conn:
        for sql in (
            "UPDATE officer SET name = :v, team = :v",
            "UPDATE subject_name SET name = :v",
            "UPDATE subject_address SET address = :v",
            "UPDATE spo_order SET court = :v",
            "UPDATE visit SET outcome = :v",
            "UPDATE feed_token SET label = :v",
        ):
            conn.execute(sql, {"v": HOSTILE})
    conn.close()
    return caseload


COMMANDS = [
    ("officer", "list"),
    ("officer", "list", "--json"),
    ("subject", "list"),
    ("subject", "list", "--json"),
    ("subject", "list", "--csv"),
    ("show", "S-001"),
    ("show", "S-001", "--json"),
    ("audit",),
    ("audit", "--json"),
    ("due", "--all", "--as-of", "2026-03-08"),
    ("due", "--all", "--as-of", "2026-03-08", "--csv"),
    ("plan", "S-001"),
    ("calendar", "token", "list"),
    ("calendar", "token", "list", "--json"),
    ("export",),
    ("doctor",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_stored_control_and_escape_characters_are_printed_escaped(
    tainted: Spo, command: tuple[str, ...]
) -> None:
    result = invoke(*command)
    assert result.code in (0, 1), result.err  # doctor: 1 when it finds problems
    assert result.out
    assert raw_controls(result.out) == [], result.out[:2000]
    assert raw_controls(result.err) == [], result.err[:2000]


@pytest.mark.parametrize("command", [("officer", "list"), ("show", "S-001"), ("audit",)])
def test_tables_drawn_for_a_terminal_escape_them_too(
    tainted: Spo, command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("spo_tracker.entry.cli.views.terminal", lambda: True)
    monkeypatch.setenv("SPO_PAGER", "")
    monkeypatch.setenv("NO_COLOR", "1")
    result = tainted(*command)
    assert raw_controls(result.out) == [], result.out[:2000]
    if command != ("audit",):  # (its wide cells may be cut to fit)
        assert "\\x1b" in result.out  # shown, as an escape


@pytest.mark.parametrize(
    "label",
    [ANSI_RED + "red", OSC_TITLE, "two\nlines", "cr\rhere", "bidi\u202eflip", HUGE],
    ids=["ansi", "osc", "lf", "cr", "bidi", "100kb"],
)
def test_a_token_label_with_control_characters_or_too_long_is_refused(
    caseload: Spo, label: str
) -> None:
    result = caseload(
        "calendar", "token", "create", "--officer", "om1@force.example", "--label", label, code=2
    )
    assert result.err.startswith("error: --label: ")
    assert len(result.err) < 300
    assert raw_controls(result.err) == []
    assert "no feed tokens" in caseload("calendar", "token", "list").out


@pytest.mark.parametrize(
    "args",
    [
        ("due", "--team", "T" * 100_000),
        ("due", "--officer", "o" * 100_000 + "@force.example"),
        ("subject", "add", "S-9", "--name", "N", "--risk", "r" * 100_000),
        ("visit", "add", "S-001", "--date", "2" * 100_000),
        ("officer", "add", "e" * 100_000, "--name", "N", "--role", "scu"),
    ],
    ids=["team", "officer", "choice", "date", "email"],
)
def test_an_error_repeats_at_most_200_characters_of_a_bad_value(
    caseload: Spo, args: tuple[str, ...]
) -> None:
    result = invoke(*args)
    assert result.code in (2, 3), result.err[:500]
    [line] = result.err.splitlines()
    assert len(line) < 600, line[:700]
    longest = max(len(word) for word in line.split())
    assert longest <= 230, line[:700]


def test_an_error_quoting_an_escape_sequence_shows_it_escaped(caseload: Spo) -> None:
    result = caseload("due", "--team", HOSTILE, code=3)
    assert raw_controls(result.err) == []
    assert "\\x1b" in result.err
