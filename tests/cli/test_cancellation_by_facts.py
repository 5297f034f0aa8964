"""No rule's outcome depends on the day a command runs: an action stops applying as of the
date of the fact that stops it, and one that never applied shows in no view of any day."""

from __future__ import annotations

import datetime as dt
import json

import time_machine

from tests.conftest import Spo


def _listing(spo: Spo, *args: str) -> dict[str, dict[str, object]]:
    doc = spo("due", "--all", "--include-done", "--json", *args).json()
    assert isinstance(doc, dict)
    return {f"{a['rule']}:{a['order'] or ''}": a for a in doc["actions"]}


def _runs_on(day: str, spo: Spo, *args: str) -> str:
    with time_machine.travel(dt.datetime.fromisoformat(f"{day}T12:00:00+00:00"), tick=False):
        return str(spo(*args).out)


def test_an_order_made_before_a_move_in_entered_later_never_had_grant_actions(
    caseload: Spo,
) -> None:
    spo = caseload  # O-001 made 2026-03-03 for S-001
    before = _listing(spo, "--as-of", "2026-03-20")
    assert before["initial-visit:O-001"]["status"] == "overdue"
    spo("transfer", "in", "S-001", "--date", "2026-04-01", "--from-force", "Lancashire")
    for as_of in ("2026-03-04", "2026-03-20", "2026-04-10", "2027-01-01"):
        listed = _listing(spo, "--as-of", as_of)
        for rule in ("initial-visit", "grant-checklist", "notification-check"):
            assert f"{rule}:O-001" not in listed, (rule, as_of)
    plan = spo("plan", "S-001", "--include-done", "--json").json()
    assert isinstance(plan, dict)
    assert "initial-visit" not in {a["rule"] for a in plan["actions"]}
    # the move-in brings its own rules instead
    assert "transfer-in-visit:" in _listing(spo, "--as-of", "2026-04-10")
    # kept, with its history, for the record
    action_id = str(before["initial-visit:O-001"]["id"])
    explained = spo("explain", action_id, "--json").json()
    assert isinstance(explained, dict)
    assert explained["action"]["status"] == "not-applicable"
    assert explained["history"][-1]["new"] == "cancelled"
    assert "S-001 moved into the area on 2026-04-01" in explained["history"][-1]["cause"]


def test_a_past_day_looks_the_same_whichever_day_the_command_runs(caseload: Spo) -> None:
    spo = caseload
    spo(
        "order",
        "discharge",
        "O-001",
        "--date",
        "2026-06-01",
        "--subject-consents",
        "--police-consents",
    )
    views = {
        day: _runs_on(day, spo, "due", "--all", "--include-done", "--json", "--as-of", "2026-05-20")
        for day in ("2026-06-02", "2026-09-30", "2028-01-15")
    }
    assert len(set(views.values())) == 1
    listed = {a["rule"]: a for a in json.loads(views["2026-06-02"])["actions"]}
    after = _listing(spo, "--as-of", "2026-06-05")
    # open on 20 May, cancelled from the discharge's own date, whenever it is asked
    assert listed["renewal-submission"]["status"] == "upcoming"
    assert after["renewal-submission:O-001"]["status"] == "cancelled"
    assert after["renewal-submission:O-001"]["cancelled_on"] == "2026-06-01"


def test_an_exempt_subject_has_no_notification_check_on_any_day(spo: Spo) -> None:
    spo("officer", "add", "om@force.example", "--name", "O M", "--role", "offender-manager")
    spo(
        "subject",
        "add",
        "S-1",
        "--name",
        "A B",
        "--officer",
        "om@force.example",
        "--registered-sex-offender",
    )
    spo(
        "order",
        "add",
        "S-1",
        "O-1",
        "--type",
        "full",
        "--made",
        "2026-03-03",
        "--served",
        "2026-03-04",
        "--expires",
        "2028-03-02",
    )
    for as_of in ("2026-03-04", "2026-03-06", "2026-12-01"):
        assert "notification-check:O-1" not in _listing(spo, "--as-of", as_of)


def test_a_flag_review_is_on_the_record_and_upcoming_long_before_its_window(
    caseload: Spo,
) -> None:
    spo = caseload  # O-001 made 2026-03-03; flag F-001 expires 2027-03-31
    listed = _listing(spo, "--as-of", "2026-06-01")
    review = listed["flag-review:"]
    assert review["status"] == "upcoming"
    assert review["window_opens"] == "2027-02-28"
    assert review["due"] == "2027-03-31"
    plan = spo("plan", "S-001", "--as-of", "2026-06-01", "--json").json()
    assert isinstance(plan, dict)
    [planned] = [a for a in plan["actions"] if a["rule"] == "flag-review"]
    assert planned["status"] == "upcoming"
    assert _listing(spo, "--as-of", "2027-02-28")["flag-review:"]["status"] == "due-soon"
