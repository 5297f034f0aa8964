"""Shared CLI plumbing: the context every command is given, option parsing, output."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer import _click as click
from typer.core import TyperGroup

from .views import console as console
from .views import say as say
from .views import write_json

if TYPE_CHECKING:
    from rich.console import Console

    from ...bootstrap import Env


class ShowByDefault(TyperGroup):
    """A group whose first command, ``show``, runs when no other is named: ``spo checklist
    ORDER_REF`` shows, ``spo checklist done ...`` records; ``spo audit [REF]`` shows the
    trail, ``spo audit access`` the access log."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        named = args and (args[0] in self.commands or args[0] in ("--help", "-h"))
        if not named and (args or not self.no_args_is_help):
            args = ["show", *args]
        return super().parse_args(ctx, args)


def env(ctx: typer.Context) -> Env:
    """The composition root's context for this invocation (made by the root callback)."""
    obj = ctx.find_root().obj
    assert obj is not None
    return obj  # type: ignore[no-any-return]


def parse_date(value: str, option: str) -> dt.date:
    from ...app import parse_date as parse

    return parse(value, option)


# Every command that evaluates deadlines on a day takes it as ``--as-of``.
AsOf = Annotated[
    str | None,
    typer.Option("--as-of", metavar="DATE", help="Evaluate on this date (default: today)."),
]


def one_format(as_json: bool, as_csv: bool) -> None:
    """``--json`` and ``--csv`` are two answers to one question: refuse both at once."""
    if as_json and as_csv:
        from ...app import InvalidInput

        raise InvalidInput("give --json or --csv, not both", field="--csv")


def optional_date(value: str | None, option: str) -> dt.date | None:
    return None if value is None else parse_date(value, option)


def parse_timestamp(value: str, option: str = "--known-at") -> dt.datetime:
    """An ISO date or date-time; a date means the end of that day in UTC."""
    from ...app import InvalidInput, quote

    try:
        if len(value) == 10:
            day = parse_date(value, option)
            return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{quote(value)} is not an ISO date or date-time (2026-11-23T09:30:00+00:00)",
            field=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def print_json(document: Any) -> None:
    write_json(document)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def progress_bar(label: str, total: int, *, at_least: int = 200) -> Iterator[Callable[[int], None]]:
    """A transient bar on stderr for long work (``total`` of ``at_least`` or more); yields
    ``advance(n)``."""
    if total < at_least:
        yield lambda _n: None
        return
    from rich.progress import Progress

    with Progress(console=err_console(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
