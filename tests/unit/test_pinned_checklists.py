"""Checklist rules pinned: the grant checklist and the order close-down are done when every
item the policy lists is recorded for the order, on the day of the last; until then the action
says which items are still to do. The policy loader's checks on the items and on what completes
each rule (DOMAIN.md, "Facts the record must hold"; the shipped policy's grant items).

Shipped figures used below: grant checklist granted + 1 day; close-down the end of the order
+ 7 days (the end of the order is the day after its last day).
"""

from __future__ import annotations

import pytest

from spo_tracker.core import record as d
from spo_tracker.core.policy import COMPLETED_BY, RULE_IDS, ChecklistItem, PolicyError, parse_policy
from spo_tracker.core.rules import State
from tests.support.facts import (
    POLICY_TEXT,
    day,
    derive,
    full,
    interim,
    one,
    only,
    shipped_policy,
    subject,
)

GRANT_ITEMS = ("victim-updated", "daomu-told", "niche-occurrence", "pnc-updated", "flag-applied")
CLOSE_ITEMS = ("pnc-closed", "flag-adjusted", "victim-told")


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


def edited(old: str, new: str, text: str = POLICY_TEXT) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


GRANT_ITEMS_TEXT = POLICY_TEXT[
    POLICY_TEXT.index("items = [\n", POLICY_TEXT.index("[rules.grant-checklist]")) :
]
GRANT_ITEMS_TEXT = GRANT_ITEMS_TEXT[: GRANT_ITEMS_TEXT.index("]\n") + 2]


def with_grant_items(items: str) -> str:
    """The shipped policy with the grant checklist's ``items = [...]`` replaced."""
    return edited(GRANT_ITEMS_TEXT, items + "\n")


# --------------------------------------------------------------------------- the policy


def test_the_shipped_grant_checklist_has_the_five_items_the_policy_names_in_order() -> None:
    rule = shipped_policy().rules["grant-checklist"]
    assert tuple(i.id for i in rule.items) == GRANT_ITEMS
    # the records system's occurrence, PNC and the flag each have a reference to give
    assert [i.id for i in rule.items if i.needs_ref] == [
        "niche-occurrence",
        "pnc-updated",
        "flag-applied",
    ]
    assert rule.items[0] == ChecklistItem("victim-updated", "the victim updated", False)
    assert rule.completed_by == "checklist"


def test_the_shipped_close_down_has_its_three_items_each_with_a_reference() -> None:
    rule = shipped_policy().rules["order-close-down"]
    assert tuple(i.id for i in rule.items) == CLOSE_ITEMS
    assert all(i.needs_ref for i in rule.items)
    assert rule.completed_by == "checklist"


def test_a_rule_finds_its_item_by_id_and_nothing_for_another_id() -> None:
    rule = shipped_policy().rules["grant-checklist"]
    assert rule.item("pnc-updated") == ChecklistItem("pnc-updated", "PNC updated", True)
    assert rule.item("pnc-closed") is None
    assert shipped_policy().rules["initial-visit"].items == ()


def test_what_completes_each_rule_follows_from_the_rule() -> None:
    # checklists: the two rules with items; manual: the two an officer marks done; the rest
    # are completed by the fact their record command records
    assert {r for r in RULE_IDS if COMPLETED_BY[r] == "checklist"} == {
        "grant-checklist",
        "order-close-down",
    }
    assert {r for r in RULE_IDS if COMPLETED_BY[r] == "manual"} == {
        "condition-expiry",
        "order-expiry",
    }
    policy = shipped_policy()
    assert {r: policy.rules[r].completed_by for r in RULE_IDS} == dict(COMPLETED_BY)


