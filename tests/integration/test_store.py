"""The store adapter used directly: the injected clock and transaction boundaries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from spo_tracker.core import record as d
from spo_tracker.core.clock import FixedClock
from tests.conftest import Spo
from tests.support.env import open_store

AT = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the spring clock change in London


def test_audit_time_comes_from_the_injected_clock(spo: Spo, db_path: Path) -> None:
    officer = d.Officer("x@force.example", "X", d.Role.SCU)
    with open_store(str(db_path), actor="clerk", clock=FixedClock(AT)) as store:
        store.add_officer(officer)
    with open_store(str(db_path), actor="clerk") as store:
        [entry] = store.read.audit("x@force.example")
    assert entry.at == AT
    assert entry.actor == "clerk"


def test_a_failure_inside_the_transaction_writes_nothing(spo: Spo, db_path: Path) -> None:
    officer = d.Officer("y@force.example", "Y", d.Role.SCU)

    def write_then_crash() -> None:
        with open_store(str(db_path), actor="clerk", clock=FixedClock(AT)) as store:
            store.add_officer(officer)
            raise RuntimeError("crash after the write")

    with pytest.raises(RuntimeError):
        write_then_crash()
    with open_store(str(db_path), actor="clerk") as store:
        assert store.read.officer("y@force.example") is None
        assert store.read.audit() == []


def test_naive_times_are_refused(spo: Spo) -> None:
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 1, 1))  # noqa: DTZ001
