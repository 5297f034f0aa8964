"""An action's state, status, explanation and stored form, pinned: done before cancelled
stays done; the explanation reads "Title due DATE: trigger on DATE; arithmetic. Policy:
clause (policy)." (DOMAIN.md, "Date semantics"); a stored action rebuilds unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from spo_tracker.core.rules import (
    ACTION_ID_LENGTH,
    Action,
    Explanation,
    State,
    Status,
    action_id,
    names_action,
)
from tests.support.facts import day, derive, full, one, subject

EXPLANATION = Explanation(
    rule="initial-visit",
    title="initial visit",
    trigger="full order O-1 granted",
    trigger_date=day("2026-03-03"),
    arithmetic="due 7 days after the grant (2026-03-03), on 2026-03-10",
    clause="initial visit within seven days of the SPO being granted",
    policy="West Yorkshire Police policy 2026.11",
)


def action(completed: str | None = None, cancelled: str | None = None, **kw: Any) -> Action:
    values: dict[str, Any] = {
        "id": action_id("S-1", "initial-visit", "O-1", "O-1"),
        "rule": "initial-visit",
        "subject": "S-1",
        "order": "O-1",
        "key": "O-1",
        "officer": "om@force.example",
        "trigger_date": day("2026-03-03"),
        "window_opens": day("2026-03-03"),
        "due": day("2026-03-10"),
        "completed": day(completed) if completed else None,
        "cancelled_on": day(cancelled) if cancelled else None,
        "lapses_on": None,
        "soon_from": day("2026-03-03"),
        "explanation": EXPLANATION,
    }
    values.update(kw)
    return Action(**values)


# --------------------------------------------------------------------------- state and status


def test_done_before_cancelled_stays_done_on_every_day() -> None:
    done = action(completed="2026-03-05", cancelled="2026-03-06")
    assert done.state is State.DONE
    assert done.late is False
    assert [done.status(day(x)) for x in ("2026-03-04", "2026-03-05", "2026-03-06")] == [
        Status.DUE_SOON,
        Status.DONE,
        Status.DONE,
    ]


def test_done_on_the_day_of_cancellation_stays_done() -> None:
    same = action(completed="2026-03-06", cancelled="2026-03-06")
    assert same.state is State.DONE
    assert same.status(day("2026-03-06")) is Status.DONE


def test_done_after_cancelled_counts_for_nothing() -> None:
    late = action(completed="2026-03-12", cancelled="2026-03-06")
    assert late.state is State.CANCELLED
    assert late.late is None
    assert late.status(day("2026-03-05")) is Status.DUE_SOON
    assert late.status(day("2026-03-06")) is Status.CANCELLED
    assert late.status(day("2026-03-12")) is Status.CANCELLED


def test_a_lapse_closes_an_open_action_from_its_day_but_not_a_done_one() -> None:
    lapsing = action(lapses_on=day("2026-03-08"))
    assert lapsing.status(day("2026-03-07")) is Status.DUE_SOON
    assert lapsing.status(day("2026-03-08")) is Status.CANCELLED
    assert lapsing.state is State.OPEN  # the facts alone do not close it
    done = action(completed="2026-03-09", lapses_on=day("2026-03-08"))
    assert done.status(day("2026-03-09")) is Status.DONE


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        ("2026-03-02", None),
        ("2026-03-03", Status.DUE_SOON),
        ("2026-03-09", Status.DUE_SOON),
        ("2026-03-10", Status.DUE_TODAY),
        ("2026-03-11", Status.OVERDUE),
    ],
)
def test_an_open_actions_status_by_day(as_of: str, status: Status | None) -> None:
    assert action().status(day(as_of)) is status


def test_before_its_due_soon_day_an_open_action_is_upcoming() -> None:
    later = action(soon_from=day("2026-03-05"))
    assert later.status(day("2026-03-04")) is Status.UPCOMING
    assert later.status(day("2026-03-05")) is Status.DUE_SOON


def test_an_action_that_never_applied_has_no_status_and_is_cancelled() -> None:
    never = action(applies=False)
    assert never.state is State.CANCELLED
    assert never.status(day("2026-03-11")) is None


@pytest.mark.parametrize(
    ("completed", "late"), [(None, None), ("2026-03-10", False), ("2026-03-11", True)]
)
def test_late_means_done_after_the_due_date(completed: str | None, late: bool | None) -> None:
    assert action(completed=completed).late is late


# --------------------------------------------------------------------------- explanation


def test_the_explanation_reads_title_due_trigger_arithmetic_and_policy() -> None:
    assert EXPLANATION.text(day("2026-03-10")) == (
        "Initial visit due 2026-03-10: full order O-1 granted on 2026-03-03; due 7 days after "
        "the grant (2026-03-03), on 2026-03-10. Policy: initial visit within seven days of the "
        "SPO being granted (West Yorkshire Police policy 2026.11)."
    )


def test_the_explanation_adds_override_completion_cancellation_and_lapse_in_that_order() -> None:
    full_story = replace(
        EXPLANATION,
        completion="Done: visited on 2026-03-05.",
        cancellation="Cancelled: moved.",
        override="Due date set to 2026-03-12.",
        lapse="Lapses on 2026-03-20.",
    )
    assert full_story.text(day("2026-03-12")).endswith(
        "(West Yorkshire Police policy 2026.11). Due date set to 2026-03-12. "
        "Done: visited on 2026-03-05. Cancelled: moved. Lapses on 2026-03-20."
    )


def test_what_is_still_to_do_comes_before_the_override_and_the_record_id_is_not_read_out() -> None:
    story = replace(
        EXPLANATION,
        missing="Still to do: PNC updated (pnc-updated).",
        override="Due date set to 2026-03-12.",
        record="S-1/breach-1",
    )
    assert story.text(day("2026-03-12")).endswith(
        "(West Yorkshire Police policy 2026.11). Still to do: PNC updated (pnc-updated). "
        "Due date set to 2026-03-12."
    )


def test_the_explanation_as_json_has_each_part_under_its_name() -> None:
    story = replace(
        EXPLANATION,
        completion="Done: visited on 2026-03-05.",
        lapse="L.",
        record="S-1/visit-1",
        missing="Still to do: M.",
    )
    assert story.as_dict(day("2026-03-10")) == {
        "text": story.text(day("2026-03-10")),
        "title": "initial visit",
        "trigger": "full order O-1 granted",
        "trigger_date": "2026-03-03",
        "arithmetic": EXPLANATION.arithmetic,
        "clause": EXPLANATION.clause,
        "policy": "West Yorkshire Police policy 2026.11",
        "completion": "Done: visited on 2026-03-05.",
        "cancellation": None,
        "override": None,
        "lapse": "L.",
        "record": "S-1/visit-1",
        "missing": "Still to do: M.",
    }


# --------------------------------------------------------------------------- stored form


def stored(a: Action, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": a.id,
        "rule": a.rule,
        "subject_ref": a.subject,
        "order_ref": a.order,
        "key": a.key,
        "officer": a.officer,
        "trigger_date": a.trigger_date,
        "window_opens": a.window_opens,
        "due": a.due,
        "completed": a.completed,
        "cancelled_on": a.cancelled_on,
        "lapses_on": a.lapses_on,
        "soon_from": a.soon_from,
        "explanation": a.explanation.as_dict(a.due),
        "state": str(a.state),
        "owner": a.owner,
    }
    values.update(kw)
    return values


def test_a_stored_action_rebuilds_unchanged() -> None:
    rich = action(
        completed="2026-03-12",
        cancelled="2026-03-11",
        lapses_on=day("2026-04-01"),
        window_opens=day("2026-03-04"),
        soon_from=day("2026-03-05"),
        owner="supervisor",
        explanation=replace(
            EXPLANATION,
            completion="Done: c.",
            cancellation="Cancelled: x.",
            override="Due set.",
            lapse="Lapses.",
            record="S-1/breach-1",
            missing="Still to do: M.",
        ),
    )
    assert Action.from_stored(stored(rich)) == rich


def test_a_never_applying_action_is_stored_cancelled_with_no_date() -> None:
    never = action(applies=False)
    assert Action.from_stored(stored(never, state="cancelled")) == never
    waived = action(cancelled="2026-03-06")
    assert Action.from_stored(stored(waived, state="cancelled")).applies is True


def test_a_stored_action_with_no_explanation_or_owner_takes_the_defaults() -> None:
    bare = Action.from_stored(stored(action(), explanation=None, owner=None))
    assert bare.owner == "offender-manager"
    assert bare.explanation == Explanation(
        rule="initial-visit",
        title="initial-visit",
        trigger="",
        trigger_date=day("2026-03-03"),
        arithmetic="",
        clause="",
        policy="",
    )
    partial = Action.from_stored(stored(action(), explanation={"title": "initial visit"}))
    assert partial.explanation.title == "initial visit"


# --------------------------------------------------------------------------- identity


def test_an_action_id_is_sixteen_hex_digits_of_what_names_it() -> None:
    one_id = action_id("S-1", "initial-visit", "O-1", "O-1")
    assert len(one_id) == ACTION_ID_LENGTH == 16
    assert int(one_id, 16) >= 0
    assert action_id("S-1", "initial-visit", None, "k") == action_id(
        "S-1", "initial-visit", "", "k"
    )
    assert (
        len(
            {
                one_id,
                action_id("S-2", "initial-visit", "O-1", "O-1"),
                action_id("S-1", "grant-checklist", "O-1", "O-1"),
                action_id("S-1", "initial-visit", "O-2", "O-1"),
                action_id("S-1", "initial-visit", "O-1", "O-2"),
            }
        )
        == 5
    )


def test_an_action_with_no_order_keeps_the_id_already_stored_for_it() -> None:
    # ids are stored (schema 0004 computed them for existing rows) and are calendar UIDs:
    # S-001's first supervisor review in the golden export (tests/golden) is this one
    assert action_id("S-001", "smp-review", None, "2026-03-03:0") == "1c3b0d05b444893c"


def test_an_override_names_an_action_by_its_id_or_its_old_ten_digit_id() -> None:
    full_id = action_id("S-1", "initial-visit", "O-1", "O-1")
    assert names_action(full_id, full_id)
    assert names_action(full_id[:10], full_id)
    assert not names_action(full_id[:11], full_id)
    assert not names_action(full_id[:9], full_id)
    assert not names_action("0123456789", "9876543210abcdef")


def test_the_engines_actions_carry_their_ids() -> None:
    actions = derive(subject(orders=[full("2026-03-03")]))
    visit = one(actions, "initial-visit")
    assert visit.id == action_id("S-1", "initial-visit", "O-1", "O-1")
    assert visit.explanation.text(visit.due).startswith(
        "Initial visit due 2026-03-10: full order O-1 granted on 2026-03-03; due 7 days after "
        "the grant (2026-03-03), on 2026-03-10. Policy: "
    )
    assert visit.due == date(2026, 3, 10)
