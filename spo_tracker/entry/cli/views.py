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

    from ...app import json_safe

    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")
    sys.stdout.write(json_safe(text) + "\n")


def write_json_stream(head: dict[str, Any], key: str, items: Iterable[Any]) -> None:
    """``write_json(head | {key: list(items)})``, the same text, written one item at a time so
    a long list is never held in memory whole. ``key`` is the last member."""
    import sys

    import orjson

    from ...app import json_safe

    opened = json_safe(orjson.dumps(head, option=orjson.OPT_INDENT_2).decode("utf-8"))
    prefix = opened[:-2] + ",\n" if head else "{\n"  # drop the closing "\n}"
    out = sys.stdout
    out.write(f"{prefix}  {orjson.dumps(key).decode('utf-8')}: [")
    first = True
    for item in items:
        text = json_safe(orjson.dumps(item, option=orjson.OPT_INDENT_2).decode("utf-8"))
        out.write(("\n    " if first else ",\n    ") + text.replace("\n", "\n    "))
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


def say(message: str) -> None:
    """A line (or lines) of text on stdout; stored text in it is escaped, line breaks and
    tabs aside, so nothing typed or imported can drive the terminal."""
    import sys

    from ...app import printable

    sys.stdout.write(printable(message, lines=True) + "\n")


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
        "owner": action.owner,
        "trigger_date": action.trigger_date.isoformat(),
        "window_opens": action.window_opens.isoformat(),
        "due": action.due.isoformat(),
        "status": str(status)
        if status
        else ("not-applicable" if not action.applies else "not-yet-triggered"),
        "days_until_due": (action.due - as_of).days,
        # as they stood on as_of: a completion or cancellation of a later day not yet
        "completed": by_then(action.completed, as_of),
        "late": action.late if by_then(action.completed, as_of) else None,
        "cancelled_on": by_then(action.cancelled_on, as_of),
        # cancelled because the order ended with it still open (the compliance report's missed)
        "lapsed_on": by_then(action.lapsed_on(as_of), as_of),
        "explanation": action.explanation.text(action.due),
        "explanation_parts": action.explanation.as_dict(action.due),
    }


def when(action: Action, status: Status, as_of: dt.date) -> str:
    """How the action stands, in a few characters: "3d late", "today", "in 5d", "done",
    "done late", "cancelled"."""
    from ...app import Status

    if status is Status.DONE:
        return "done late" if action.late else "done"
    if status is Status.CANCELLED:
        return "cancelled"
    days = (action.due - as_of).days
    if days < 0:
        return f"{-days}d late"
    return "today" if days == 0 else f"in {days}d"


def by_then(day: dt.date | None, as_of: dt.date) -> str | None:
    """``day`` as ISO text if it had come by ``as_of``; None for a day still to come."""
    return day.isoformat() if day is not None and day <= as_of else None


def n_days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def lateness(action: Action, status: Status | None, as_of: dt.date) -> str:
    """``spo explain``'s "late" line, in words: how late it was done, or how overdue it is
    still on ``as_of``; "-" for one not due yet, cancelled, or that never applied."""
    from ...app import Status

    lapsed = action.lapsed_on(as_of)
    if lapsed is not None:
        if lapsed > action.due:
            return f"missed: still not done when the order ended (lapsed on {lapsed})"
        return f"not done when the order ended (lapsed on {lapsed})"
    if status is Status.DONE and action.completed is not None:
        behind = (action.completed - action.due).days
        return f"yes: done {n_days(behind)} after the due date" if behind > 0 else "no"
    if status is Status.OVERDUE:
        return f"{n_days((as_of - action.due).days)} overdue, not done yet"
    return "-"


def print_actions(
    pairs: list[tuple[Action, Status]],
    as_of: dt.date,
    title: str,
    *,
    short_ids: dict[str, str] | None = None,
) -> None:
    """The action list: on a terminal compact enough for 80 columns (the subject reference
    and the id are never cut; ids are the shortest start every command accepts), in a pipe
    one plain line per action with its status spelt out."""
    if not pairs:
        say(f"{title}: nothing.")
        return
    ids = short_ids or {}
    if terminal():
        print_table(
            ("due", "when", "subject", "rule", "officer", "id"),
            [
                (
                    a.due.isoformat(),
                    when(a, s, as_of),
                    a.subject,
                    a.rule,
                    _who(a),
                    ids.get(a.id, a.id),
                )
                for a, s in pairs
            ],
            title=title,
            styles=[STATUS_STYLE.get(str(s), "") for _, s in pairs],
            keep=("due", "when", "subject", "id"),
        )
        return
    print_table(HEADINGS, [_cells(a, s, as_of, ids.get(a.id, a.id)) for a, s in pairs], title=title)


