"""Stored text on its way to a terminal or a message. Pure.

A value typed or imported by someone else must never drive the reader's terminal: an ANSI or
OSC escape sequence can recolour, retitle or rewrite what is on the screen, a CR can hide the
start of a line, a bidi override can reverse it. Single-line fields refuse such characters on
input (``record.check_text``); older records, free-text notes (which keep line breaks and
tabs) and what arrives in a file or a feed are escaped when shown.
"""

from __future__ import annotations

import re
import unicodedata

#: The most of a bad value an error message repeats.
QUOTE_MAX = 200

# Characters that are not shown as themselves: controls (C0, DEL, C1), format characters
# (bidi overrides and isolates, zero-width joiners, tags...), line and paragraph separators,
# surrogates.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


# In JSON text: those that may stand raw in a string but not on a terminal (the encoders
# already escape C0 controls as JSON requires).
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _escape(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with every control, format and separator character written as an escape
    (``\\x1b``, ``\\u202e``); with ``lines``, line breaks and tabs are kept (a multi-line
    message or note)."""
    if text.isprintable():  # the usual case, checked in C (no control, format or separator)
        return text
    kept = "\n\t" if lines else ""
    return "".join(
        _escape(ch) if ch not in kept and unicodedata.category(ch) in _HIDDEN else ch for ch in text
    )


def json_safe(text: str) -> str:
    """JSON text with DEL, C1 controls, bidi and other invisible format characters inside
    its strings written as ``\\u`` escapes: the same document to a parser, harmless on a
    terminal."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def quote(value: object, limit: int = QUOTE_MAX) -> str:
    """A bad value as an error message repeats it: quoted (``repr``), escaped, and cut to
    ``limit`` characters with the length said, so a 100 KB value costs one short line."""
    text = str(value)
    if len(text) <= limit:
        return printable(repr(text))
    return f"{printable(repr(text[:limit]))}... ({len(text)} characters)"


#: The longest error line: longer ones are cut in the middle.
LINE_MAX = 1000


def one_line(message: str) -> str:
    """An error message as the terminal gets it: one line (whitespace runs become one
    space), escaped, every word longer than ``QUOTE_MAX`` cut to that, and the whole at
    most ``LINE_MAX`` characters: a hostile value costs one short line, however it got
    into the message."""
    words = []
    for word in message.split():
        if len(word) > QUOTE_MAX:
            word = f"{word[:QUOTE_MAX]}...({len(word)} characters)"
        words.append(printable(word))
    line = " ".join(words)
    if len(line) > LINE_MAX:
        cut = len(line) - LINE_MAX
        line = f"{line[: LINE_MAX - 80]} ...({cut} characters cut)... {line[-80:]}"
    return line
