"""Shared CLI plumbing: global state, option parsing helpers, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..store.repo import Store


@dataclass
class State:
    db: str | None
    actor: str


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


@contextmanager
def store(ctx: typer.Context) -> Iterator[Store]:
    """The command's one transaction."""
    from ..bootstrap import open_store

    st = state(ctx)
    with open_store(st.db, actor=st.actor) as s:
        yield s


def parse_date(value: str, option: str) -> date:
    from ..dates import parse_date as _parse

    return _parse(value, option)


def optional_date(value: str | None, option: str) -> date | None:
    return None if value is None else parse_date(value, option)


def say(message: str) -> None:
    """A confirmation line on stdout."""
    typer.echo(message)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)
