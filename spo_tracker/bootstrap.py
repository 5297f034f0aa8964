"""The composition root: the one place that builds real adapters from settings."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager

from .clock import Clock, SystemClock
from .store.repo import Store


def acting_user(option: str | None) -> str:
    """``--as``, else ``SPO_USER``, else the operating-system user."""
    return option or os.environ.get("SPO_USER") or getpass.getuser()


@contextmanager
def open_store(db: str | None, *, actor: str, clock: Clock | None = None) -> Iterator[Store]:
    """One transaction: committed if the block succeeds, rolled back if anything raises."""
    from sqlmodel import Session

    from .store.db import ensure_current, make_engine, resolve_url

    engine = make_engine(resolve_url(db))
    try:
        ensure_current(engine)
        with Session(engine, expire_on_commit=False) as session:
            store = Store(session, actor=actor, now=(clock or SystemClock()).now())
            try:
                yield store
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()