@pytest.mark.parametrize(
    ("rule", "old", "new", "message"),
    [
        (
            "smp-created",
            'record = "spo smp add {subject} --date DATE"\ncompleted_by = "fact"',
            'record = "spo smp add {subject} --date DATE"\ncompleted_by = "manual"',
            "'manual': this rule's action is completed by 'fact' (the fact it names, when "
            "recorded)",
        ),
        (
            "grant-checklist",
            'completed_by = "checklist"\naction = "tell the victim',
            'completed_by = "fact"\naction = "tell the victim',
            "'fact': this rule's action is completed by 'checklist' (its items)",
        ),
        (
            "order-expiry",
            'completed_by = "manual"\naction = "close the order',
            'completed_by = "fact"\naction = "close the order',
            "'fact': this rule's action is completed by 'manual' (spo action done)",
        ),
    ],
)
def test_a_policy_saying_another_completion_than_the_rules_is_refused(
    rule: str, old: str, new: str, message: str
) -> None:
    error = refused(edited(old, new))
    assert (error.field, error.message) == (f"rules.{rule}.completed_by", message)


def test_a_completion_of_the_wrong_kind_names_its_key() -> None:
    error = refused(
        edited(
            'completed_by = "manual"\naction = "close the order',
            'completed_by = 1\naction = "close the order',
        )
    )
    assert (error.field, error.message) == (
        "rules.order-expiry.completed_by",
        "must be text, not '1'",
    )


def test_a_rule_without_completed_by_takes_its_own() -> None:
    text = edited('completed_by = "manual"\naction = "close the order', 'action = "close the order')
    assert parse_policy(text).rules["order-expiry"].completed_by == "manual"
    text = edited(
        'completed_by = "checklist"\naction = "tell the victim', 'action = "tell the victim'
    )
    rule = parse_policy(text).rules["grant-checklist"]
    assert (rule.completed_by, len(rule.items)) == ("checklist", 5)


def test_only_a_checklist_rule_has_items() -> None:
    text = edited(
        "[rules.initial-visit]\n", '[rules.initial-visit]\nitems = [{ id = "a", text = "A" }]\n'
    )
    error = refused(text)
    assert (error.field, error.message) == (
        "rules.initial-visit.items",
        "only a checklist rule has items",
    )


@pytest.mark.parametrize(
    ("items", "field", "message"),
    [
        ("items = []", "rules.grant-checklist.items", "a checklist rule lists its items"),
        (
            'items = "victim-updated"',
            "rules.grant-checklist.items",
            "must be a list, not 'victim-updated'",
        ),
        (
            'items = ["victim-updated"]',
            "rules.grant-checklist.items[0]",
            'must be a table such as { id = "pnc-updated", text = ... }',
        ),
        (
            'items = [{ id = "a", text = "A" }, { id = "b" }]',
            "rules.grant-checklist.items[1].text",
            "is required",
        ),
        (
            'items = [{ text = "A" }]',
            "rules.grant-checklist.items[0].id",
            "is required",
        ),
        (
            'items = [{ id = "a", text = "A", ref = true }]',
            "rules.grant-checklist.items[0].ref",
            "unknown key (expected one of id, needs_ref, text)",
        ),
        (
            'items = [{ id = "a", text = "A", needs_ref = "yes" }]',
            "rules.grant-checklist.items[0].needs_ref",
            "must be true or false, not 'yes'",
        ),
        (
            'items = [{ id = 1, text = "A" }]',
            "rules.grant-checklist.items[0].id",
            "must be text, not '1'",
        ),
        (
            'items = [{ id = "a", text = 1 }]',
            "rules.grant-checklist.items[0].text",
            "must be text, not '1'",
        ),
        (
            'items = [{ id = "a", text = "A" }, { id = "PNC", text = "B" }]',
            "rules.grant-checklist.items[1].id",
            "'PNC' must be lower-case letters, digits and dashes",
        ),
        (
            'items = [{ id = "1st", text = "A" }]',
            "rules.grant-checklist.items[0].id",
            "'1st' must be lower-case letters, digits and dashes",
        ),
        (
            'items = [{ id = "pnc updated", text = "A" }]',
            "rules.grant-checklist.items[0].id",
            "'pnc updated' must be lower-case letters, digits and dashes",
        ),
        (
            f'items = [{{ id = "a{"b" * 40}", text = "A" }}]',
            "rules.grant-checklist.items[0].id",
            f"'a{'b' * 40}' must be lower-case letters, digits and dashes",
        ),
        (
            'items = [{ id = "a", text = "A" }, { id = "b", text = "B" },\n'
            '  { id = "a", text = "C" }]',
            "rules.grant-checklist.items[2].id",
            "'a' is repeated",
        ),
    ],
)
def test_each_checklist_item_error_names_its_item(items: str, field: str, message: str) -> None:
    error = refused(with_grant_items(items))
    assert (error.field, error.message) == (field, message)


