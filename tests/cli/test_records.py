"""Putting a caseload in through the CLI, seeing it, and the audit trail of every change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import Spo

pytestmark = pytest.mark.both_engines  # the record behaves the same on SQLite and PostgreSQL


def show(spo: Spo, ref: str = "S-001") -> dict[str, Any]:
    doc = spo("show", ref, "--json").json()
    assert isinstance(doc, dict)
    return doc


@pytest.mark.today("2029-06-01")
def test_every_kind_of_fact_is_recorded_and_shown(caseload: Spo) -> None:
    spo = caseload
    spo(
        "condition",
        "add",
        "O-001",
        "--kind",
        "prohibition",
        "--text",
        "No contact",
        "--ends",
        "2027-03-02",
    )
    spo(
        "visit",
        "add",
        "S-001",
        "--date",
        "2026-03-06",
        "--kind",
        "initial",
        "--officer",
        "om1@force.example",
        "--outcome",
        "Seen at home",
    )
    spo(
        "breach",
        "add",
        "S-001",
        "--date",
        "2026-05-02",
        "--offence",
        "breach",
        "--crime-ref",
        "13/123/26",
        "--arrested",
    )
    spo("breach", "add", "S-001", "--date", "2026-03-10", "--offence", "failure-to-notify")
    spo(
        "notification",
        "add",
        "S-001",
        "--date",
        "2026-03-05",
        "--name",
        "John Smith",
        "--name",
        "Jack Smith",
        "--address",
        "1 High Street, Leeds",
        "--ack-ref",
        "ACK-1",
    )
    spo(
        "transfer",
        "out",
        "S-001",
        "--date",
        "2026-09-01",
        "--to-force",
        "Humberside Police",
        "--documents-sent",
    )
    spo("transfer", "in", "S-001", "--date", "2026-10-01", "--from-force", "Humberside Police")
    spo("review", "add", "S-001", "--date", "2026-04-03", "--by", "ds1@force.example")
    spo("smp", "add", "S-001", "--date", "2026-03-09", "--notes", "Plan v1")
    spo("renewal", "submit", "O-001", "--date", "2027-11-20")
    spo(
        "flag",
        "review",
        "F-001",
        "--date",
        "2027-03-01",
        "--outcome",
        "extended",
        "--until",
        "2028-03-31",
    )
    doc = show(spo)
    subject = doc["subject"]
    order = subject["orders"][0]
    assert order["conditions"] == [
        {
            "kind": "prohibition",
            "text": "No contact",
            "ends": "2027-03-02",
            "id": "O-001/condition-1",
        }
    ]
    assert order["renewals"] == [
        {"date": "2027-11-20", "decision": "submitted", "reason": None, "id": "O-001/renewal-1"}
    ]
    assert [b["offence"] for b in subject["breaches"]] == ["failure-to-notify", "breach"]
    assert subject["breaches"][1]["arrested"] is True
    assert subject["notifications"][0]["names"] == ["John Smith", "Jack Smith"]
    assert [t["direction"] for t in subject["transfers"]] == ["out", "in"]
    assert subject["transfers"][0]["documents_sent"] is True
    assert subject["reviews"][0]["by"] == "ds1@force.example"
    assert subject["flags"][0]["reviews"][0]["until"] == "2028-03-31"
    dates = [e["date"] for e in doc["timeline"] if e["date"]]
    assert dates == sorted(dates)
    visits = [e for e in doc["timeline"] if e["kind"] == "visit"]
    assert (visits[0]["text"], visits[0]["record"]) == (
        "initial visit by om1@force.example: Seen at home",
        "S-001/visit-1",
    )


def test_show_prints_a_readable_timeline(caseload: Spo) -> None:
    out = caseload("show", "S-001").out
    assert "John Smith" in out
    assert "full order O-001 made at Leeds Magistrates" in out
    assert "om1@force.example" in out


def test_interim_replaced_by_full_order_marks_the_interim_replaced(caseload: Spo) -> None:
    spo = caseload
    spo("subject", "add", "S-002", "--name", "Alan Brown")
    spo(
        "order",
        "add",
        "S-002",
        "I-1",
        "--type",
        "interim",
        "--made",
        "2026-01-10",
        "--expires",
        "2026-04-10",
    )
    spo(
        "order",
        "add",
        "S-002",
        "F-O-1",
        "--type",
        "full",
        "--made",
        "2026-03-20",
        "--until-further-order",
        "--replaces",
        "I-1",
    )
    orders = show(spo, "S-002")["subject"]["orders"]
    assert [(o["reference"], o["status"]) for o in orders] == [
        ("I-1", "replaced"),
        ("F-O-1", "active"),
    ]
    assert orders[1]["replaces"] == "I-1"
    err = spo(
        "order",
        "add",
        "S-002",
        "F-O-2",
        "--type",
        "full",
        "--made",
        "2026-03-21",
        "--until-further-order",
        "--replaces",
        "I-1",
        code=2,
    ).err
    assert "--replaces" in err


@pytest.mark.today("2029-06-01")
def test_variation_keeps_the_previous_end_and_the_audit_shows_before_and_after(
    caseload: Spo,
) -> None:
    caseload(
        "order",
        "vary",
        "O-001",
        "--date",
        "2027-01-10",
        "--expires",
        "2029-03-02",
        "--notes",
        "Extended by the court",
    )
    order = show(caseload)["subject"]["orders"][0]
    assert order["expires"] == "2029-03-02"
    assert order["variations"] == [
        {
            "date": "2027-01-10",
            "expires": "2029-03-02",
            "until_further_order": False,
            "previous_expires": "2028-03-02",
            "previous_until_further_order": False,
            "notes": "Extended by the court",
            "id": "O-001/variation-1",
        }
    ]
    entries = caseload("audit", "O-001", "--json").json()["entries"]  # type: ignore[index]
    update = next(e for e in entries if e["action"] == "order.vary" and e["before"])
    assert update["before"]["expires"] == "2028-03-02"
    assert update["after"]["expires"] == "2029-03-02"
    assert update["actor"] == "tester"


def test_subject_changes_are_history_not_overwrites(caseload: Spo) -> None:
    caseload(
        "subject",
        "update",
        "S-001",
        "--date",
        "2026-06-01",
        "--address",
        "9 Low Road, Bradford",
        "--risk",
        "medium",
        "--name",
        "John Smyth",
    )
    subject = show(caseload)["subject"]
    assert [a["address"] for a in subject["addresses"]] == [
        "1 High Street, Leeds",
        "9 Low Road, Bradford",
    ]
    assert [r["level"] for r in subject["risk_levels"]] == ["high", "medium"]
    listed = caseload("subject", "list", "--json").json()["subjects"][0]  # type: ignore[index]
    assert (listed["name"], listed["risk"]) == ("John Smyth", "medium")
    assert (
        "nothing to change"
        in caseload("subject", "update", "S-001", "--date", "2026-06-01", code=2).err
    )


def test_allocation_history_and_caseload_filter(caseload: Spo) -> None:
    caseload(
        "officer",
        "add",
        "om2@force.example",
        "--name",
        "Kim Lee",
        "--role",
        "offender-manager",
        "--team",
        "North",
        "--supervisor",
        "ds1@force.example",
    )
    caseload("allocate", "S-001", "--officer", "om2@force.example", "--date", "2026-04-01")
    mine = caseload("subject", "list", "--officer", "om2@force.example", "--json").json()
    theirs = caseload("subject", "list", "--officer", "om1@force.example", "--json").json()
    assert [s["reference"] for s in mine["subjects"]] == ["S-001"]  # type: ignore[index]
    assert theirs["subjects"] == []  # type: ignore[index]
    allocations = show(caseload)["subject"]["allocations"]
    assert [a["officer"] for a in allocations] == ["om1@force.example", "om2@force.example"]


@pytest.mark.today("2029-06-01")
def test_discharge_with_consents_within_two_years_sets_status(caseload: Spo) -> None:
    caseload(
        "order",
        "discharge",
        "O-001",
        "--date",
        "2027-01-01",
        "--subject-consents",
        "--police-consents",
    )
    order = show(caseload)["subject"]["orders"][0]
    assert order["status"] == "discharged"
    assert (
        "is discharged"
        in caseload(
            "order", "vary", "O-001", "--date", "2027-02-01", "--until-further-order", code=2
        ).err
    )


@pytest.mark.today("2029-06-01")
def test_refused_discharge_leaves_the_order_active(caseload: Spo) -> None:
    caseload("order", "discharge", "O-001", "--date", "2027-01-01", "--outcome", "refused")
    order = show(caseload)["subject"]["orders"][0]
    assert order["status"] == "active"
    assert order["discharge_applications"][0]["outcome"] == "refused"


def test_every_write_is_audited_with_actor_entity_and_after(caseload: Spo) -> None:
    entries = caseload("audit", "--json").json()["entries"]  # type: ignore[index]
    actions = [e["action"] for e in entries]
    assert actions.count("officer.add") == 2
    assert "subject.add" in actions
    assert "order.add" in actions
    assert "flag.add" in actions
    for entry in entries:
        assert entry["actor"] == "tester"
        assert entry["after"] is not None
        assert entry["at"].endswith("+00:00")
    subject_only = caseload("audit", "S-001", "--json").json()["entries"]  # type: ignore[index]
    assert {e["subject"] for e in subject_only} == {"S-001"}
    assert "order.add" in caseload("audit", "S-001").out


def test_officer_list_by_team_and_json(caseload: Spo) -> None:
    caseload("officer", "add", "scu@force.example", "--name", "Unit", "--role", "scu")
    officers = caseload("officer", "list", "--json").json()["officers"]  # type: ignore[index]
    assert {o["email"]: o["role"] for o in officers} == {
        "ds1@force.example": "supervisor",
        "om1@force.example": "offender-manager",
        "scu@force.example": "scu",
    }
    north = caseload("officer", "list", "--team", "North", "--json").json()["officers"]  # type: ignore[index]
    assert len(north) == 2


def test_the_audit_names_officers_by_email_and_leaves_out_row_ids(caseload: Spo) -> None:
    caseload("officer", "add", "om9@force.example", "--name", "Nine", "--role",
             "offender-manager", "--team", "North",
             "--supervisor", "ds1@force.example")  # fmt: skip
    caseload("allocate", "S-001", "--officer", "om9@force.example", "--date", "2026-03-10")
    doc: Any = caseload("audit", "S-001", "--json").json()
    images = [e[side] for e in doc["entries"] for side in ("before", "after") if e[side]]
    assert images
    for image in images:
        assert not {"officer_id", "by_id", "subject_id", "order_id", "flag_id"} & set(image)
    allocations = [
        e
        for e in doc["entries"]
        if str((e["after"] or {}).get("record_id", "")).startswith("S-001/allocation-")
    ]
    assert {e["after"]["officer"] for e in allocations} == {
        "om1@force.example",
        "om9@force.example",
    }
    officers: Any = caseload("audit", "om9@force.example", "--json").json()
    [added] = [e for e in officers["entries"] if e["action"] == "officer.add"]
    assert added["after"]["supervisor"] == "ds1@force.example"
    table = caseload("audit", "S-001").out
    assert "officer=om9@force.example" in table
    assert "officer_id" not in table


@pytest.mark.today("2026-12-01")
def test_an_order_past_its_expiry_is_shown_as_expired(spo: Spo) -> None:
    spo("subject", "add", "S-101", "--name", "Leah Leap", "--since", "2024-02-29")
    spo("order", "add", "S-101", "O-101", "--type", "full", "--made", "2024-02-29",
        "--served", "2024-03-01", "--expires", "2026-02-28")  # fmt: skip
    spo("subject", "add", "S-102", "--name", "Still Running", "--since", "2026-11-01")
    spo("order", "add", "S-102", "O-102", "--type", "full", "--made", "2026-11-01",
        "--expires", "2028-10-31")  # fmt: skip
    listed = spo("subject", "list").out
    assert "O-101 (full, expired)" in listed
    assert "O-102 (full, active)" in listed
    assert "(expires 2026-02-28; expired)" in spo("show", "S-101").out
    assert "(expires 2028-10-31; active)" in spo("show", "S-102").out


def test_an_order_runs_to_the_end_of_its_expiry_day() -> None:
    from spo_tracker.core import record as d

    made = dt.date(2024, 2, 29)
    order = d.Order("O-1", d.OrderType.FULL, made=made, expires=dt.date(2026, 2, 28))
    assert order.standing(dt.date(2026, 2, 28)) == "active"
    assert order.standing(dt.date(2026, 3, 1)) == "expired"
    open_ended = d.Order("O-2", d.OrderType.FULL, made=made, until_further_order=True)
    assert open_ended.standing(dt.date(2040, 1, 1)) == "active"
    ended = d.Order("O-3", d.OrderType.FULL, made=made, status=d.OrderStatus.DISCHARGED)
    assert ended.standing(dt.date(2024, 6, 1)) == "discharged"


def test_the_officer_list_says_who_has_left(caseload: Spo) -> None:
    caseload("officer", "add", "om3@force.example", "--name", "Jo Leaver", "--role",
             "offender-manager", "--team", "North")  # fmt: skip
    caseload("officer", "deactivate", "om3@force.example")
    rows = {line.split()[0]: line for line in caseload("officer", "list").out.splitlines()[1:]}
    assert rows["om3@force.example"].rstrip().endswith("no (left)")
    assert rows["om1@force.example"].rstrip().endswith("yes")
