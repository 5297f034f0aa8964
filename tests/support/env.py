"""The composition root as tests use it: an ``Env`` on a test database at a chosen moment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

from spo_tracker.bootstrap import Env
from spo_tracker.config import Settings
from spo_tracker.core.clock import Clock, FixedClock
from spo_tracker.store.repo import Store


def make_env(
    db: str | None,
    *,
    actor: str = "tester",
    clock: Clock | None = None,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> Env:
    """An ``Env`` for ``db``; ``now`` fixes its clock."""
    if now is not None:
        clock = FixedClock(now)
    if settings is not None and os.environ.get("SPO_ACCESS_CONTROL") == "false":
        # settings built by a test keep the suite's "tester", who is nobody's officer
        settings = dataclasses.replace(settings, access_control=False)
    return Env(db=db, actor=actor, clock=clock, settings=settings)


@contextmanager
def open_store(
    db: str | None,
    *,
    actor: str = "tester",
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> Iterator[Store]:
    """One unit of work on ``db`` (committed on success), its engine disposed after."""
    env = make_env(db, actor=actor, clock=clock, settings=settings)
    try:
        with env.unit_of_work() as store:
            yield store
    finally:
        env.close()
