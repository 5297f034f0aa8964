"""Who may do the sensitive things: overrides and waivers, discharges, corrections and voids of
another officer's records, purges. On by default (``restrict_sensitive``): the SCU, or a
supervisor of the subject's team; a refusal is exit 4, changes nothing, and is audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spo_tracker.config import load_settings
from tests.conftest import Spo

DS = "ds1@force.example"  # supervises om1, team North (the caseload fixture)
OM = "om1@force.example"
OTHER_DS = "ds2@force.example"  # team South
SCU = "scu1@force.example"


@pytest.fixture
def restricted(caseload: Spo, monkeypatch: pytest.MonkeyPatch) -> Spo:
    caseload(
        "officer", "add", OTHER_DS, "--name", "Other", "--role", "supervisor", "--team", "South"
    )
    caseload("officer", "add", SCU, "--name", "Coordinator", "--role", "scu")
    caseload("subject", "add", "S-UN", "--name", "Una Allocated")
    caseload("order", "add", "S-UN", "O-UN", "--type", "full", "--made", "2026-01-10",
             "--until-further-order")  # fmt: skip
    monkeypatch.delenv("SPO_RESTRICT_SENSITIVE")  # the default, as installed
    return caseload


def refusals(spo: Spo) -> list[dict[str, Any]]:
    entries = json.loads(spo("audit", "--json").out)["entries"]
    return [e for e in entries if e["action"] == "refused"]


def action_of(spo: Spo, subject: str, rule: str) -> str:
    doc: Any = spo("due", "--all", "--as-of", "2026-03-10", "--json", "--include-done").json()
    return str(
        next(a["id"] for a in doc["actions"] if a["subject"] == subject and a["rule"] == rule)
    )


def test_the_restriction_is_on_unless_a_deployment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPO_RESTRICT_SENSITIVE", raising=False)
    monkeypatch.delenv("SPO_CONFIG", raising=False)
    assert load_settings().restrict_sensitive is True
    monkeypatch.setenv("SPO_RESTRICT_SENSITIVE", "false")
    assert load_settings().restrict_sensitive is False


def test_a_waiver_needs_the_subjects_team_supervisor_or_the_scu_and_refusals_are_audited(
    restricted: Spo,
) -> None:
    spo = restricted
    visit = action_of(spo, "S-001", "initial-visit")
    waive = ("action", "override", visit, "--waive", "--reason", "in hospital")
    for who in (OM, OTHER_DS, "someone"):
        result = spo(*waive, "--as", who, code=4)
        assert result.err.startswith(f"error: not permitted: {who} may not override or waive")
        assert result.out == ""
    assert "not their team's" in spo(*waive, "--as", OTHER_DS, code=4).err
    refused = refusals(spo)
    assert [(e["actor"], e["ref"]) for e in refused][:3] == [
        (OM, visit),
        (OTHER_DS, visit),
        ("someone", visit),
    ]
    assert all("override" in e["after"]["what"] for e in refused)
    # nothing was waived by any of them
    assert not any(
        e["action"] == "action.waive" for e in json.loads(spo("audit", "--json").out)["entries"]
    )
    spo(*waive, "--as", DS)
    other = action_of(spo, "S-001", "smp-created")
    spo("action", "override", other, "--due", "2026-03-20", "--reason", "plan", "--as", SCU)


def test_an_unallocated_subjects_discharge_is_the_scus(restricted: Spo) -> None:
    spo = restricted
    discharge = ("order", "discharge", "O-UN", "--date", "2026-06-01", "--subject-consents",
                 "--police-consents")  # fmt: skip
    spo(*discharge, "--as", DS, code=4)
    spo(*discharge, "--as", OM, code=4)
    spo(*discharge, "--as", SCU)
    status = json.loads(spo("subject", "list", "--json").out)
    [una] = [s for s in status["subjects"] if s["reference"] == "S-UN"]
    assert una["orders"][0]["status"] == "discharged"


def test_an_officer_corrects_their_own_record_and_only_a_supervisor_anothers(
    restricted: Spo,
) -> None:
    spo = restricted
    spo("visit", "add", "S-001", "--date", "2026-03-06", "--kind", "initial", "--as", OM)
    spo("correct", "S-001/visit-1", "--date", "2026-03-05", "--reason", "wrong day", "--as", OM)
    spo("visit", "add", "S-001", "--date", "2026-03-09", "--as", DS)
    refused = spo("void", "S-001/visit-2", "--reason", "not mine to keep", "--as", OM, code=4)
    assert "may not void another officer's record" in refused.err
    spo("void", "S-001/visit-2", "--reason", "a duplicate", "--as", OTHER_DS, code=4)
    spo("void", "S-001/visit-2", "--reason", "a duplicate", "--as", DS)
    assert [e["ref"] for e in refusals(spo)] == ["S-001/visit-2", "S-001/visit-2"]


def test_a_purge_needs_a_supervisor_or_the_scu(restricted: Spo) -> None:
    spo = restricted
    assert "may not purge records" in spo("retention", "purge", "--confirm", "--as", OM, code=4).err
    spo("retention", "purge", "--confirm", "--as", SCU)


def test_turned_off_anyone_may(restricted: Spo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPO_RESTRICT_SENSITIVE", "false")
    visit = action_of(restricted, "S-001", "initial-visit")
    restricted(
        "action", "override", visit, "--waive", "--reason", "one-person install", "--as", "me"
    )
    assert refusals(restricted) == []
