"""A record officers can correct and trust: every fact has a record id; it is corrected or
voided with a reason and its history kept; facts are never dated in the future; actions a fact
completes are completed only by it; contradictions are refused; checklists and move-out
documents are itemised; an order's end starts its close-down.

The caseload fixture: S-001 (om1, supervised by ds1) under full order O-001, made 2026-03-03,
served 2026-03-04, expiring 2028-03-02.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import icalendar
import pytest

from tests.conftest import Spo


def show(spo: Spo, ref: str = "S-001", *args: str) -> dict[str, Any]:
    doc = spo("show", ref, "--json", *args).json()
    assert isinstance(doc, dict)
    return doc


def action(spo: Spo, rule: str, as_of: str = "2026-03-20") -> dict[str, Any]:
    doc: Any = spo("plan", "S-001", "--json", "--include-done", "--as-of", as_of).json()
    return next(a for a in doc["actions"] if a["rule"] == rule)


def audit_actions(spo: Spo) -> list[str]:
    return [e["action"] for e in json.loads(spo("audit", "S-001", "--json").out)["entries"]]


# ------------------------------------------------------------------------------ record ids


@pytest.mark.both_engines
def test_every_fact_has_a_record_id_numbered_under_its_subject_order_or_flag(
    caseload: Spo,
) -> None:
    spo = caseload
    assert spo("visit", "add", "S-001", "--date", "2026-03-06", "--kind", "initial").out == (
        "recorded visit S-001/visit-1 to S-001 on 2026-03-06\n"
    )
    spo("visit", "add", "S-001", "--date", "2026-03-05")  # back-dated: the next number still
    spo("condition", "add", "O-001", "--kind", "requirement", "--text", "Attend a course")
    subject = show(spo)["subject"]
    assert [v["id"] for v in subject["visits"]] == ["S-001/visit-2", "S-001/visit-1"]
    assert subject["names"][0]["id"] == "S-001/name-1"
    assert subject["orders"][0]["conditions"][-1]["id"].startswith("O-001/condition-")
    timeline = show(spo)["timeline"]
    assert {"S-001/visit-1", "S-001/visit-2"} <= {e["record"] for e in timeline}
    assert "S-001/visit-1" in spo("show", "S-001").out


@pytest.mark.both_engines
def test_corrections_and_voids_survive_export_and_import_and_ids_stay(
    caseload: Spo, tmp_path: Path, db_url: str
) -> None:
    spo = caseload
    spo("visit", "add", "S-001", "--date", "2026-03-06", "--kind", "initial")
    spo("visit", "add", "S-001", "--date", "2026-03-07")
    spo("correct", "S-001/visit-1", "--date", "2026-03-05", "--reason", "the day before")
    spo("void", "S-001/visit-2", "--reason", "a duplicate")
    exported = spo("export").out
    doc = json.loads(exported)
    [subject] = doc["subjects"]
    assert [v["id"] for v in subject["visits"]] == ["S-001/visit-1"]
    assert [(r["record"], r["change"]) for r in subject["revisions"]] == [
        ("S-001/visit-1", "corrected"),
        ("S-001/visit-2", "voided"),
    ]
    assert subject["revisions"][0]["before"]["date"] == "2026-03-06"
    assert subject["revisions"][0]["after"]["date"] == "2026-03-05"
    path = tmp_path / "export.json"
    path.write_text(exported)
    other = tmp_path / "other.db"
    assert spo("--db", str(other), "init").code == 0
    spo("--db", str(other), "import", str(path))
    assert spo("--db", str(other), "export").out == exported  # lossless
    # the voided visit keeps its number: the next visit is the third
    spo("--db", str(other), "visit", "add", "S-001", "--date", "2026-03-20")
    again = show(spo, "S-001")  # the first database, unchanged by the second
    assert [v["id"] for v in again["subject"]["visits"]] == ["S-001/visit-1"]
    moved = json.loads(spo("--db", str(other), "show", "S-001", "--json").out)
    assert [v["id"] for v in moved["subject"]["visits"]] == ["S-001/visit-1", "S-001/visit-3"]


# ------------------------------------------------------------------------------ correct, void


@pytest.mark.both_engines
def test_a_corrected_visit_date_recomputes_the_deadline_and_keeps_the_earlier_version(
    caseload: Spo,
) -> None:
    spo = caseload
    spo("visit", "add", "S-001", "--date", "2026-03-12", "--kind", "initial")
    late = action(spo, "initial-visit")
    assert (late["completed"], late["late"]) == ("2026-03-12", True)  # due 2026-03-10
    out = spo("correct", "S-001/visit-1", "--date", "2026-03-09", "--reason", "typed 12 for 9").out
    assert "corrected S-001/visit-1" in out
    fixed = action(spo, "initial-visit")
    assert (fixed["completed"], fixed["late"]) == ("2026-03-09", False)
    history = json.loads(spo("explain", fixed["id"], "--json").out)["history"]
    assert [(h["field"], h["old"], h["new"], h["cause"]) for h in history][-1] == (
        "completed",
        "2026-03-12",
        "2026-03-09",
        "S-001/visit-1 corrected",
    )
    revisions = show(spo, "S-001", "--history")["history"]
    assert [(r["record"], r["change"], r["reason"]) for r in revisions] == [
        ("S-001/visit-1", "corrected", "typed 12 for 9")
    ]
    assert revisions[0]["before"]["date"] == "2026-03-12"
    assert "record.correct" in audit_actions(spo)
    text = spo("show", "S-001", "--history").out
    assert "typed 12 for 9" in text
    assert "date=2026-03-12" in text


def test_a_voided_visit_reopens_its_action_and_stays_in_the_history(caseload: Spo) -> None:
    spo = caseload
    spo("visit", "add", "S-001", "--date", "2026-03-06", "--kind", "initial")
    assert action(spo, "initial-visit")["status"] == "done"
    spo("void", "S-001/visit-1", "--reason", "the visit was to S-002")
    assert action(spo, "initial-visit")["status"] == "overdue"
    assert show(spo)["subject"]["visits"] == []
    revisions = show(spo, "S-001", "--history")["history"]
    assert (revisions[0]["change"], revisions[0]["before"]["kind"]) == ("voided", "initial")
    again = spo("void", "S-001/visit-1", "--reason", "again", code=2)
    assert "already voided" in again.err
    assert "was voided" in spo("correct", "S-001/visit-1", "--date", "2026-03-07", "--reason",
                               "x", code=2).err  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("S-001/visit-9", "--date", "2026-03-07"), 3, "error: record S-001/visit-9 not found"),
        (("S-001-visit", "--date", "2026-03-07"), 2, "is not a record id"),
        (("S-001/visit-1", "--text", "x"), 2, "error: --text: a visit has no text"),
        (("S-001/visit-1", "--kind", "weekly"), 2,
         "error: --kind: 'weekly' is not one of initial, routine, unannounced"),
        (("S-001/visit-1", "--date", "2026-02-30"), 2, "error: --date: "),
        (("S-001/visit-1", "--date", "2031-01-01"), 2, "error: --date: 2031-01-01 is in the"),
        (("S-001/visit-1", "--date", "2026-03-06"), 2, "nothing to correct"),
        (("S-001/visit-1", "--officer", "nobody@force.example"), 3,
         "officer nobody@force.example not found"),
    ],
)  # fmt: skip
def test_a_bad_correction_is_refused_with_one_line_and_nothing_written(
    caseload: Spo, snapshot: Any, args: tuple[str, ...], code: int, error: str
) -> None:
    caseload("visit", "add", "S-001", "--date", "2026-03-06", "--kind", "initial")
    before = snapshot()
    result = caseload("correct", *args, "--reason", "a reason", code=code)
    assert error in result.err
    assert result.err.count("\n") == 1
    assert result.out == ""
    assert snapshot() == before


def test_a_correction_needs_a_reason_and_cannot_make_a_contradiction(caseload: Spo) -> None:
    spo = caseload
    spo("condition", "add", "O-001", "--kind", "prohibition", "--text", "No contact",
        "--ends", "2027-01-01")  # fmt: skip
    empty = spo("correct", "O-001/condition-1", "--ends", "2027-02-01", "--reason", " ", code=2)
    assert empty.err == "error: --reason: must not be empty\n"
    after = spo("correct", "O-001/condition-1", "--ends", "2028-06-01", "--reason", "x", code=2)
    assert "after order O-001 ends (2028-03-02)" in after.err
    spo("correct", "O-001/condition-1", "--ends", "2027-02-01", "--reason", "the court's date")
    conditions = show(spo)["subject"]["orders"][0]["conditions"]
    assert conditions[0]["ends"] == "2027-02-01"


@pytest.mark.today("2027-08-01")
def test_correcting_or_voiding_the_latest_variation_puts_the_orders_end_right(
    caseload: Spo,
) -> None:
    spo = caseload
    spo("order", "vary", "O-001", "--date", "2027-06-01", "--expires", "2029-05-31")
    spo("correct", "O-001/variation-1", "--expires", "2029-06-30", "--reason", "typo")
    assert show(spo)["subject"]["orders"][0]["expires"] == "2029-06-30"
    spo("void", "O-001/variation-1", "--reason", "the court did not vary it")
    order = show(spo)["subject"]["orders"][0]
    assert (order["expires"], order["variations"]) == ("2028-03-02", [])
    renewal = action(spo, "renewal-submission", as_of="2027-08-01")
    assert renewal["due"] == "2027-12-02"  # 3 months before the original end again


@pytest.mark.today("2027-08-01")
def test_voiding_a_granted_discharge_makes_the_order_active_again(caseload: Spo) -> None:
    spo = caseload
    spo("order", "discharge", "O-001", "--date", "2027-06-01", "--subject-consents",
        "--police-consents")  # fmt: skip
    assert show(spo)["subject"]["orders"][0]["status"] == "discharged"
    spo("void", "O-001/discharge-1", "--reason", "recorded on the wrong order")
    assert show(spo)["subject"]["orders"][0]["status"] == "active"


# ------------------------------------------------------------------------------ the future


@pytest.mark.parametrize(
    "command",
    [
        ("visit", "add", "S-001", "--date", "{tomorrow}"),
        ("breach", "add", "S-001", "--date", "{tomorrow}"),
        ("notification", "add", "S-001", "--date", "{tomorrow}", "--ack-ref", "A-1"),
        ("review", "add", "S-001", "--date", "{tomorrow}", "--by", "ds1@force.example"),
        ("smp", "add", "S-001", "--date", "{tomorrow}"),
        ("transfer", "out", "S-001", "--date", "{tomorrow}", "--to-force", "Humberside"),
        ("allocate", "S-001", "--officer", "ds1@force.example", "--date", "{tomorrow}"),
        ("subject", "update", "S-001", "--date", "{tomorrow}", "--risk", "low"),
        ("renewal", "submit", "O-001", "--date", "{tomorrow}"),
    ],
)
@pytest.mark.today("2026-06-30")
def test_no_fact_is_dated_after_today(
    caseload: Spo, snapshot: Any, command: tuple[str, ...]
) -> None:
    before = snapshot()
    args = [a.replace("{tomorrow}", "2026-07-01") for a in command]
    result = caseload(*args, code=2)
    assert "2026-07-01 is in the future (today is 2026-06-30)" in result.err
    assert result.err.startswith("error: --date: ")
    assert snapshot() == before
    caseload(*[a.replace("{tomorrow}", "2026-06-30") for a in command])  # today is fine


def test_an_import_with_a_fact_in_the_future_is_refused_with_its_path(
    caseload: Spo, tmp_path: Path
) -> None:
    doc = json.loads(caseload("export").out)
    subject = doc["subjects"][0]
    subject["reference"], subject["orders"], subject["flags"] = "S-NEW", [], []
    for entry in (
        subject["names"] + subject["addresses"] + subject["risk_levels"] + subject["allocations"]
    ):
        entry.pop("id")
    subject["visits"] = [{"date": "2099-01-01", "kind": "routine"}]
    doc["officers"] = []
    path = tmp_path / "future.json"
    path.write_text(json.dumps(doc))
    result = caseload("import", str(path), code=2)
    assert "error: subjects[0].visits[0].date: 2099-01-01 is in the future" in result.err


# ------------------------------------------------------------------------------ completion


def test_an_action_a_fact_completes_is_not_marked_done_by_hand(caseload: Spo) -> None:
    visit = action(caseload, "initial-visit")
    refused = caseload("action", "done", visit["id"], "--date", "2026-03-06", code=2)
    assert refused.err == (
        "error: action_id: initial visit is completed by recording the fact, not marked done: "
        "spo visit add S-001 --date DATE --kind initial\n"
    )


@pytest.mark.today("2027-01-10")
def test_a_manual_completion_is_once_not_in_the_future_and_corrected_with_a_reason(
    caseload: Spo,
) -> None:
    spo = caseload
    spo("condition", "add", "O-001", "--kind", "prohibition", "--text", "No contact",
        "--ends", "2027-03-02")  # fmt: skip
    condition = action(spo, "condition-expiry", as_of="2027-01-10")
    future = spo("action", "done", condition["id"], "--date", "2027-01-11", code=2)
    assert "2027-01-11 is in the future" in future.err
    spo("action", "done", condition["id"], "--date", "2027-01-08", "--note", "court told")
    twice = spo("action", "done", condition["id"], "--date", "2027-01-01", code=2)
    assert (
        f"{condition['id']} was already marked done on 2027-01-08 (S-001/override-1)" in twice.err
    )
    assert "spo correct S-001/override-1 --date DATE --reason TEXT" in twice.err
    spo("correct", "S-001/override-1", "--date", "2027-01-05", "--reason", "the letter's date")
    done = action(spo, "condition-expiry", as_of="2027-01-10")
    assert (done["status"], done["completed"]) == ("done", "2027-01-05")


@pytest.mark.today("2026-05-10")
def test_a_breach_outcome_recorded_later_completes_the_response_on_that_day(
    caseload: Spo,
) -> None:
    spo = caseload
    spo("breach", "add", "S-001", "--date", "2026-05-02", "--crime-ref", "13/1/26")
    response = action(spo, "breach-response", as_of="2026-05-10")
    assert response["status"] == "overdue"
    explained = json.loads(spo("explain", response["id"], "--json").out)
    assert explained["record_it"].startswith("spo breach update S-001/breach-1 --outcome")
    no_outcome = spo("breach", "update", "S-001/breach-1", "--date", "2026-05-04", code=2)
    assert "give --outcome too" in no_outcome.err
    spo("breach", "update", "S-001/breach-1", "--arrested", "--charged")
    spo("breach", "update", "S-001/breach-1", "--outcome", "remanded", "--date", "2026-05-04")
    done = action(spo, "breach-response", as_of="2026-05-10")
    assert (done["status"], done["completed"], done["late"]) == ("done", "2026-05-04", True)
    [breach] = show(spo)["subject"]["breaches"]
    assert (breach["arrested"], breach["charged"], breach["outcome_on"]) == (
        True,
        True,
        "2026-05-04",
    )
    again = spo("breach", "update", "S-001/breach-1", "--outcome", "bailed", code=2)
    assert "already has its outcome, recorded on 2026-05-04" in again.err


# ------------------------------------------------------------------------------ contradictions


@pytest.mark.today("2027-12-01")
def test_a_renewal_submitted_and_declined_in_one_term_is_refused(caseload: Spo) -> None:
    spo = caseload
    spo("renewal", "submit", "O-001", "--date", "2027-11-20")
    refused = spo("renewal", "decline", "O-001", "--date", "2027-11-25", "--reason", "x", code=2)
    assert "already submitted on 2027-11-20 (O-001/renewal-1) for this term" in refused.err
    spo("void", "O-001/renewal-1", "--reason", "submitted by mistake")
    spo("renewal", "decline", "O-001", "--date", "2027-11-25", "--reason", "subject deceased")


def test_a_second_move_out_without_a_move_back_is_refused(caseload: Spo) -> None:
    spo = caseload
    spo("transfer", "out", "S-001", "--date", "2026-06-01", "--to-force", "Humberside")
    refused = spo("transfer", "out", "S-001", "--date", "2026-07-01", "--to-force", "Kent", code=2)
    assert "already moved out on 2026-06-01 (S-001/transfer-1)" in refused.err
    spo("transfer", "in", "S-001", "--date", "2026-06-20", "--from-force", "Humberside")
    spo("transfer", "out", "S-001", "--date", "2026-07-01", "--to-force", "Kent")


def test_a_second_move_in_without_a_move_out_between_is_refused(caseload: Spo) -> None:
    """Taken as a second arrival it would hand the orders made in between to another force
    and drop their deadlines; the record keeps the first."""
    spo = caseload
    spo("transfer", "in", "S-001", "--date", "2026-06-01", "--from-force", "Lancashire")
    before = spo("plan", "S-001", "--include-done", "--json").out
    refused = spo("transfer", "in", "S-001", "--date", "2026-07-01", "--from-force", "Kent",
                  code=2)  # fmt: skip
    assert "already moved in on 2026-06-01 (S-001/transfer-1) and has not moved out" in refused.err
    assert refused.err.count("\n") == 1
    assert spo("plan", "S-001", "--include-done", "--json").out == before
    # a move in dated before the move out it would return from is the same contradiction
    spo("transfer", "out", "S-001", "--date", "2026-08-01", "--to-force", "Kent")
    early = spo("transfer", "in", "S-001", "--date", "2026-07-15", "--from-force", "Kent", code=2)
    assert "already moved in on 2026-06-01" in early.err
    spo("transfer", "in", "S-001", "--date", "2026-08-20", "--from-force", "Kent")


def test_a_condition_ending_after_its_order_and_a_review_of_a_removed_flag_are_refused(
    caseload: Spo,
) -> None:
    spo = caseload
    late = spo("condition", "add", "O-001", "--kind", "prohibition", "--text", "x", "--ends",
               "2028-03-03", code=2)  # fmt: skip
    assert "after order O-001 ends (2028-03-02)" in late.err
    spo("flag", "review", "F-001", "--date", "2026-04-01", "--outcome", "removed")
    again = spo("flag", "review", "F-001", "--date", "2026-05-01", "--outcome", "removed", code=2)
    assert "the flag was removed on 2026-04-01" in again.err


# ------------------------------------------------------------------------------ itemised


def test_move_out_documents_are_itemised_and_explain_names_the_missing(caseload: Spo) -> None:
    spo = caseload
    spo("transfer", "out", "S-001", "--date", "2026-06-01", "--to-force", "Humberside",
        "--sent", "statement-of-service=2026-06-01")  # fmt: skip
    notify = action(spo, "transfer-out-notify", as_of="2026-06-05")
    assert notify["status"] == "overdue"
    assert (
        "Still to send: the Subject Management Plan (smp); the risk information (risk-information)."
        in notify["explanation"]
    )
    before = spo("transfer", "documents", "S-001", "--sent", "smp=2026-05-30", code=2)
    assert "smp sent on 2026-05-30, before the move out (2026-06-01)" in before.err
    bad = spo("transfer", "documents", "S-001", "--sent", "minutes=2026-06-02", code=2)
    assert "ITEM one of statement-of-service, smp, risk-information" in bad.err
    out = spo("transfer", "documents", "S-001", "--sent", "smp=2026-06-02").out
    assert "still to send: risk-information" in out
    twice = spo("transfer", "documents", "S-001", "--sent", "smp=2026-06-03", code=2)
    assert "smp was already recorded as sent on 2026-06-02" in twice.err
    spo("transfer", "documents", "S-001", "--sent", "risk-information=2026-06-04")
    done = action(spo, "transfer-out-notify", as_of="2026-06-05")
    assert (done["status"], done["completed"]) == ("done", "2026-06-04")


@pytest.mark.today("2026-05-01")
def test_a_discharge_starts_the_close_down_checklist(caseload: Spo) -> None:
    spo = caseload
    spo("order", "discharge", "O-001", "--date", "2026-04-01", "--subject-consents",
        "--police-consents")  # fmt: skip
    close = action(spo, "order-close-down", as_of="2026-04-20")
    assert (close["trigger_date"], close["due"], close["status"]) == (
        "2026-04-01",
        "2026-04-08",
        "overdue",
    )
    assert "order O-001 discharged" in close["explanation"]
    items = json.loads(spo("checklist", "O-001", "--json").out)["items"]
    closing = [i["item"] for i in items if i["checklist"] == "order-close-down"]
    assert closing == ["pnc-closed", "flag-adjusted", "victim-told"]
    for item, day in (("pnc-closed", "2026-04-02"), ("flag-adjusted", "2026-04-03"),
                      ("victim-told", "2026-04-09")):  # fmt: skip
        spo("checklist", "done", "O-001", item, "--date", day, "--ref", "REF-1")
    done = action(spo, "order-close-down", as_of="2026-04-20")
    assert (done["status"], done["completed"], done["late"]) == ("done", "2026-04-09", True)
    unknown = spo("checklist", "done", "O-001", "pnc", "--date", "2026-04-02", code=2)
    assert "'pnc' is not an item of O-001's checklists" in unknown.err
    assert "order O-404 not found" in spo("checklist", "O-404", code=3).err


@pytest.mark.today("2026-05-01")
def test_reminders_and_calendar_entries_list_the_checklist_items_still_to_do(
    caseload: Spo,
) -> None:
    """The command names ITEM: every message about a checklist says which items, by the
    ids that command takes, are not recorded yet, and stops naming one once it is."""
    spo = caseload
    spo("order", "discharge", "O-001", "--date", "2026-04-01", "--subject-consents",
        "--police-consents")  # fmt: skip
    close = action(spo, "order-close-down", as_of="2026-04-20")
    items = [
        i["item"]
        for i in json.loads(spo("checklist", "O-001", "--json").out)["items"]
        if i["checklist"] == "order-close-down"
    ]
    assert len(items) >= 2

    def listed(item: str) -> dict[str, bool]:
        text = spo("mail", "preview", "escalation", "--action", close["id"]).out
        page = spo("mail", "preview", "escalation", "--action", close["id"], "--html").out
        calendar = spo("calendar", "export", "--subject", "S-001", "--as-of", "2026-04-20").out
        [event] = [
            e
            for e in icalendar.Calendar.from_ical(calendar).walk("VEVENT")
            if str(e["UID"]).startswith(close["id"])
        ]
        [line] = [x for x in str(event["DESCRIPTION"]).splitlines() if x.startswith("Still")]
        return {
            "text": f"({item})" in text.split("Still to do: ", 1)[1].split("\n", 1)[0],
            "html": f"({item})" in page.split(">Still to do</th><td>", 1)[1].split("</td>")[0],
            "calendar": f"({item})" in line,
        }

    everywhere = {"text": True, "html": True, "calendar": True}
    nowhere = {"text": False, "html": False, "calendar": False}
    assert all(listed(item) == everywhere for item in items)
    spo("checklist", "done", "O-001", items[0], "--date", "2026-04-02", "--ref", "REF-1")
    assert listed(items[0]) == nowhere
    assert all(listed(item) == everywhere for item in items[1:])


@pytest.mark.today("2026-05-01")
def test_a_close_down_item_cannot_be_recorded_before_the_order_ends(caseload: Spo) -> None:
    spo = caseload
    close = action(spo, "order-close-down", as_of="2026-05-01")  # O-001 runs to 2028-03-02
    begins = close["trigger_date"]
    assert begins > "2026-05-01"
    early = spo("checklist", "done", "O-001", "pnc-closed", "--date", "2026-04-30", "--ref",
                "REF-1", code=2)  # fmt: skip
    assert early.err.startswith("error: --date: pnc-closed is an item of O-001's order close-down")
    assert f"which begins on {begins}" in early.err
    assert early.err.count("\n") == 1
    doc: Any = spo("checklist", "O-001", "--json").json()
    closing = [i for i in doc["items"] if i["checklist"] == "order-close-down"]
    assert {(i["state"], i["begins"], i["done"]) for i in closing} == {("not-yet", begins, None)}
    table = spo("checklist", "O-001").out
    assert f"from {begins}" in table
    # the grant checklist began with the grant: its items are to do
    granted = [i for i in doc["items"] if i["checklist"] == "grant-checklist"]
    assert {i["state"] for i in granted} == {"to-do"}
    later: Any = spo("checklist", "O-001", "--json", "--as-of", begins).json()
    assert {i["state"] for i in later["items"] if i["checklist"] == "order-close-down"} == {"to-do"}


@pytest.mark.today("2026-05-01")
def test_an_item_corrected_to_before_its_checklist_began_no_longer_counts(caseload: Spo) -> None:
    spo = caseload
    spo("order", "discharge", "O-001", "--date", "2026-04-01", "--subject-consents",
        "--police-consents")  # fmt: skip
    for item, day in (("pnc-closed", "2026-04-02"), ("flag-adjusted", "2026-04-03"),
                      ("victim-told", "2026-04-04")):  # fmt: skip
        spo("checklist", "done", "O-001", item, "--date", day, "--ref", "REF-1")
    done = action(spo, "order-close-down", as_of="2026-04-20")
    assert (done["status"], done["completed"]) == ("done", "2026-04-04")
    doc: Any = spo("checklist", "O-001", "--json").json()
    [pnc] = [i for i in doc["items"] if i["item"] == "pnc-closed"]
    before = dt.date.fromisoformat(done["trigger_date"]) - dt.timedelta(days=1)
    spo("correct", pnc["record"], "--date", before.isoformat(), "--reason", "typed the wrong day")
    reopened = action(spo, "order-close-down", as_of="2026-04-20")
    assert (reopened["status"], reopened["completed"]) == ("overdue", None)
    assert "(pnc-closed)" in reopened["explanation"]
    doc = spo("checklist", "O-001", "--json").json()
    [pnc] = [i for i in doc["items"] if i["item"] == "pnc-closed"]
    assert (pnc["state"], pnc["done"]) == ("too-early", before.isoformat())
    assert "not counted" in spo("checklist", "O-001").out


@pytest.mark.today("2026-12-01")
def test_the_officer_allocated_before_a_move_in_can_be_allocated_again_on_arrival(
    caseload: Spo,
) -> None:
    """The move-in's "allocate an offender manager" is answered by an allocation on or after
    the arrival; one made ahead of it must not leave the action open for good."""
    spo = caseload
    spo("subject", "add", "S-104", "--name", "Tom Incomer", "--since", "2026-11-20")
    spo("order", "add", "S-104", "O-105", "--type", "full", "--made", "2025-05-01",
        "--served", "2025-05-02", "--expires", "2027-04-30")  # fmt: skip
    spo("transfer", "in", "S-104", "--date", "2026-11-20", "--from-force", "Lancashire")
    spo("allocate", "S-104", "--officer", "om1@force.example", "--date", "2026-11-19")

    def allocation() -> dict[str, Any]:
        doc: Any = spo("plan", "S-104", "--json", "--include-done", "--as-of", "2026-12-01").json()
        return next(a for a in doc["actions"] if a["rule"] == "transfer-in-allocation")

    assert allocation()["status"] == "overdue"  # allocated the day before arrival
    spo("allocate", "S-104", "--officer", "om1@force.example", "--date", "2026-11-28")
    assert (allocation()["status"], allocation()["completed"]) == ("done", "2026-11-28")
    again = spo("allocate", "S-104", "--officer", "om1@force.example", "--date", "2026-11-29",
                code=2)  # fmt: skip
    assert "S-104 is already allocated to om1@force.example" in again.err
