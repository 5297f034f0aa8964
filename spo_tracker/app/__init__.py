"""The use cases, by noun: ``records``, ``deadlines``, ``notify``, ``calendars``, ``admin``.

The only thing entry points (the CLI, the scheduler, the HTTP server) call. Each use case
gathers facts from the store, asks the core, and applies the answer through the store and the
adapters. It is given a ``Context`` (the composition root's ``bootstrap.Env``): who is acting,
the settings, the policy, the clock and time zone, and the database. This package also names,
for the entry points, the vocabulary they show and parse (errors, enums, statuses), so they
need import nothing else of ours; it stays light to import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ..core.dates import parse_date
from ..core.errors import (
    DatabaseNotReady,
    Duplicate,
    ImportRejected,
    InvalidInput,
    NotFound,
    NotPermitted,
    SpoError,
)
from ..core.policy import RULE_IDS
from ..core.record import (
    ConditionKind,
    DischargeOutcome,
    FlagOutcome,
    Offence,
    OrderType,
    Risk,
    Role,
    VisitKind,
)
from ..core.rules import Action, Status
from ..core.text import json_safe, one_line, printable, quote

if TYPE_CHECKING:
    from ..adapters.mail.deliver import Transport
    from ..config import Settings
    from ..core.clock import Clock
    from ..core.policy import Policy
    from ..store.read import Reader
    from ..store.repo import Store as Store

Progress = Callable[[int], None]


class Context(Protocol):
    """What a use case is given (``bootstrap.Env`` is the real one)."""

    actor: str
    clock: Clock

    @property
    def settings(self) -> Settings: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def timezone(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def dialect(self) -> str: ...

    def policy_digest(self) -> str: ...

    def now(self) -> dt.datetime: ...

    def today(self) -> dt.date: ...

    def reading(self, *, check_schema: bool = True) -> AbstractContextManager[Reader]: ...

    def unit_of_work(
        self, *, actor: str | None = None, now: dt.datetime | None = None
    ) -> AbstractContextManager[Store]: ...

    def engine(self, *, create: bool = False) -> Any: ...

    def transport(self) -> Transport: ...


@contextmanager
def writing(
    ctx: Context,
    *,
    actor: str | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    bootstrap: bool = False,
    purpose: str | None = None,
) -> Iterator[Store]:
    """A unit of work whose subjects written have their deadlines recomputed in the same
    transaction, so the record and its deadlines never disagree. The acting user must be
    an active officer (``bootstrap``: or anyone, while no officer exists), and every
    subject written one of their team's or unallocated (``accountability``). ``purpose``:
    the access log's default for this command."""
    from . import accountability, deadlines

    try:
        with ctx.unit_of_work(actor=actor, now=now) as store:
            if purpose is not None:
                store.default_purpose = purpose
            seen = (
                accountability.visibility(ctx, store.read, bootstrap=bootstrap)
                if actor is None
                else None
            )
            yield store
            if seen is not None and not seen.everyone and store.touched:
                for subject in store.read.summaries_of(store.touched):
                    accountability.require_visible(seen, subject, "change")
            if store.touched:
                deadlines.recompute(
                    ctx,
                    store,
                    sorted(store.touched),
                    cause=", ".join(store.causes),
                    progress=progress,
                )
    except NotPermitted as refused:
        accountability.refused(ctx, refused, actor=actor, now=now)
        raise


__all__ = [
    "RULE_IDS",
    "Action",
    "ConditionKind",
    "Context",
    "DatabaseNotReady",
    "DischargeOutcome",
    "Duplicate",
    "FlagOutcome",
    "ImportRejected",
    "InvalidInput",
    "NotFound",
    "NotPermitted",
    "Offence",
    "OrderType",
    "Progress",
    "Risk",
    "Role",
    "SpoError",
    "Status",
    "VisitKind",
    "json_safe",
    "one_line",
    "parse_date",
    "printable",
    "quote",
    "writing",
]
