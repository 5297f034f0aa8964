"""Planning a visit is its own command: a visit is recorded once it has happened (never
ahead: ``spo visit add`` refuses a future day), a plan completes nothing, and the list says
whether each planned visit was made."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Spo

OM = "om1@force.example"


def plans(spo: Spo, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = spo("visit", "plans", "--json", *args).json()["plans"]  # type: ignore[index]
    return found


@pytest.mark.today("2026-03-04")
def test_a_future_visit_is_planned_not_recorded(caseload: Spo) -> None:
    refused = caseload("visit", "add", "S-001", "--date", "2026-03-06", code=2)
    assert refused.err.startswith("error: --date: 2026-03-06 is in the future")
    assert "spo visit plan" in refused.err
    said = caseload("visit", "plan", "S-001", "--date", "2026-03-06", "--kind", "initial",
                    "--officer", OM, "--note", "with the neighbourhood team")  # fmt: skip
    assert said.out == "planned a visit to S-001 on 2026-03-06 (initial)\n"
    [plan] = plans(caseload)
    assert (plan["subject"], plan["date"], plan["kind"], plan["officer"]) == (
        "S-001", "2026-03-06", "initial", OM,
    )  # fmt: skip
    assert (plan["status"], plan["visited"]) == ("planned", None)
    # a plan completes nothing: the initial visit is still open
    due = caseload("due", "--all", "--json", "--as-of", "2026-03-04").json()
    visit = next(a for a in due["actions"] if a["rule"] == "initial-visit")  # type: ignore[index]
    assert visit["status"] != "done"


@pytest.mark.today("2026-03-04")
def test_a_plan_for_a_past_day_is_refused_naming_the_command_that_records_it(
    caseload: Spo,
) -> None:
    before = caseload("export").out
    refused = caseload("visit", "plan", "S-001", "--date", "2026-03-03", code=2)
    assert refused.err == (
        "error: --date: 2026-03-03 is in the past (today is 2026-03-04): record a visit that "
        "happened with spo visit add\n"
    )
    caseload("visit", "plan", "S-001", "--date", "2026-03-05", "--officer", "nobody@x.example",
             code=3)  # fmt: skip
    caseload("visit", "plan", "S-404", "--date", "2026-03-05", code=3)
    assert caseload("export").out == before
    assert plans(caseload) == []


def test_a_plan_shows_visited_once_the_visit_is_recorded_and_missed_when_its_day_passes(
    caseload: Spo, time_machine: Any
) -> None:
    time_machine.move_to("2026-03-04 09:00:00+00:00", tick=False)
    caseload("visit", "plan", "S-001", "--date", "2026-03-05")
    caseload("visit", "plan", "S-001", "--date", "2026-03-09")
    time_machine.move_to("2026-03-12 09:00:00+00:00", tick=False)
    caseload("visit", "add", "S-001", "--date", "2026-03-06", "--kind", "initial")
    first, second = plans(caseload, "--subject", "S-001")
    assert (first["date"], first["status"], first["visited"]) == (
        "2026-03-05", "visited", "2026-03-06",
    )  # fmt: skip
    assert (second["date"], second["status"], second["visited"]) == ("2026-03-09", "missed", None)
    table = caseload("visit", "plans").out
    assert "visited 2026-03-06" in table
    assert "missed" in table
