"""Schema 0007 gives the facts of an existing database their record ids: numbered under their
subject, order or flag in date order, unique, the same on both engines; nothing else moves."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from sqlalchemy import text

from spo_tracker.store.db import make_engine
from spo_tracker.store.schema import resolve_url
from tests.conftest import Spo
from tests.integration.test_action_ids import migrate

pytestmark = pytest.mark.both_engines


def visits(url: str) -> list[tuple[str, str | None]]:
    engine = make_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT date, record_id FROM visit ORDER BY id")).all()
    finally:
        engine.dispose()
    return [(str(d), r) for d, r in rows]


def test_an_upgrade_numbers_every_fact_in_date_order(caseload: Spo, db_url: str) -> None:
    spo = caseload
    for day in ("2026-03-09", "2026-03-05", "2026-03-07"):  # recorded out of date order
        spo("visit", "add", "S-001", "--date", day)
    spo("condition", "add", "O-001", "--kind", "requirement", "--text", "Attend")
    migrate(db_url, "0006")  # as a database made before record ids
    migrate(db_url, "head")
    numbered = sorted(visits(db_url))
    assert [r for _, r in numbered] == ["S-001/visit-1", "S-001/visit-2", "S-001/visit-3"]
    ids: dict[str, int] = defaultdict(int)
    for found in re.findall(r'"id": "([^"]+)"', spo("export").out):
        ids[found] += 1
    assert ids, "no record ids in the export"
    assert max(ids.values()) == 1  # unique
    assert all(re.fullmatch(r"(S|O|F)-001/[a-z-]+-[0-9]+", i) for i in ids)
    # a new visit takes the next number, whatever its date
    spo("visit", "add", "S-001", "--date", "2026-03-01")
    assert ("2026-03-01", "S-001/visit-4") in [(d[:10], r) for d, r in visits(db_url)]
    assert "0 change" in spo("recompute", "--all").out
