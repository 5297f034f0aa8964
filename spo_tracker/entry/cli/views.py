"""How things are shown: the JSON contract, the action table, plain text in pipes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ...app import Action, Status


def console() -> Console:
    """Stdout; piped output (files, pagers, the demo) gets a wide page, not 80 columns."""
    import os
    import sys

    from rich.console import Console

    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
    return Console(highlight=False, soft_wrap=False, width=width)


def write_json(document: Any) -> None:
    """A JSON document on stdout, indented by two spaces (the same text as
    ``json.dumps(document, indent=2, ensure_ascii=False)``). orjson writes it: the standard
    library's encoder is pure Python once ``indent`` is set, and ``spo due --all --json``
    on a national caseload spent most of its time there."""
    import sys

    import orjson

    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n")


def write_json_stream(head: dict[str, Any], key: str, items: Iterable[Any]) -> None:
    """``write_json(head | {key: list(items)})``, the same text, written one item at a time so
    a long list is never held in memory whole. ``key`` is the last member."""
    import sys

    import orjson

    opened = orjson.dumps(head, option=orjson.OPT_INDENT_2).decode("utf-8")
    prefix = opened[:-2] + ",\n" if head else "{\n"  # drop the closing "\n}"
    out = sys.stdout
    out.write(f"{prefix}  {orjson.dumps(key).decode('utf-8')}: [")
    first = True
    for item in items:
        text = orjson.dumps(item, option=orjson.OPT_INDENT_2).decode("utf-8")
        out.write(("\n    " if first else ",\n    ") + text.replace("\n", "\n    "))
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


def say(message: str) -> None:
    import sys

    sys.stdout.write(message + "\n")


STATUS_STYLE = {
    "overdue": "bold red",
    "due-today": "bold yellow",
    "due-soon": "yellow",
    "upcoming": "",
    "done": "green",
    "cancelled": "dim",
}


def action_json(action: Action, status: Status | None, as_of: dt.date) -> dict[str, Any]:
    """One action in the ``spo due --json`` contract (fields are only ever added)."""
    return {
        "id": action.id,
        "subject": action.subject,
        "order": action.order,
        "rule": action.rule,
        "title": action.explanation.title,
        "officer": action.officer,
        "trigger_date": action.trigger_date.isoformat(),
        "window_opens": action.window_opens.isoformat(),
        "due": action.due.isoformat(),
        "status": str(status) if status else "not-yet-triggered",
        "days_until_due": (action.due - as_of).days,
        "completed": action.completed.isoformat() if action.completed else None,
        "late": action.late,
        "cancelled_on": action.cancelled_on.isoformat() if action.cancelled_on else None,
        "explanation": action.explanation.text(action.due),
        "explanation_parts": action.explanation.as_dict(action.due),
    }


def _when(action: Action, as_of: dt.date) -> str:
    days = (action.due - as_of).days
    if days < 0:
        return f"{-days}d late"
    return "today" if days == 0 else f"in {days}d"


def print_actions(pairs: list[tuple[Action, Status]], as_of: dt.date, title: str) -> None:
    if not pairs:
        say(f"{title}: nothing.")
        return
    print_table(
        HEADINGS,
        [_cells(a, s, as_of) for a, s in pairs],
        title=title,
        styles=[STATUS_STYLE.get(str(s), "") for _, s in pairs],
        no_wrap=True,
    )


HEADINGS = ("status", "due", "when", "subject", "rule", "order", "officer", "id")


def terminal() -> bool:
    import sys

    return sys.stdout.isatty()


def _cells(action: Action, status: Status, as_of: dt.date) -> tuple[str, ...]:
    return (
        str(status),
        action.due.isoformat(),
        _when(action, as_of),
        action.subject,
        action.rule,
        action.order or "",
        (action.officer or "unallocated").split("@")[0],
        action.id,
    )


def print_table(
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    styles: Sequence[str] | None = None,
    no_wrap: bool = False,
) -> None:
    """A table: drawn with rich on a terminal; as plain aligned columns in a pipe or a file
    (no box drawing, no colour, one line per row, grep- and awk-friendly, and fast: drawing
    thousands of rows with rich takes seconds)."""
    if terminal():
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for heading in headings:
            if no_wrap:
                table.add_column(heading, no_wrap=True, overflow="ellipsis")
            else:
                table.add_column(heading)
        from rich.text import Text

        for i, row in enumerate(rows):  # Text: a stored "[...]" is shown, never taken as markup
            table.add_row(*(Text(str(c)) for c in row), style=styles[i] if styles else None)
        console().print(table)
        return
    import sys

    texts = [list(headings), *([" ".join(str(c).split()) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in texts) for i in range(len(headings))]
    lines = [title] if title else []
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in texts
    ]
    sys.stdout.write("\n".join(lines) + "\n")