def test_a_checklist_rule_with_no_items_key_is_refused() -> None:
    error = refused(with_grant_items(""))
    assert (error.field, error.message) == (
        "rules.grant-checklist.items",
        "a checklist rule lists its items",
    )


def test_an_item_id_of_forty_characters_with_digits_and_dashes_is_accepted() -> None:
    long_id = "a" + "-1" * 19 + "z"  # 40 characters
    rule = parse_policy(
        with_grant_items(
            f'items = [{{ id = "{long_id}", text = "A" }}, {{ id = "b", text = "B" }}]'
        )
    ).rules["grant-checklist"]
    assert rule.items == (ChecklistItem(long_id, "A", False), ChecklistItem("b", "B", False))


# --------------------------------------------------------------------------- the grant checklist


def ticked(*entries: tuple[str, str]) -> list[d.ChecklistEntry]:
    return [d.ChecklistEntry(item, day(on)) for item, on in entries]


def test_the_grant_checklist_is_done_on_the_day_its_last_item_is_recorded() -> None:
    entries = ticked(
        ("victim-updated", "2026-03-03"),
        ("daomu-told", "2026-03-03"),
        ("niche-occurrence", "2026-03-05"),
        ("pnc-updated", "2026-03-04"),
        ("flag-applied", "2026-03-03"),
    )
    action = one(derive(subject(orders=[full("2026-03-03", checklist=entries)])), "grant-checklist")
    assert (action.state, action.completed) == (State.DONE, day("2026-03-05"))
    assert action.late is True  # due the day after the grant, 2026-03-04
    assert action.explanation.completion == "Done: every item recorded, the last on 2026-03-05."
    assert action.explanation.missing is None


def test_a_grant_checklist_with_items_missing_says_which_in_the_policys_order() -> None:
    entries = ticked(("pnc-updated", "2026-03-03"), ("victim-updated", "2026-03-03"))
    action = one(derive(subject(orders=[full("2026-03-03", checklist=entries)])), "grant-checklist")
    assert (action.state, action.completed) == (State.OPEN, None)
    assert action.explanation.completion is None
    assert action.explanation.missing == (
        "Still to do: the DA offender management team told (daomu-told); the Niche Court "
        "Order - SPO occurrence created (niche-occurrence); the subject flag applied "
        "(flag-applied)."
    )
    assert action.explanation.text(action.due).endswith(action.explanation.missing)


def test_an_item_recorded_twice_counts_from_its_first_recording() -> None:
    entries = ticked(
        ("victim-updated", "2026-03-03"),
        ("daomu-told", "2026-03-03"),
        ("niche-occurrence", "2026-03-04"),
        ("pnc-updated", "2026-03-04"),
        ("flag-applied", "2026-03-04"),
        ("flag-applied", "2026-03-06"),  # recorded again, later: the first recording counts
    )
    action = one(derive(subject(orders=[full("2026-03-03", checklist=entries)])), "grant-checklist")
    assert action.completed == day("2026-03-04")
    assert action.late is False


def test_items_of_another_checklist_do_not_complete_the_grant_checklist() -> None:
    entries = ticked(
        *((item, "2026-03-03") for item in GRANT_ITEMS[:-1]), ("pnc-closed", "2026-03-03")
    )
    action = one(derive(subject(orders=[full("2026-03-03", checklist=entries)])), "grant-checklist")
    assert action.completed is None
    assert action.explanation.missing == "Still to do: the subject flag applied (flag-applied)."


def test_the_grant_checklist_of_an_order_is_done_by_that_orders_items_only() -> None:
    entries = ticked(*((item, "2026-03-03") for item in GRANT_ITEMS))
    # the first order's checklist, ticked on the second (a separate order) does not count
    first = full("2026-03-03", ref="O-1")
    second = full("2026-03-03", ref="O-2", checklist=entries)
    actions = {a.order: a for a in only(derive(subject(orders=[first, second])), "grant-checklist")}
    assert actions["O-1"].completed is None
    assert actions["O-2"].completed == day("2026-03-03")


