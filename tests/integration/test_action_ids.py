"""Action ids of 16 hex digits (schema 0004), and databases made before it.

The 10-digit ids used before collided at national scale (the stress benchmark's import failed
on two actions with one id). Migration 0004 lengthens every stored id; these tests take a
database with sent reminders and overrides down to 0003 and back up, and check that nothing
would be sent again, that overrides still apply, and that old ids typed by users still work.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from spo_tracker.core.rules import action_id
from spo_tracker.store.db import make_engine, upgrade
from spo_tracker.store.schema import resolve_url
from tests.conftest import Spo

pytestmark = pytest.mark.both_engines

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "caseload.json"


def state(url: str) -> dict[str, object]:
    engine = make_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            return {
                "actions": sorted(conn.execute(text("SELECT * FROM action")).all()),
                "history": sorted(
                    conn.execute(
                        text("SELECT action_id, field, old, new, cause FROM action_history")
                    ).all()
                ),
                "outbox": sorted(
                    conn.execute(text("SELECT action_id, dedupe_key, state FROM outbox")).all(),
                    key=str,
                ),
                "overrides": sorted(conn.execute(text("SELECT action FROM action_override")).all()),
            }
    finally:
        engine.dispose()


def migrate(url: str, revision: str) -> None:
    engine = make_engine(resolve_url(url))
    try:
        if revision == "head":
            upgrade(engine)
        else:
            from alembic import command

            from spo_tracker.store.db import alembic_config

            config = alembic_config(engine)
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_ids_are_16_hex_digits_and_old_databases_keep_their_history(
    spo: Spo, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", action_id("S-1", "initial-visit", "O-1", "O-1"))
    spo("import", str(DEMO))  # its overrides name actions by their old 10-digit ids
    monkeypatch.setenv("SPO_MAILDIR", str(tmp_path / "maildir"))
    spo("run", "--once", "--now", "2026-11-23T08:00:00+00:00")
    before = state(db_url)
    assert before["outbox"], "the sweep queued reminders"
    assert {len(str(r[0])) for r in before["actions"]} == {16}  # type: ignore[attr-defined]

    migrate(db_url, "0003")
    old = state(db_url)
    assert {len(str(r[0])) for r in old["actions"]} == {10}  # type: ignore[attr-defined]
    assert all(":" + str(a)[:10] + ":" in str(k) for a, k, _ in old["outbox"] if a)  # type: ignore[attr-defined]

    migrate(db_url, "head")
    after = state(db_url)
    overrides = [str(r[0]) for r in after.pop("overrides")]  # type: ignore[attr-defined]
    imported = [str(r[0]) for r in before.pop("overrides")]  # type: ignore[attr-defined]
    # every id, history row and outbox key restored; the owner column (schema 0006) came back
    # with its default and the next recompute puts each owner back
    owners = {str(r[0]): r[-1] for r in before["actions"]}  # type: ignore[attr-defined]
    assert (
        [tuple(r)[:-1] for r in after.pop("actions")]
        == [  # type: ignore[attr-defined]
            tuple(r)[:-1]
            for r in before.pop("actions")  # type: ignore[attr-defined]
        ]
    )
    assert after == before
    # the overrides imported with old ids now name their actions by the whole id
    assert [len(o) for o in overrides] == [16] * len(imported)
    assert all(o.startswith(i) for o, i in zip(overrides, imported, strict=True))
    assert set(overrides) <= set(owners)
    # nothing is due again: a second pass queues and sends nothing new
    sent = len(list((tmp_path / "maildir" / "new").iterdir()))
    spo("run", "--once", "--now", "2026-11-23T08:00:00+00:00")
    assert len(list((tmp_path / "maildir" / "new").iterdir())) == sent
    spo("recompute", "--all")
    assert {str(r[0]): r[-1] for r in state(db_url)["actions"]} == owners  # type: ignore[attr-defined]
    assert "0 change" in spo("recompute", "--all").out


def test_an_id_can_be_given_by_its_start(spo: Spo) -> None:
    spo("import", str(DEMO))
    doc = spo("due", "--all", "--json", "--as-of", "2026-11-23").json()
    assert isinstance(doc, dict)
    full = doc["actions"][0]["id"]
    assert len(full) == 16
    for given in (full, full[:10], full[:6]):
        assert full in spo("explain", given).out
    short = spo("explain", full[:5], code=3)
    assert "not found (give at least 6 characters of its id)" in short.err
    spo("action", "override", full[:10], "--due", "2026-11-30", "--reason", "checked")
    assert full in spo("audit", "--json").out  # the override names the whole id
