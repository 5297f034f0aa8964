"""Deadlines through the CLI: persisted actions, their history, overrides, replays, reports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Spo

pytestmark = pytest.mark.both_engines  # the record behaves the same on SQLite and PostgreSQL

AS_OF = "2026-03-05"


def due_json(spo: Spo, *args: str) -> dict[str, Any]:
    doc = spo("due", "--json", *args).json()
    assert isinstance(doc, dict)
    return doc


def find(doc: dict[str, Any], rule: str) -> dict[str, Any]:
    matches = [a for a in doc["actions"] if a["rule"] == rule]
    assert len(matches) == 1, (rule, doc["actions"])
    return matches[0]


def test_a_new_order_puts_its_deadlines_in_spo_due(caseload: Spo) -> None:
    doc = due_json(caseload, "--officer", "om1@force.example", "--as-of", AS_OF)
    assert doc["schema_version"] == 1
    assert doc["as_of"] == AS_OF
    visit = find(doc, "initial-visit")
    assert visit["due"] == "2026-03-10"  # made 2026-03-03 + 7 days
    assert visit["status"] == "due-soon"
    assert visit["subject"] == "S-001"
    assert visit["order"] == "O-001"
    assert visit["officer"] == "om1@force.example"
    assert visit["trigger_date"] == "2026-03-03"
    assert visit["completed"] is None
    assert visit["late"] is None
    assert "2026-03-03" in visit["explanation"]
    assert "West Yorkshire" in visit["explanation"]
    for key in ("id", "window_opens", "trigger_date", "explanation"):
        assert key in visit
    notify = find(doc, "notification-check")
    assert notify["due"] == "2026-03-06"  # served 2026-03-04: 3 days beginning with service
    overdue = due_json(caseload, "--all", "--as-of", "2026-03-11", "--overdue")
    assert {a["rule"] for a in overdue["actions"]} >= {"initial-visit", "grant-checklist"}
    assert all(a["status"] == "overdue" for a in overdue["actions"])


def test_recording_a_visit_completes_the_action_and_keeps_history(caseload: Spo) -> None:
    visit_id = find(due_json(caseload, "--all", "--as-of", AS_OF), "initial-visit")["id"]
    caseload("visit", "add", "S-001", "--date", "2026-03-12")  # late: due 2026-03-10
    doc = due_json(caseload, "--all", "--as-of", "2026-03-13", "--include-done")
    done = find(doc, "initial-visit")
    assert (done["status"], done["completed"], done["late"]) == ("done", "2026-03-12", True)
    assert "initial-visit" not in {
        a["rule"] for a in due_json(caseload, "--all", "--as-of", "2026-03-13")["actions"]
    }
    explained = caseload("explain", visit_id, "--json").json()
    history = explained["history"]  # type: ignore[index]
    assert [(h["field"], h["old"], h["new"]) for h in history] == [
        ("state", None, "open"),
        ("completed", None, "2026-03-12"),
        ("state", "open", "done"),
    ]
    assert history[2]["cause"] == "visit to S-001 recorded on 2026-03-12"  # in words
    # evaluated before the visit's date, the same action is still open (time is an input)
    before = due_json(caseload, "--all", "--as-of", "2026-03-09")
    assert find(before, "initial-visit")["status"] == "due-soon"


@pytest.mark.today("2029-06-01")
def test_varying_the_expiry_moves_the_renewal_deadline(caseload: Spo) -> None:
    first = find(
        due_json(caseload, "--all", "--as-of", "2027-12-01", "--within", "400"),
        "renewal-submission",
    )
    assert first["due"] == "2027-12-02"  # 3 months before 2028-03-02
    caseload("order", "vary", "O-001", "--date", "2027-06-01", "--expires", "2029-05-31")
    moved = find(
        due_json(caseload, "--all", "--as-of", "2027-12-01", "--within", "1000"),
        "renewal-submission",
    )
    assert moved["id"] == first["id"]
    assert moved["due"] == "2029-02-28"  # month arithmetic clamps: 31 May - 3 months
    history = caseload("explain", first["id"], "--json").json()["history"]  # type: ignore[index]
    assert {"field": "due", "old": "2027-12-02", "new": "2029-02-28"}.items() <= history[-1].items()


def test_discharge_cancels_open_actions_never_deletes_them(caseload: Spo) -> None:
    caseload(
        "order",
        "discharge",
        "O-001",
        "--date",
        "2026-04-01",
        "--subject-consents",
        "--police-consents",
    )
    after = due_json(caseload, "--all", "--as-of", "2026-04-02")
    # what is left of the order is its close-down, from the day of the discharge
    [close] = [a for a in after["actions"] if a["order"] == "O-001"]
    assert (close["rule"], close["trigger_date"], close["due"]) == (
        "order-close-down",
        "2026-04-01",
        "2026-04-08",
    )
    everything = due_json(caseload, "--all", "--as-of", "2026-04-02", "--include-done")
    renewal = find(everything, "renewal-submission")
    assert renewal["status"] == "cancelled"
    assert "discharged" in renewal["explanation"]


def test_the_grant_checklist_is_done_with_its_last_item_and_audited(caseload: Spo) -> None:
    checklist = find(due_json(caseload, "--all", "--as-of", AS_OF), "grant-checklist")
    refused = caseload("action", "done", checklist["id"], "--date", "2026-03-04", code=2)
    assert "spo checklist done O-001 ITEM --date DATE" in refused.err
    items = [
        ("victim-updated", "2026-03-04", None),
        ("daomu-told", "2026-03-04", None),
        ("niche-occurrence", "2026-03-05", "OCC-77"),
        ("pnc-updated", "2026-03-06", "PNC/26/1"),
    ]
    for item, day, ref in items:
        caseload(
            "checklist", "done", "O-001", item, "--date", day, *(["--ref", ref] if ref else []),
            "--as", "ds1@force.example",
        )  # fmt: skip
    still = find(due_json(caseload, "--all", "--as-of", AS_OF), "grant-checklist")
    assert still["status"] == "overdue"
    assert "Still to do: the subject flag applied (flag-applied)." in still["explanation"]
    needs = caseload("checklist", "done", "O-001", "flag-applied", "--date", "2026-03-07", code=2)
    assert needs.err == "error: --ref: the subject flag applied needs its reference\n"
    caseload("checklist", "done", "O-001", "flag-applied", "--date", "2026-03-07", "--ref", "F-1")
    done = find(
        due_json(caseload, "--all", "--as-of", "2026-03-10", "--include-done"), "grant-checklist"
    )
    # done on the day of the last item: the grant was on 2026-03-03, due the next day
    assert (done["status"], done["completed"], done["late"]) == ("done", "2026-03-07", True)
    shown = caseload("checklist", "O-001", "--json").json()
    assert isinstance(shown, dict)
    grant = [i for i in shown["items"] if i["checklist"] == "grant-checklist"]
    assert [(i["item"], i["state"], i["done"]) for i in grant] == [
        ("victim-updated", "done", "2026-03-04"),
        ("daomu-told", "done", "2026-03-04"),
        ("niche-occurrence", "done", "2026-03-05"),
        ("pnc-updated", "done", "2026-03-06"),
        ("flag-applied", "done", "2026-03-07"),
    ]
    twice = caseload("checklist", "done", "O-001", "pnc-updated", "--date", "2026-03-08", code=2)
    assert "already recorded for O-001 on 2026-03-06 (O-001/checklist-4)" in twice.err
    audit = caseload("audit", "S-001", "--json").json()["entries"]  # type: ignore[index]
    assert any(e["action"] == "checklist.done" and e["actor"] == "ds1@force.example" for e in audit)


def test_override_moves_the_due_date_and_waive_cancels(caseload: Spo) -> None:
    visit = find(due_json(caseload, "--all", "--as-of", AS_OF), "initial-visit")
    caseload(
        "action", "override", visit["id"], "--due", "2026-03-20", "--reason", "Subject in hospital"
    )
    moved = find(due_json(caseload, "--all", "--as-of", "2026-03-12"), "initial-visit")
    assert moved["due"] == "2026-03-20"
    assert "Subject in hospital" in moved["explanation"]
    checklist = find(due_json(caseload, "--all", "--as-of", AS_OF), "grant-checklist")
    caseload("action", "override", checklist["id"], "--waive", "--reason", "Done by the OIC")
    assert "grant-checklist" not in {
        a["rule"]
        for a in due_json(caseload, "--all", "--as-of", "2026-12-01", "--within", "0")["actions"]
    }
    assert (
        "--reason"
        in caseload("action", "override", visit["id"], "--waive", "--reason", " ", code=2).err
    )
    assert "either" in caseload("action", "override", visit["id"], "--reason", "x", code=2).err
    assert (
        "action nope not found"
        in caseload("action", "done", "nope", "--date", "2026-03-04", code=3).err
    )


def test_default_scope_follows_the_acting_officer(caseload: Spo) -> None:
    caseload(
        "officer",
        "add",
        "om2@force.example",
        "--name",
        "Other",
        "--role",
        "offender-manager",
        "--team",
        "South",
    )
    mine = due_json(caseload, "--as-of", AS_OF, "--as", "om1@force.example")
    assert mine["actions"]
    assert {a["officer"] for a in mine["actions"]} == {"om1@force.example"}
    assert due_json(caseload, "--as-of", AS_OF, "--as", "om2@force.example")["actions"] == []
    team = due_json(caseload, "--as-of", AS_OF, "--as", "ds1@force.example")
    assert len(team["actions"]) == len(mine["actions"])  # om1 is in ds1's team
    err = caseload("due", "--as", "someone", code=2).err
    assert "--as" in err
    assert "--officer" in err


def test_bad_filters_are_refused(caseload: Spo) -> None:
    assert "unknown rule" in caseload("due", "--all", "--rule", "bogus", code=2).err
    assert "--as-of" in caseload("due", "--all", "--as-of", "2026-02-30", code=2).err
    assert "officer" in caseload("due", "--officer", "x@force.example", code=3).err
    assert (
        "did you mean initial-visit"
        in caseload("due", "--all", "--rule", "initial-vist", code=2).err
    )
    assert "team 'Nowhere' not found" in caseload("due", "--team", "Nowhere", code=3).err
    assert "subject S-999 not found" in caseload("due", "--subject", "S-999", code=3).err
    assert "only one" in caseload("due", "--all", "--team", "North", code=2).err


def test_known_at_replays_what_was_known_then(caseload: Spo) -> None:
    audit = caseload("audit", "--json").json()["entries"]  # type: ignore[index]
    before_visit = audit[-1]["at"]
    caseload("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial")
    now = due_json(caseload, "--all", "--as-of", "2026-03-06", "--include-done")
    then = due_json(
        caseload, "--all", "--as-of", "2026-03-06", "--include-done", "--known-at", before_visit
    )
    assert find(then, "initial-visit")["status"] == "due-soon"
    assert find(now, "initial-visit")["status"] == "done"
    # known-at "now" equals the present view
    latest = caseload("audit", "--json").json()["entries"][-1]["at"]  # type: ignore[index]
    replay_now = due_json(
        caseload, "--all", "--as-of", "2026-03-06", "--include-done", "--known-at", latest
    )

    def key(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
        return sorted((a["id"], a["due"], a["status"]) for a in doc["actions"])

    assert key(replay_now) == key(now)
    explained = caseload(
        "explain",
        find(now, "initial-visit")["id"],
        "--known-at",
        before_visit,
        "--as-of",
        "2026-03-06",
        "--json",
    ).json()
    assert explained["action"]["status"] == "due-soon"  # type: ignore[index]


def test_plan_shows_the_whole_future_timeline(caseload: Spo) -> None:
    doc = caseload("plan", "S-001", "--as-of", AS_OF, "--json").json()
    rules = [a["rule"] for a in doc["actions"]]  # type: ignore[index]
    assert rules[0] == "grant-checklist"
    assert {"renewal-submission", "order-expiry", "flag-review", "smp-review"} <= set(rules)
    dues = [a["due"] for a in doc["actions"]]  # type: ignore[index]
    assert dues == sorted(dues)


def test_recompute_is_idempotent(caseload: Spo) -> None:
    first = caseload("recompute", "--all").out
    assert "0 change(s)" in first
    assert "subject S-404 not found" in caseload("recompute", "S-404", code=3).err
    assert "--all" in caseload("recompute", code=2).err


def test_compliance_report_counts_on_time_late_and_overdue(caseload: Spo) -> None:
    caseload("visit", "add", "S-001", "--date", "2026-03-12")  # initial visit late
    caseload("notification", "add", "S-001", "--date", "2026-03-05", "--ack-ref", "A-1")  # on time
    doc = caseload(
        "report",
        "compliance",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--as-of",
        "2026-04-01",
        "--json",
    ).json()
    rows = {(r["group"], r["name"]): r for r in doc["rows"]}  # type: ignore[index]
    assert rows[("rule", "initial-visit")]["late"] == 1
    assert rows[("rule", "notification-check")]["on_time"] == 1
    assert rows[("rule", "grant-checklist")]["overdue"] == 1
    assert rows[("team", "North")]["percent_on_time"] is not None
    csv_out = caseload(
        "report", "compliance", "--from", "2026-03-01", "--to", "2026-03-31", "--csv"
    ).out
    assert csv_out.splitlines()[0].startswith("group,name,on_time,late")


def test_compliance_counts_the_recorded_completion_and_shows_corrections(caseload: Spo) -> None:
    # the order was made on 2026-03-03: the initial visit was due by 2026-03-10
    caseload("visit", "add", "S-001", "--date", "2026-03-12", "--kind", "initial")

    def initial_visit() -> dict[str, object]:
        doc = caseload("report", "compliance", "--from", "2026-03-01", "--to", "2026-03-31",
                       "--as-of", "2026-04-01", "--json").json()  # fmt: skip
        rows = {(r["group"], r["name"]): r for r in doc["rows"]}  # type: ignore[index]
        return dict(rows[("rule", "initial-visit")])

    assert (initial_visit()["late"], initial_visit()["corrected"]) == (1, 0)
    caseload("correct", "S-001/visit-1", "--date", "2026-03-09", "--reason", "typed the wrong day")
    corrected = initial_visit()
    assert (corrected["on_time"], corrected["late"], corrected["corrected"]) == (1, 0, 1)
    table = caseload("report", "compliance", "--from", "2026-03-01", "--to", "2026-03-31",
                     "--as-of", "2026-04-01").out  # fmt: skip
    assert "corrected" in table.splitlines()[1]


def test_policy_show_and_check(caseload: Spo, tmp_path: Path) -> None:
    shown = caseload("policy", "show", "--json").json()
    shipped = (Path(__file__).parents[2] / "data" / "policy" / "west-yorkshire.toml").read_text()
    tables = re.findall(r"^\[rules\.([a-z-]+)\]$", shipped, re.MULTILINE)
    assert sorted(r["id"] for r in shown["rules"]) == sorted(tables)  # type: ignore[index]
    root = Path(__file__).resolve().parents[2]
    text = (root / "data" / "policy" / "west-yorkshire.toml").read_text()
    assert "valid" in caseload("policy", "check", str(root / "data/policy/west-yorkshire.toml")).out
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("window = { months = -1 }", "window = { monthz = -1 }"))
    err = caseload("policy", "check", str(broken), code=2).err
    assert "rules.flag-review.window.monthz" in err
    assert "--policy" in caseload("policy", "show", "--policy", "nowhere", code=2).err


@pytest.mark.parametrize("days", ["7", "10"])
def test_a_force_policy_changes_the_deadline(spo: Spo, tmp_path: Path, days: str) -> None:
    root = Path(__file__).resolve().parents[2]
    text = (root / "data" / "policy" / "west-yorkshire.toml").read_text()
    custom = tmp_path / "force.toml"
    custom.write_text(
        text.replace(
            'deadline = { days = 7 }      # seed: "within seven days',
            f'deadline = {{ days = {days} }}      # "within',
        )
    )
    spo("--policy", str(custom), "subject", "add", "S-1", "--name", "A B")
    spo(
        "--policy",
        str(custom),
        "order",
        "add",
        "S-1",
        "O-1",
        "--type",
        "interim",
        "--made",
        "2026-03-03",
        "--expires",
        "2026-06-01",
    )
    doc = spo("--policy", str(custom), "due", "--all", "--as-of", "2026-03-03", "--json").json()
    visit = find(doc, "initial-visit")  # type: ignore[arg-type]
    assert visit["due"] == f"2026-03-{3 + int(days):02d}"


def test_piped_output_is_plain_aligned_text_and_json_is_standard_indented(caseload: Spo) -> None:
    import json

    table = caseload("due", "--all", "--as-of", AS_OF).out
    lines = table.splitlines()
    assert lines[0].startswith("Due for everyone as of 2026-03-05")
    assert lines[1].split() == [
        "status",
        "due",
        "when",
        "subject",
        "rule",
        "order",
        "officer",
        "id",
    ]
    assert not any(ch in table for ch in "│┃━─")  # no box drawing in a pipe
    doc = due_json(caseload, "--all", "--as-of", AS_OF)
    ids = [a["id"] for a in doc["actions"]]
    shown = [line.split()[-1] for line in lines[2:]]  # one line per action, same order,
    assert [i for i, s in zip(ids, shown, strict=True) if not i.startswith(s)] == []
    assert all(len(s) >= 6 for s in shown)  # each id by the shortest start that names it
    for short in shown:
        assert caseload("explain", short).out.startswith(
            next(i for i in ids if i.startswith(short))
        )
    # every column starts where its heading does
    for heading in ("due", "subject", "rule", "id"):
        start = lines[1].index(heading)
        assert all(line[start - 2 : start] == "  " for line in lines[2:]), heading
    text = caseload("due", "--json", "--all", "--as-of", AS_OF).out
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(
    "command",
    [
        ("due", "--all"),
        ("subject", "list"),
        ("audit", "access"),
        ("report", "compliance", "--from", "2026-01-01", "--to", "2026-12-31"),
    ],
)
def test_json_and_csv_at_once_are_refused(caseload: Spo, command: tuple[str, ...]) -> None:
    refused = caseload(*command, "--json", "--csv", code=2)
    assert refused.err == "error: --csv: give --json or --csv, not both\n"
    assert refused.out == ""


def test_the_global_options_and_no_pager_may_follow_the_command(caseload: Spo) -> None:
    before = caseload("--no-pager", "due", "--all", "--as-of", "2026-03-20").out
    after = caseload("due", "--all", "--as-of", "2026-03-20", "--no-pager").out
    assert before == after
    assert "S-001" in after