# --------------------------------------------------------------------------- close-down


def test_a_discharged_orders_close_down_is_due_seven_days_after_the_discharge() -> None:
    discharge = d.DischargeApplication(day("2028-04-10"), True, True, d.DischargeOutcome.GRANTED)
    order = full("2026-03-03", discharge_applications=[discharge])
    close = one(derive(subject(orders=[order])), "order-close-down")
    assert close.order == "O-1"
    assert close.due == day("2028-04-17")
    assert close.explanation.trigger == "order O-1 discharged"
    assert close.explanation.trigger_date == day("2028-04-10")
    assert close.explanation.missing == (
        "Still to do: PNC updated to show the order has ended (pnc-closed); the Niche flag "
        "removed or adjusted (flag-adjusted); the victim told (by the victim's reference) "
        "(victim-told)."
    )


def test_an_expired_orders_close_down_runs_from_the_day_after_its_last_day() -> None:
    order = full("2026-03-03", "2028-03-02")
    close = one(derive(subject(orders=[order])), "order-close-down")
    # its last day is 2 March 2028; the order has ended on 3 March; 7 days on is 10 March
    assert close.due == day("2028-03-10")
    assert close.explanation.trigger == "order O-1 ended (its last day was 2028-03-02)"
    assert close.explanation.trigger_date == day("2028-03-03")
    assert close.explanation.arithmetic == (
        "due 7 days after the end of the order (2028-03-03), on 2028-03-10"
    )


def test_the_close_down_is_done_when_its_three_items_are_recorded() -> None:
    entries = ticked(("pnc-closed", "2028-03-03"), ("victim-told", "2028-03-09"))
    order = full("2026-03-03", "2028-03-02", checklist=entries)
    close = one(derive(subject(orders=[order])), "order-close-down")
    assert close.completed is None
    assert close.explanation.missing == (
        "Still to do: the Niche flag removed or adjusted (flag-adjusted)."
    )
    entries.append(d.ChecklistEntry("flag-adjusted", day("2028-03-05")))
    close = one(derive(subject(orders=[order])), "order-close-down")
    assert (close.state, close.completed) == (State.DONE, day("2028-03-09"))
    assert close.explanation.completion == "Done: every item recorded, the last on 2028-03-09."


def test_an_order_until_further_order_has_no_close_down() -> None:
    assert only(derive(subject(orders=[full("2026-03-03")])), "order-close-down") == []


def test_an_interim_order_replaced_by_a_full_one_closes_down_with_the_full_order() -> None:
    first = interim("2026-03-03", "2026-09-02")
    replacing = full("2026-06-01", "2028-05-31", ref="O-2", replaces="I-1")
    close = one(derive(subject(orders=[first, replacing])), "order-close-down")
    assert close.order == "O-2"
    assert close.due == day("2028-06-08")  # last day 31 May, ended 1 June, + 7 days


def test_an_order_ending_after_the_subject_moved_away_has_no_close_down_here() -> None:
    away = d.Transfer(d.Direction.OUT, day("2027-01-10"), "Lancashire Police", documents_sent=True)
    order = full("2026-03-03", "2028-03-02")
    assert only(derive(subject(orders=[order], transfers=[away])), "order-close-down") == []
    # back in the area before the end: the close-down is ours again
    back = d.Transfer(d.Direction.IN, day("2027-06-01"), "Lancashire Police")
    actions = derive(subject(orders=[order], transfers=[away, back]))
    assert one(actions, "order-close-down").due == day("2028-03-10")


def test_each_order_that_ends_has_its_own_close_down_whatever_the_others_do() -> None:
    # listed first, an order until further order (no end, no close-down); then one that expires
    lasting = full("2026-03-03", ref="O-1")
    ending = full("2026-05-04", "2028-05-03", ref="O-2")
    close = one(derive(subject(orders=[lasting, ending])), "order-close-down")
    assert (close.order, close.due) == ("O-2", day("2028-05-11"))