HEADINGS = ("status", "due", "when", "subject", "rule", "order", "officer", "id")


def write_csv(headings: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """CSV on stdout (RFC 4180, a header row), for spreadsheets."""
    import csv
    import sys

    from ...app import printable

    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    writer.writerow(headings)
    writer.writerows(
        ["" if c is None else printable(c) if isinstance(c, str) else c for c in row]
        for row in rows
    )


CSV_HEADINGS = (
    "id",
    "subject",
    "order",
    "rule",
    "title",
    "status",
    "due",
    "officer",
    "owner",
    "trigger_date",
    "window_opens",
    "completed",
    "late",
    "cancelled_on",
)


def action_csv_row(action: Action, status: Status, as_of: dt.date) -> tuple[object, ...]:
    doc = action_json(action, status, as_of)
    return tuple(doc[h] for h in CSV_HEADINGS)


#: Whether long output on a terminal goes through a pager (``--no-pager`` turns it off).
PAGING = [True]


def page(renderable: object) -> None:
    """Print to the terminal; through a pager when it is longer than the screen (``SPO_PAGER``,
    else ``PAGER``, else ``less -FRX``; ``--no-pager`` or an empty ``SPO_PAGER`` never)."""
    import os
    import shlex
    import shutil
    import subprocess

    out = console()
    with out.capture() as captured:
        out.print(renderable)
    text = captured.get()
    pager = os.environ.get("SPO_PAGER", os.environ.get("PAGER", "less -FRX"))
    height = shutil.get_terminal_size().lines
    if not (PAGING[0] and pager.strip() and text.count("\n") > height - 2):
        import sys

        sys.stdout.write(text)
        return
    try:
        subprocess.run(shlex.split(pager), input=text, text=True, check=False)
    except OSError:  # no such pager: print it all
        import sys

        sys.stdout.write(text)


def terminal() -> bool:
    import sys

    return sys.stdout.isatty()


def _who(action: Action) -> str:
    if action.officer:
        return action.officer.split("@")[0]
    return "SCU" if action.owner == "scu" else "unallocated"


def _cells(action: Action, status: Status, as_of: dt.date, shown_id: str) -> tuple[str, ...]:
    return (
        str(status),
        action.due.isoformat(),
        when(action, status, as_of),
        action.subject,
        action.rule,
        action.order or "",
        _who(action),
        shown_id,
    )


def print_table(
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    styles: Sequence[str] | None = None,
    no_wrap: bool = False,
    keep: Sequence[str] = (),
) -> None:
    """A table: drawn with rich on a terminal; as plain aligned columns in a pipe or a file
    (no box drawing, no colour, one line per row, grep- and awk-friendly, and fast: drawing
    thousands of rows with rich takes seconds). Either way control and escape characters in
    a cell are shown escaped (``\\x1b``), never sent to the terminal."""
    if terminal():
        from rich import box
        from rich.table import Table

        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for heading in headings:
            if heading in keep:  # never cut: a reference or an id must be pasted whole
                table.add_column(heading, no_wrap=True, min_width=len(heading))
            elif no_wrap:
                table.add_column(heading, no_wrap=True, overflow="ellipsis")
            else:
                table.add_column(heading)
        from rich.text import Text

        from ...app import printable

        for i, row in enumerate(rows):  # Text: a stored "[...]" is shown, never taken as markup
            cells = (Text(printable(str(c), lines=True)) for c in row)
            table.add_row(*cells, style=styles[i] if styles else None)
        page(table)
        return
    import sys

    from ...app import printable

    texts = [list(headings), *([printable(" ".join(str(c).split())) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in texts) for i in range(len(headings))]
    lines = [title] if title else []
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in texts
    ]
    sys.stdout.write("\n".join(lines) + "\n")
