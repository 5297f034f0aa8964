"""Shared CLI plumbing: global state, option parsing helpers, output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..config import Settings
    from ..policy import Policy
    from ..store.repo import Store


@dataclass
class State:
    db: str | None
    actor: str
    policy_option: str | None = None
    config_option: str | None = None
    _policy: Policy | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from ..config import load_settings

            self._settings = load_settings(self.config_option)
        return self._settings

    def policy(self) -> Policy:
        if self._policy is None:
            from ..bootstrap import load_policy

            self._policy = load_policy(self.policy_option)
        return self._policy

    def today(self) -> date:
        from ..bootstrap import local_today
        from ..clock import SystemClock

        return local_today(SystemClock())


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


@contextmanager
def store(ctx: typer.Context) -> Iterator[Store]:
    """The command's one transaction. Subjects it wrote have their actions recomputed in the
    same transaction, so the record and its deadlines never disagree."""
    from ..bootstrap import open_store

    st = state(ctx)
    with open_store(st.db, actor=st.actor) as s:
        yield s
        if s.touched:
            recompute(s, st, sorted(s.touched), cause=", ".join(s.causes))


def recompute(s: Store, st: State, refs: list[str], *, cause: str) -> int:
    """Recompute ``refs`` with a progress bar on stderr when there are many."""
    from .. import deadlines

    def run(progress: Callable[[int], None] | None = None) -> int:
        return deadlines.recompute(
            store=s,
            refs=refs,
            policy=st.policy(),
            today=st.today(),
            cause=cause,
            unallocated_officer=unallocated_officer(),
            progress=progress,
        )

    if len(refs) < 200:
        return run()
    from rich.progress import Progress

    with Progress(console=err_console(), transient=True) as bar:
        task = bar.add_task("recomputing deadlines", total=len(refs))
        return run(lambda n: bar.advance(task, n))


def unallocated_officer() -> str | None:
    """Who answers for unallocated subjects (env ``SPO_UNALLOCATED_OFFICER``), if set."""
    import os

    value = os.environ.get("SPO_UNALLOCATED_OFFICER", "").strip().lower()
    return value or None


def parse_date(value: str, option: str) -> date:
    from ..dates import parse_date as _parse

    return _parse(value, option)


def optional_date(value: str | None, option: str) -> date | None:
    return None if value is None else parse_date(value, option)


def as_of_date(ctx: typer.Context, value: str | None) -> date:
    """``--as-of``, else today in the force's time zone (the shell reads the clock)."""
    return parse_date(value, "--as-of") if value is not None else state(ctx).today()


from .views import console as console  # noqa: E402  (one definition, shared with the fast path)


def say(message: str) -> None:
    """A confirmation line on stdout."""
    typer.echo(message)


def print_json(document: Any) -> None:
    from .views import write_json

    write_json(document)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)
