"""``spo explain`` answers for every action in every state: done, cancelled, overdue, upcoming,
not triggered yet, not applying; on the demo and on a generated caseload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import generate
from tests.conftest import Spo, invoke

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "caseload.json"


def every_action(spo: Spo) -> list[dict[str, object]]:
    subjects = json.loads(spo("subject", "list", "--json").out)["subjects"]
    actions: dict[str, dict[str, object]] = {}
    for subject in subjects:
        plan = spo("plan", subject["reference"], "--include-done", "--json").json()
        assert isinstance(plan, dict)
        actions |= {str(a["id"]): a for a in plan["actions"]}
    listed = spo("due", "--all", "--include-done", "--json").json()
    assert isinstance(listed, dict)
    actions |= {str(a["id"]): a for a in listed["actions"]}
    return list(actions.values())


def explain_all(spo: Spo) -> set[str]:
    statuses = set()
    for action in every_action(spo):
        for args in ((), ("--json",), ("--as-of", "2024-01-01"), ("--as-of", "2031-01-01")):
            result = invoke("explain", str(action["id"]), *args)
            assert result.code == 0, (action["id"], args, result.err)
            assert "Traceback" not in result.err
        statuses.add(str(action["status"]))
    return statuses


def test_explain_answers_for_every_action_of_the_demo(spo: Spo) -> None:
    spo("import", str(DEMO))
    statuses = explain_all(spo)
    assert {"done", "cancelled", "overdue", "upcoming"} <= statuses


def test_explain_answers_for_every_action_of_a_generated_caseload(
    spo: Spo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    officers, subjects = generate.build_caseload(25, seed=7)
    document = tmp_path / "caseload.json"
    generate.write_json(document, officers, subjects)
    spo("import", str(document))
    statuses = explain_all(spo)
    assert {"done", "overdue"} <= statuses
