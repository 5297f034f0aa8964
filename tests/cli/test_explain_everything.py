"""``spo explain`` answers for every action in every state: done, cancelled, overdue, upcoming,
not triggered yet, not applying; on the demo and on a generated caseload."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

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


def explained_late(spo: Spo, action_id: str, as_of: dt.date) -> str:
    out = spo("explain", action_id, "--as-of", as_of.isoformat()).out
    [line] = [line for line in out.splitlines() if line.strip().startswith("late ")]
    return line.split(None, 1)[1]


def initial_visit(spo: Spo) -> dict[str, Any]:
    plan = spo("plan", "S-001", "--include-done", "--json").json()
    assert isinstance(plan, dict)
    [action] = [a for a in plan["actions"] if a["rule"] == "initial-visit"]
    return dict(action)


def test_explain_says_how_overdue_an_open_action_is_and_how_late_a_done_one_was(
    caseload: Spo,
) -> None:
    action = initial_visit(caseload)
    due = dt.date.fromisoformat(action["due"])
    assert explained_late(caseload, action["id"], due) == "-"  # due today: not late yet
    assert explained_late(caseload, action["id"], due + dt.timedelta(days=1)) == (
        "1 day overdue, not done yet"
    )
    assert explained_late(caseload, action["id"], due + dt.timedelta(days=5)) == (
        "5 days overdue, not done yet"
    )
    visited = due + dt.timedelta(days=2)
    caseload("visit", "add", "S-001", "--date", visited.isoformat(), "--kind", "initial")
    done = initial_visit(caseload)
    assert done["completed"] == visited.isoformat()
    later = visited + dt.timedelta(days=30)
    assert explained_late(caseload, action["id"], later) == "yes: done 2 days after the due date"
    # on a day before the visit, it was still overdue and not done
    assert explained_late(caseload, action["id"], due + dt.timedelta(days=1)) == (
        "1 day overdue, not done yet"
    )


def test_explain_says_an_action_done_by_its_due_date_was_not_late(caseload: Spo) -> None:
    action = initial_visit(caseload)
    caseload("visit", "add", "S-001", "--date", action["due"], "--kind", "initial")
    later = dt.date.fromisoformat(action["due"]) + dt.timedelta(days=30)
    assert explained_late(caseload, action["id"], later) == "no"


@pytest.mark.today("2026-12-01")
def test_explain_says_an_action_lapsed_when_its_order_ended_with_it_still_open(spo: Spo) -> None:
    spo("officer", "add", "om@force.example", "--name", "O M", "--role", "offender-manager")
    spo("subject", "add", "S-101", "--name", "Leah Leap", "--officer", "om@force.example",
        "--since", "2024-02-29")  # fmt: skip
    spo("order", "add", "S-101", "O-101", "--type", "full", "--made", "2024-02-29",
        "--served", "2024-03-01", "--expires", "2026-02-28")  # fmt: skip
    plan = spo("plan", "S-101", "--include-done", "--json").json()
    assert isinstance(plan, dict)
    [renewal] = [a for a in plan["actions"] if a["rule"] == "renewal-submission"]
    ended = "2026-03-01"  # the day after its last day
    assert (renewal["status"], renewal["lapsed_on"], renewal["cancelled_on"]) == (
        "cancelled",
        ended,
        None,
    )
    out = spo("explain", renewal["id"]).out
    assert f"lapsed on {ended}: the order ended with it still open" in out.splitlines()[0]
    assert f"missed: still not done when the order ended (lapsed on {ended})" in out
    # the day before it lapsed, it was overdue, and said so
    before = spo("explain", renewal["id"], "--as-of", "2026-02-28", "--json").json()
    assert isinstance(before, dict)
    assert (before["action"]["status"], before["action"]["lapsed_on"]) == ("overdue", None)
    done = [a for a in plan["actions"] if a["status"] == "done"]
    assert all(a["lapsed_on"] is None for a in done)


def test_an_action_as_of_a_past_day_shows_no_completion_from_after_it(caseload: Spo) -> None:
    action = initial_visit(caseload)
    due = dt.date.fromisoformat(action["due"])
    visited = due + dt.timedelta(days=3)
    caseload("visit", "add", "S-001", "--date", visited.isoformat(), "--kind", "initial")
    for when, status, completed, late in (
        (due + dt.timedelta(days=1), "overdue", None, None),
        (visited, "done", visited.isoformat(), True),
    ):
        doc = caseload(
            "due", "--all", "--include-done", "--json", "--as-of", when.isoformat()
        ).json()
        assert isinstance(doc, dict)
        [shown] = [a for a in doc["actions"] if a["id"] == action["id"]]
        assert (shown["status"], shown["completed"], shown["late"]) == (status, completed, late)


def test_explain_history_shows_an_emptied_field_as_a_dash_not_none(caseload: Spo) -> None:
    action = initial_visit(caseload)
    out = caseload("visit", "add", "S-001", "--date", action["due"], "--kind", "initial").out
    [record] = re.findall(r"S-001/visit-\d+", out)
    caseload("void", record, "--reason", "recorded against the wrong subject")
    history = caseload("explain", action["id"]).out.split("History:", 1)[1]
    assert f"{action['due']} -> -" in history
    assert "None" not in history
