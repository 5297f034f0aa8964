"""Deadline rules pinned where no other test held them: each expected date is worked out from
the policy's figure and the rule (DOMAIN.md), not read back from the engine.

Shipped West Yorkshire figures used below: initial visit granted + 7 days; supervisor review
every 1 / 3 / 6 months at high / medium / low risk (ungraded: 1), brought forward to 7 days
after a breach or change; change notification 3 days beginning with the change; order expiry
on the day; due-soon 7 days before the due date.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from spo_tracker.core import record as d
from spo_tracker.core.policy import Policy, parse_policy
from spo_tracker.core.rules import LEGACY_ACTION_ID_LENGTH, Action, State, Status, records_end
from spo_tracker.core.rules.facts import End, Record
from tests.support.facts import (
    BANK_HOLIDAYS_2026,
    DS,
    OM,
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

GRANT_RULES = ("initial-visit", "grant-checklist", "smp-created")


# --------------------------------------------------------------------------- working days


def working_day_policy() -> Policy:
    text = POLICY_TEXT.replace(
        "[rules.initial-visit]\n", "[rules.initial-visit]\nworking_days = true\n", 1
    )
    return dataclasses.replace(parse_policy(text), holidays=BANK_HOLIDAYS_2026)


def test_a_working_day_rule_skips_weekends_and_bank_holidays() -> None:
    policy = working_day_policy()
    # granted Thursday 2 April 2026: Good Friday, the weekend and Easter Monday do not count;
    # the 7 working days are 7-10 and 13-15 April
    visit = one(derive(subject(orders=[full("2026-04-02")]), policy), "initial-visit")
    assert visit.due == day("2026-04-15")
    assert "7 working days after the grant (2026-04-02), on 2026-04-15" in visit.explanation.text(
        visit.due
    )
    # the rules that still count calendar days are unchanged: 1 day after the grant
    assert one(derive(subject(orders=[full("2026-04-02")]), policy), "grant-checklist").due == day(
        "2026-04-03"
    )


def test_a_rule_the_policy_disables_derives_no_action() -> None:
    text = POLICY_TEXT.replace(
        "[rules.grant-checklist]\n", "[rules.grant-checklist]\nenabled = false\n", 1
    )
    actions = derive(subject(orders=[full("2026-03-03")]), parse_policy(text))
    assert only(actions, "grant-checklist") == []
    assert one(actions, "initial-visit").due == day("2026-03-10")


# --------------------------------------------------------------------------- 29 February


def test_a_full_order_made_on_29_february_may_end_on_28_february_two_years_on() -> None:
    # "at least 2 years beginning with the day it is made": the period starting 29 Feb 2028
    # ends with 28 Feb 2030
    made = day("2028-02-29")
    ok = d.Order("O-1", d.OrderType.FULL, made=made, expires=day("2030-02-28"))
    short = d.Order("O-1", d.OrderType.FULL, made=made, expires=day("2030-02-27"))
    assert d.check_order(subject(orders=[ok]), ok) == []
    problems = d.check_order(subject(orders=[short]), short)
    assert [p.path for p in problems] == ["expires"]
    assert "the earliest expiry is 2030-02-28" in problems[0].message


def test_an_order_made_on_29_february_is_protected_from_discharge_until_1_march() -> None:
    # no discharge within 2 years of the making without both consents: the anniversary of
    # 29 February in a common year is 1 March
    def discharged(on: str) -> list[d.Problem]:
        app = d.DischargeApplication(day(on), True, False, d.DischargeOutcome.GRANTED)
        order = full("2028-02-29", status=d.OrderStatus.DISCHARGED, discharge_applications=[app])
        return d.check_order(subject(orders=[order]), order)

    refused = discharged("2030-02-28")
    assert [p.path for p in refused] == ["discharge_applications[0].date"]
    assert "cannot be discharged before 2030-03-01" in refused[0].message
    assert discharged("2030-03-01") == []


# --------------------------------------------------------------------------- done, then cancelled


def visited_and_waived(visit: str, waived: str) -> Action:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "initial-visit")
    facts = subject(
        orders=[full("2026-03-03")],
        visits=[d.Visit(day(visit))],
        action_overrides=[
            d.ActionOverride(plain.id, d.OverrideKind.WAIVE, day(waived), "duplicate", DS)
        ],
    )
    return one(derive(facts), "initial-visit")


def test_an_action_done_before_it_was_waived_stays_done() -> None:
    action = visited_and_waived(visit="2026-03-05", waived="2026-03-06")
    assert (action.state, action.completed) == (State.DONE, day("2026-03-05"))
    for when in ("2026-03-05", "2026-03-06", "2026-04-01"):
        assert action.status(day(when)) is Status.DONE, when


def test_an_action_done_on_the_day_it_was_waived_stays_done() -> None:
    action = visited_and_waived(visit="2026-03-05", waived="2026-03-05")
    assert (action.state, action.completed) == (State.DONE, day("2026-03-05"))
    assert action.status(day("2026-03-05")) is Status.DONE


def test_an_action_waived_before_it_was_done_stays_cancelled() -> None:
    action = visited_and_waived(visit="2026-03-05", waived="2026-03-04")
    assert (action.state, action.completed) == (State.CANCELLED, None)
    assert action.status(day("2026-03-03")) is Status.DUE_SOON
    assert action.status(day("2026-03-04")) is Status.CANCELLED
    assert action.status(day("2026-03-05")) is Status.CANCELLED
    assert action.explanation.cancellation == "Waived on 2026-03-04 by ds@force.example: duplicate."


def test_a_visit_before_a_discharge_keeps_the_initial_visit_done() -> None:
    discharge = d.DischargeApplication(day("2026-03-06"), True, True, d.DischargeOutcome.GRANTED)
    order = full("2026-03-03", status=d.OrderStatus.DISCHARGED, discharge_applications=[discharge])
    actions = derive(subject(orders=[order], visits=[d.Visit(day("2026-03-05"))]))
    visit = one(actions, "initial-visit")
    assert (visit.state, visit.completed, visit.cancelled_on) == (
        State.DONE,
        day("2026-03-05"),
        None,
    )
    checklist = one(actions, "grant-checklist")
    assert (checklist.state, checklist.cancelled_on) == (State.CANCELLED, day("2026-03-06"))
    assert checklist.explanation.cancellation == ("Cancelled: order O-1 discharged on 2026-03-06.")


def test_a_visit_after_a_discharge_does_not_complete_the_cancelled_visit() -> None:
    discharge = d.DischargeApplication(day("2026-03-06"), True, True, d.DischargeOutcome.GRANTED)
    order = full("2026-03-03", status=d.OrderStatus.DISCHARGED, discharge_applications=[discharge])
    visit = one(
        derive(subject(orders=[order], visits=[d.Visit(day("2026-03-07"))])), "initial-visit"
    )
    assert visit.state is State.CANCELLED
    assert visit.cancelled_on == day("2026-03-06")
    assert visit.status(day("2026-03-05")) is Status.DUE_SOON
    assert visit.status(day("2026-03-07")) is Status.CANCELLED


# --------------------------------------------------------------------------- order expiry


def test_an_order_expiry_not_closed_is_overdue_the_day_after_expiry() -> None:
    expiry = one(derive(subject(orders=[full("2026-03-03", "2028-03-02")])), "order-expiry")
    assert (expiry.trigger_date, expiry.due) == (day("2028-03-02"), day("2028-03-02"))
    assert expiry.lapses_on is None  # the order's end is what this action is about
    assert expiry.status(day("2028-03-01")) is None
    assert expiry.status(day("2028-03-02")) is Status.DUE_TODAY
    assert expiry.status(day("2028-03-03")) is Status.OVERDUE
    assert expiry.status(day("2029-01-01")) is Status.OVERDUE
    assert expiry.explanation.arithmetic == ("due on the day of the end of the order (2028-03-02)")


def test_an_interim_orders_expiry_lapses_when_its_full_hearing_is_missed() -> None:
    # the interim order ends 1 June: its hearing action (due 14 days before) lapses the day
    # after, while its own order-expiry action is due on the day and stays open after it
    actions = derive(subject(orders=[interim("2026-03-03", "2026-06-01")]))
    hearing = one(actions, "interim-expiry")
    assert hearing.due == day("2026-05-18")
    assert hearing.status(day("2026-06-01")) is Status.OVERDUE
    assert hearing.status(day("2026-06-02")) is Status.CANCELLED
    expiry = one(actions, "order-expiry")
    assert expiry.status(day("2026-06-02")) is Status.OVERDUE


# --------------------------------------------------------------------------- several orders


def test_two_orders_made_on_the_same_day_each_keep_their_grant_time_actions() -> None:
    orders = [full("2026-03-03", ref="O-1"), full("2026-03-03", ref="O-2")]
    actions = derive(subject(orders=orders))
    for rule in GRANT_RULES:
        assert sorted(a.order or "" for a in only(actions, rule)) == ["O-1", "O-2"], rule
        assert {a.due for a in only(actions, rule)} == {only(actions, rule)[0].due}
    assert {a.due for a in only(actions, "initial-visit")} == {day("2026-03-10")}


def test_an_order_made_after_the_last_one_ended_is_a_new_grant() -> None:
    first = full("2024-01-10", "2026-01-09", ref="O-1")
    second = full("2026-03-03", ref="O-2")
    visits = [a.order for a in only(derive(subject(orders=[first, second])), "initial-visit")]
    assert visits == ["O-1", "O-2"]


def test_the_earliest_of_several_granted_discharges_ends_the_order() -> None:
    # once discharged the order is no longer in force: a later discharge changes nothing
    apps = [
        d.DischargeApplication(day("2026-07-01"), True, True, d.DischargeOutcome.GRANTED),
        d.DischargeApplication(day("2026-05-01"), True, True, d.DischargeOutcome.GRANTED),
        d.DischargeApplication(day("2026-04-01"), True, True, d.DischargeOutcome.REFUSED),
    ]
    order = full(
        "2026-03-03", "2028-03-02", status=d.OrderStatus.DISCHARGED, discharge_applications=apps
    )
    renewal = one(derive(subject(orders=[order])), "renewal-submission")
    assert (renewal.state, renewal.cancelled_on) == (State.CANCELLED, day("2026-05-01"))
    assert renewal.explanation.cancellation == "Cancelled: order O-1 discharged on 2026-05-01."
    assert records_end(subject(orders=[order])) == day("2026-04-30")  # its last day in force


def test_a_refused_discharge_ends_nothing() -> None:
    app = d.DischargeApplication(day("2026-05-01"), True, True, d.DischargeOutcome.REFUSED)
    order = full("2026-03-03", "2028-03-02", discharge_applications=[app])
    renewal = one(derive(subject(orders=[order])), "renewal-submission")
    assert (renewal.state, renewal.cancelled_on) == (State.OPEN, None)
    assert renewal.lapses_on == day("2028-03-03")


def interim_then_full(**kw: object) -> d.Subject:
    """Interim I-1 made 3 March 2026 (to end 1 June), replaced by full O-1 made 1 May."""
    return subject(
        orders=[
            interim("2026-03-03", "2026-06-01", status=d.OrderStatus.REPLACED),
            full("2026-05-01", replaces="I-1"),
        ],
        **kw,
    )


def test_an_interim_order_replaced_by_a_full_one_is_in_force_to_the_day_before() -> None:
    # a new address on 30 April, the interim order's last day, is a change under management
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-04-30"))]
    change = one(derive(interim_then_full(names=names)), "change-notification")
    assert (change.trigger_date, change.due) == (day("2026-04-30"), day("2026-05-02"))


def test_an_interim_order_replaced_by_a_full_one_is_one_unbroken_supervision() -> None:
    reviews = only(derive(interim_then_full()), "smp-review")
    assert reviews[0].trigger_date == day("2026-03-03")
    assert all(a.key.startswith("2026-03-03:") for a in reviews)
    # ungraded: monthly from the start of supervision, 3 April, with nothing to close it
    assert [(a.due, a.state) for a in reviews] == [(day("2026-04-03"), State.OPEN)]
    assert reviews[0].lapses_on is None
    assert reviews[0].cancelled_on is None


def test_the_interim_hearing_is_done_the_day_the_full_order_is_made_not_cancelled() -> None:
    hearing = one(derive(interim_then_full()), "interim-expiry")
    assert (hearing.state, hearing.completed, hearing.cancelled_on) == (
        State.DONE,
        day("2026-05-01"),
        None,
    )
    assert hearing.explanation.completion == "Done: full order O-1 made on 2026-05-01."


# --------------------------------------------------------------------------- routine visits


def test_the_latest_plan_in_force_at_the_last_visit_sets_the_routine_visit_cadence() -> None:
    plans = [
        d.ManagementPlan(day("2026-02-01"), visit_every_days=28),
        d.ManagementPlan(day("2026-02-15"), visit_every_days=14),
    ]
    facts = subject(
        orders=[full("2026-01-31")], visits=[d.Visit(day("2026-03-01"))], management_plans=plans
    )
    visit = one(derive(facts), "routine-visit")
    assert (visit.trigger_date, visit.due) == (day("2026-03-01"), day("2026-03-15"))
    assert "due every 14 days" in visit.explanation.arithmetic


def test_a_plan_recorded_on_the_day_of_a_visit_is_in_force_from_that_visit() -> None:
    plans = [d.ManagementPlan(day("2026-03-01"), visit_every_days=21)]
    facts = subject(
        orders=[full("2026-01-31")], visits=[d.Visit(day("2026-03-01"))], management_plans=plans
    )
    visit = one(derive(facts), "routine-visit")
    assert (visit.trigger_date, visit.due, visit.state) == (
        day("2026-03-01"),
        day("2026-03-22"),
        State.OPEN,
    )


def test_a_plan_with_a_shorter_cadence_between_visits_brings_the_next_visit_forward() -> None:
    plans = [
        d.ManagementPlan(day("2026-02-01"), visit_every_days=28),
        d.ManagementPlan(day("2026-03-05"), visit_every_days=7),
    ]
    facts = subject(
        orders=[full("2026-01-31")], visits=[d.Visit(day("2026-03-01"))], management_plans=plans
    )
    visit = one(derive(facts), "routine-visit")
    # 28 days from the visit would be 29 March; the new plan's 7 days run from the plan
    assert (visit.trigger_date, visit.due) == (day("2026-03-01"), day("2026-03-12"))
    assert "due every 7 days (the plan of 2026-03-05) from 2026-03-05, on 2026-03-12" in (
        visit.explanation.arithmetic
    )


def test_a_plan_recorded_after_the_next_visit_does_not_re_date_the_one_before() -> None:
    plans = [
        d.ManagementPlan(day("2026-02-01"), visit_every_days=28),
        d.ManagementPlan(day("2026-03-20"), visit_every_days=7),
    ]
    visits = [d.Visit(day("2026-03-01")), d.Visit(day("2026-03-20"))]
    facts = subject(orders=[full("2026-01-31")], visits=visits, management_plans=plans)
    routine = sorted(only(derive(facts), "routine-visit"), key=lambda a: a.trigger_date)
    assert [(a.trigger_date, a.due, a.state) for a in routine] == [
        (day("2026-03-01"), day("2026-03-29"), State.DONE),
        (day("2026-03-20"), day("2026-03-27"), State.OPEN),
    ]


def test_routine_visits_stop_with_the_order() -> None:
    plans = [d.ManagementPlan(day("2026-02-01"), visit_every_days=28)]
    discharge = d.DischargeApplication(day("2026-03-10"), True, True, d.DischargeOutcome.GRANTED)
    order = full("2026-01-31", status=d.OrderStatus.DISCHARGED, discharge_applications=[discharge])
    visits = [d.Visit(day("2026-03-01")), d.Visit(day("2026-04-01"))]
    routine = only(
        derive(subject(orders=[order], visits=visits, management_plans=plans)), "routine-visit"
    )
    assert [(a.trigger_date, a.state) for a in routine] == [(day("2026-03-01"), State.CANCELLED)]
    assert routine[0].cancelled_on == day("2026-03-10")


# --------------------------------------------------------------------------- supervisor reviews


def test_a_supervisor_review_on_the_day_supervision_starts_counts_for_the_first_review() -> None:
    facts = subject(
        orders=[full("2026-01-31")],
        risk_levels=[d.RiskEntry(d.Risk.HIGH, day("2026-01-01"))],
        reviews=[d.Review(day("2026-01-31"), DS)],
    )
    reviews = sorted(only(derive(facts), "smp-review"), key=lambda a: a.key)
    # high risk: monthly; the next from that review, 31 January + 1 month = 28 February
    assert [(a.trigger_date, a.due, a.state, a.completed) for a in reviews] == [
        (day("2026-01-31"), day("2026-02-28"), State.DONE, day("2026-01-31")),
        (day("2026-01-31"), day("2026-02-28"), State.OPEN, None),
    ]
    assert reviews[1].explanation.trigger == "last supervisor review"
    assert "from the last review (2026-01-31)" in reviews[1].explanation.arithmetic


def test_a_review_before_supervision_starts_does_not_count() -> None:
    facts = subject(orders=[full("2026-01-31")], reviews=[d.Review(day("2026-01-30"), DS)])
    review = one(derive(facts), "smp-review")
    assert (review.trigger_date, review.due, review.state) == (
        day("2026-01-31"),
        day("2026-02-28"),
        State.OPEN,
    )
    assert review.explanation.trigger == "supervision of the order began"


def test_a_risk_level_with_no_start_date_counts_from_the_start() -> None:
    low = subject(orders=[full("2026-01-31")], risk_levels=[d.RiskEntry(d.Risk.LOW)])
    review = one(derive(low), "smp-review")
    assert review.due == day("2026-07-31")  # low risk: 6 months from 31 January
    assert "due every 6 months at low risk from the start (2026-01-31)" in (
        review.explanation.arithmetic
    )


def test_a_re_grading_after_an_undated_risk_level_re_dates_the_review() -> None:
    levels = [d.RiskEntry(d.Risk.HIGH, day("2026-03-15")), d.RiskEntry(d.Risk.LOW)]
    review = one(derive(subject(orders=[full("2026-01-31")], risk_levels=levels)), "smp-review")
    assert review.due == day("2026-04-15")  # high from 15 March: 1 month
    assert review.explanation.arithmetic == (
        "due every 1 month at high risk from the re-grading (2026-03-15), on 2026-04-15"
    )


def test_a_medium_risk_review_is_due_every_three_months() -> None:
    levels = [d.RiskEntry(d.Risk.MEDIUM, day("2026-01-01"))]
    review = one(derive(subject(orders=[full("2026-01-31")], risk_levels=levels)), "smp-review")
    assert review.due == day("2026-04-30")
    assert "due every 3 months at medium risk from the start (2026-01-31)" in (
        review.explanation.arithmetic
    )


def test_a_change_brings_the_review_forward_with_its_arithmetic() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-03-10"))]
    levels = [d.RiskEntry(d.Risk.LOW, day("2026-01-01"))]
    facts = subject(orders=[full("2026-01-31")], names=names, risk_levels=levels)
    review = one(derive(facts), "smp-review")
    assert review.due == day("2026-03-17")
    assert review.explanation.arithmetic == (
        "brought forward by the change of name: due 7 days after it (2026-03-10), on 2026-03-17"
    )


def test_a_variation_brings_the_review_forward() -> None:
    variation = d.Variation(day("2026-03-10"), None, True, None, True)
    levels = [d.RiskEntry(d.Risk.LOW, day("2026-01-01"))]
    facts = subject(orders=[full("2026-01-31", variations=[variation])], risk_levels=levels)
    review = one(derive(facts), "smp-review")
    assert review.due == day("2026-03-17")
    assert "brought forward by the variation of order O-1" in review.explanation.arithmetic


# --------------------------------------------------------------------------- changes


def test_a_change_of_name_or_address_while_not_managed_needs_no_action() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-02-01"))]
    addresses = [
        d.AddressEntry("1 High Street"),
        d.AddressEntry("2 Low Street", since=day("2028-03-03")),  # the day after the order ends
    ]
    facts = subject(orders=[full("2026-03-03", "2028-03-02")], names=names, addresses=addresses)
    assert only(derive(facts), "change-notification") == []


def test_a_change_of_address_on_the_last_day_of_the_order_needs_its_notification() -> None:
    addresses = [
        d.AddressEntry("1 High Street"),
        d.AddressEntry("2 Low Street", since=day("2028-03-02")),
    ]
    facts = subject(orders=[full("2026-03-03", "2028-03-02")], addresses=addresses)
    change = one(derive(facts), "change-notification")
    assert (change.trigger_date, change.due) == (day("2028-03-02"), day("2028-03-04"))
    assert change.explanation.trigger == "new address recorded"


def test_a_change_on_the_day_the_order_is_made_needs_its_notification() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-03-03"))]
    change = one(derive(subject(orders=[full("2026-03-03")], names=names)), "change-notification")
    assert change.due == day("2026-03-05")


def test_a_change_while_out_of_the_area_needs_no_action_here() -> None:
    transfers = [
        d.Transfer(d.Direction.OUT, day("2026-06-01"), "Lancashire"),
        d.Transfer(d.Direction.IN, day("2026-09-01"), "Lancashire"),
    ]
    names = [
        d.NameEntry("Alex Brown"),
        d.NameEntry("Alex Green", since=day("2026-07-01")),
        d.NameEntry("Alex Grey", since=day("2026-10-01")),
    ]
    facts = subject(orders=[full("2026-03-03")], names=names, transfers=transfers)
    changes = only(derive(facts), "change-notification")
    assert [a.trigger_date for a in changes] == [day("2026-10-01")]


def test_the_first_name_and_address_on_record_are_not_changes() -> None:
    facts = subject(
        orders=[full("2026-03-03")],
        names=[d.NameEntry("Alex Brown", since=day("2026-04-01"))],
        addresses=[d.AddressEntry("1 High Street", since=day("2026-04-01"))],
    )
    assert only(derive(facts), "change-notification") == []


def test_a_change_is_done_once_notified_and_the_pack_reissued_whichever_came_last() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-05-01"))]
    facts = subject(
        orders=[full("2026-01-31")],
        names=names,
        notifications=[d.Notification(day("2026-05-04"))],
        management_plans=[d.ManagementPlan(day("2026-05-02"))],
    )
    change = one(derive(facts), "change-notification")
    assert (change.state, change.completed) == (State.DONE, day("2026-05-04"))
    assert change.explanation.completion == (
        "Done: notified on 2026-05-04; pack reviewed on 2026-05-02."
    )
    notified_only = subject(
        orders=[full("2026-01-31")], names=names, notifications=[d.Notification(day("2026-05-02"))]
    )
    assert one(derive(notified_only), "change-notification").state is State.OPEN


# --------------------------------------------------------------------------- overrides


def test_an_override_due_before_the_actions_window_opens_the_window_on_that_day() -> None:
    flag = d.Flag("F-1", day("2027-03-31"))
    plain = one(derive(subject(orders=[full("2026-01-05")], flags=[flag])), "flag-review")
    assert (plain.window_opens, plain.due) == (day("2027-02-28"), day("2027-03-31"))
    override = d.ActionOverride(plain.id, d.OverrideKind.DUE, day("2027-02-10"), "leave", DS)
    facts = subject(orders=[full("2026-01-05")], flags=[flag], action_overrides=[override])
    moved = one(derive(facts), "flag-review")
    assert moved.id == plain.id
    assert (moved.window_opens, moved.due) == (day("2027-02-10"), day("2027-02-10"))
    assert moved.window_opens <= moved.due
    assert moved.soon_from <= moved.due  # never due-soon only after it is due
    assert moved.status(day("2027-02-10")) is Status.DUE_TODAY
    assert moved.status(day("2027-02-11")) is Status.OVERDUE
    assert moved.explanation.override == (
        "Due date set to 2027-02-10 by ds@force.example: leave (the policy gave 2027-03-31)."
    )


def test_an_override_due_later_keeps_the_window_and_due_soon_day() -> None:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "initial-visit")
    override = d.ActionOverride(plain.id, d.OverrideKind.DUE, day("2026-03-20"))
    moved = one(
        derive(subject(orders=[full("2026-03-03")], action_overrides=[override])), "initial-visit"
    )
    assert (moved.due, moved.window_opens, moved.soon_from) == (
        day("2026-03-20"),
        plain.window_opens,
        plain.soon_from,
    )
    assert moved.explanation.override == "Due date set to 2026-03-20 (the policy gave 2026-03-10)."


def overridden(ref: str, kind: d.OverrideKind = d.OverrideKind.DONE) -> Action:
    override = d.ActionOverride(ref, kind, day("2026-03-04"), None, OM)
    facts = subject(orders=[full("2026-03-03")], action_overrides=[override])
    return one(derive(facts), "grant-checklist")


def test_an_override_naming_the_old_ten_digit_action_id_still_applies() -> None:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "grant-checklist")
    assert len(plain.id) == 16
    done = overridden(plain.id[:LEGACY_ACTION_ID_LENGTH])
    assert (done.state, done.completed) == (State.DONE, day("2026-03-04"))
    assert done.explanation.completion == "Marked done on 2026-03-04 by om@force.example."
    assert overridden(plain.id).state is State.DONE


def test_an_override_naming_another_prefix_of_the_id_does_not_apply() -> None:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "grant-checklist")
    for ref in (plain.id[:9], plain.id[:12], plain.id[:10].upper() + "x"):
        assert overridden(ref).state is State.OPEN, ref
    other = "f" * 10 if not plain.id.startswith("f" * 10) else "0" * 10
    assert overridden(other).state is State.OPEN


def test_a_waiver_by_the_old_ten_digit_id_cancels() -> None:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "grant-checklist")
    waived = overridden(plain.id[:LEGACY_ACTION_ID_LENGTH], d.OverrideKind.WAIVE)
    assert (waived.state, waived.cancelled_on) == (State.CANCELLED, day("2026-03-04"))


def test_a_later_done_override_does_not_move_an_earlier_one() -> None:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "grant-checklist")
    overrides = [
        d.ActionOverride(plain.id, d.OverrideKind.DONE, day("2026-03-04")),
        d.ActionOverride(plain.id, d.OverrideKind.DONE, day("2026-03-06")),
    ]
    facts = subject(orders=[full("2026-03-03")], action_overrides=overrides)
    assert one(derive(facts), "grant-checklist").completed == day("2026-03-04")


# --------------------------------------------------------------------------- explanations


def renewal_with(decision: d.RenewalDecision, reason: str | None) -> Action:
    order = full(
        "2025-06-01",
        "2027-05-31",
        renewals=[d.Renewal(day("2027-01-15"), decision, reason=reason)],
    )
    return one(derive(subject(orders=[order])), "renewal-submission")


def test_a_submitted_renewal_is_explained_as_submitted() -> None:
    action = renewal_with(d.RenewalDecision.SUBMITTED, None)
    assert action.explanation.completion == "Done: renewal submitted on 2027-01-15."
    assert "Done: renewal submitted on 2027-01-15." in action.explanation.text(action.due)


def test_a_declined_renewal_is_explained_with_its_reason() -> None:
    action = renewal_with(d.RenewalDecision.DECLINED, "no further stalking recorded")
    assert action.explanation.completion == (
        "Done: decided not to renew on 2027-01-15: no further stalking recorded."
    )
    assert action.state is State.DONE


def test_the_renewal_trigger_says_whether_the_term_was_varied() -> None:
    plain = renewal_with(d.RenewalDecision.SUBMITTED, None)
    assert plain.explanation.trigger == "full order O-1 made"
    variation = d.Variation(day("2026-09-01"), day("2028-05-31"), False, day("2027-05-31"), False)
    varied = full("2025-06-01", "2028-05-31", variations=[variation])
    action = one(derive(subject(orders=[varied])), "renewal-submission")
    assert action.explanation.trigger == "full order O-1 varied to expire 2028-05-31"
    assert action.due == day("2028-02-29")


def test_every_explanation_text_starts_with_the_title_and_the_due_date() -> None:
    actions = derive(subject(orders=[full("2026-03-03", "2028-03-02")]))
    for action in actions:
        title = shipped_policy().rules[action.rule].title
        text = action.explanation.text(action.due)
        assert text.startswith(f"{title[0].upper()}{title[1:]} due {action.due}: "), text
        assert f"Policy: {shipped_policy().rules[action.rule].clause}" in text
        assert "(West Yorkshire Police policy 2026.11)." in text


def test_an_explanation_as_a_dict_carries_each_part() -> None:
    action = one(derive(subject(orders=[full("2026-03-03")])), "initial-visit")
    parts = action.explanation.as_dict(action.due)
    assert parts["text"] == action.explanation.text(action.due)
    assert parts["trigger"] == "full order O-1 granted"
    assert parts["trigger_date"] == "2026-03-03"
    assert parts["arithmetic"] == "due 7 days after the grant (2026-03-03), on 2026-03-10"
    assert parts["title"] == "initial visit"
    assert parts["policy"] == "West Yorkshire Police policy 2026.11"
    assert parts["clause"] == shipped_policy().rules["initial-visit"].clause
    for key in ("completion", "cancellation", "override", "lapse"):
        assert parts[key] is None, key


def test_a_lapse_is_explained_only_when_the_order_ends_before_the_due_date() -> None:
    # a requirement running past the order: its decision (3 months before it ends, 30
    # September 2028) falls after the order ends on 2 March 2028
    course = d.Condition(d.ConditionKind.REQUIREMENT, "course", day("2028-12-31"))
    order = full("2026-03-03", "2028-03-02", conditions=[course])
    cond = one(derive(subject(orders=[order])), "condition-expiry")
    assert (cond.due, cond.lapses_on) == (day("2028-09-30"), day("2028-03-03"))
    assert cond.explanation.lapse == (
        "Lapses on 2028-03-03 if still open: order O-1 ends on 2028-03-02."
    )
    # an interim order shorter than the 14-day lead: due when made, ending after that
    short = one(derive(subject(orders=[interim("2026-03-03", "2026-03-10")])), "interim-expiry")
    assert (short.due, short.lapses_on) == (day("2026-03-03"), day("2026-03-11"))
    assert short.explanation.lapse is None
    assert short.explanation.arithmetic.endswith(
        "which is before the trigger, so due on 2026-03-03"
    )
    long = one(derive(subject(orders=[full("2026-03-03", "2028-03-02")])), "renewal-submission")
    assert long.lapses_on == day("2028-03-03")
    assert long.explanation.lapse is None


def test_a_registered_sex_offenders_notification_check_is_explained_as_not_required() -> None:
    order = full("2026-03-03", served=day("2026-03-04"))
    check = one(derive(subject(orders=[order], registered_sex_offender=True)), "notification-check")
    assert check.explanation.cancellation == (
        "Not required: a registered sex offender is exempt from SPO notification (s9)."
    )


def test_breach_and_failure_to_notify_are_explained_as_different_offences() -> None:
    breaches = [
        d.Breach(day("2026-04-01")),
        d.Breach(day("2026-04-02"), d.Offence.FAILURE_TO_NOTIFY, outcome="charged"),
    ]
    actions = only(
        derive(subject(orders=[full("2026-03-03")], breaches=breaches)), "breach-response"
    )
    assert [a.explanation.trigger for a in actions] == [
        "breach of the order (s8)",
        "failure to notify (s11)",
    ]
    # no day of its own for the outcome (an earlier record): the breach's day
    assert actions[1].completed == day("2026-04-02")
    assert actions[1].explanation.completion == "Done: outcome recorded on 2026-04-02: charged."


def test_a_breach_response_is_done_on_the_day_its_outcome_was_recorded() -> None:
    breach = d.Breach(
        day("2026-04-02"), outcome="charged", outcome_on=day("2026-04-06"), id="S-1/breach-1"
    )
    response = one(
        derive(subject(orders=[full("2026-03-03")], breaches=[breach])), "breach-response"
    )
    assert response.completed == day("2026-04-06")
    assert response.explanation.completion == "Done: outcome recorded on 2026-04-06: charged."
    assert response.explanation.record == "S-1/breach-1"
    open_breach = d.Breach(day("2026-04-02"), outcome_on=day("2026-04-06"))
    waiting = one(
        derive(subject(orders=[full("2026-03-03")], breaches=[open_breach])), "breach-response"
    )
    # a day with no outcome is not an outcome
    assert (waiting.completed, waiting.explanation.completion) == (None, None)


# --------------------------------------------------------------------------- who does it


def test_each_action_goes_to_its_owner_or_the_scu() -> None:
    allocated = subject(
        orders=[full("2026-03-03")], allocations=[d.Allocation(OM, day("2026-03-03"))]
    )
    actions = derive(allocated, supervisor=DS)
    visit, review = one(actions, "initial-visit"), one(actions, "smp-review")
    assert (visit.owner, visit.officer) == ("offender-manager", OM)
    assert (review.owner, review.officer) == ("supervisor", DS)
    no_supervisor = one(derive(allocated), "smp-review")
    assert (no_supervisor.owner, no_supervisor.officer) == ("scu", None)
    unallocated = subject(orders=[full("2026-03-03")])
    fallback = derive(unallocated, unallocated_officer="duty@force.example", supervisor=DS)
    assert one(fallback, "initial-visit").officer == "duty@force.example"
    assert one(fallback, "smp-review").officer == DS
    nobody = derive(unallocated)
    assert (one(nobody, "initial-visit").owner, one(nobody, "initial-visit").officer) == (
        "scu",
        None,
    )


def test_actions_come_most_urgent_first() -> None:
    actions = derive(subject(orders=[full("2026-03-03", "2028-03-02")]))
    assert actions == sorted(actions, key=lambda a: (a.due, a.rule, a.id))
    assert actions[0].due == day("2026-03-04")  # the grant checklist, 1 day after


def test_soon_from_is_the_policys_due_soon_days_before_due_or_the_trigger() -> None:
    actions = derive(subject(orders=[full("2026-03-03", "2028-03-02")]))
    renewal = one(actions, "renewal-submission")
    assert renewal.soon_from == renewal.due - timedelta(days=7)
    checklist = one(actions, "grant-checklist")
    assert checklist.soon_from == date(2026, 3, 3)  # 7 days before due is before the grant


def test_a_done_override_on_the_day_a_fact_completed_the_action_leaves_the_fact_standing() -> None:
    plain = one(derive(subject(orders=[full("2026-03-03")])), "initial-visit")
    override = d.ActionOverride(plain.id, d.OverrideKind.DONE, day("2026-03-05"), None, OM)
    facts = subject(
        orders=[full("2026-03-03")],
        visits=[d.Visit(day("2026-03-05"))],
        action_overrides=[override],
    )
    visit = one(derive(facts), "initial-visit")
    assert visit.completed == day("2026-03-05")
    assert visit.explanation.completion == "Done: visited on 2026-03-05."


# --------------------------------------------------------------------------- what each action says


def test_the_grant_actions_name_what_completed_them() -> None:
    order = full("2026-03-03", served=day("2026-03-04"))
    facts = subject(
        orders=[order],
        visits=[d.Visit(day("2026-03-05"))],
        management_plans=[d.ManagementPlan(day("2026-03-06"))],
        notifications=[d.Notification(day("2026-03-04"))],
    )
    actions = derive(facts)
    assert one(actions, "initial-visit").explanation.completion == "Done: visited on 2026-03-05."
    plan = one(actions, "smp-created")
    assert (plan.completed, plan.explanation.completion) == (
        day("2026-03-06"),
        "Done: plan recorded on 2026-03-06.",
    )
    check = one(actions, "notification-check")
    assert check.explanation.trigger == "full order O-1 served"
    assert check.explanation.arithmetic == "due 2 days after service (2026-03-04), on 2026-03-06"
    assert check.explanation.completion == "Done: notification recorded on 2026-03-04."
    assert one(derive(subject(orders=[order])), "smp-created").explanation.completion is None
    open_check = one(derive(subject(orders=[order])), "notification-check")
    assert open_check.explanation.completion is None


def test_a_registered_sex_offenders_check_never_applied() -> None:
    order = full("2026-03-03", served=day("2026-03-04"))
    check = one(derive(subject(orders=[order], registered_sex_offender=True)), "notification-check")
    assert check.applies is False


def test_moving_out_is_explained_and_done_when_the_documents_are_sent() -> None:
    base = full("2026-01-10")
    out = d.Transfer(d.Direction.OUT, day("2026-04-10"), "Lancashire Police")
    notify = one(derive(subject(orders=[base], transfers=[out])), "transfer-out-notify")
    assert notify.explanation.trigger == "moved out of the area to Lancashire Police"
    assert notify.explanation.arithmetic == "due 1 day after the move (2026-04-10), on 2026-04-11"
    assert notify.explanation.completion is None
    # an earlier record: all three documents sent on the day of the move
    sent = dataclasses.replace(out, documents_sent=True)
    done = one(derive(subject(orders=[base], transfers=[sent])), "transfer-out-notify")
    assert done.completed == day("2026-04-10")
    assert done.explanation.completion == (
        "Done: all three documents recorded as sent, the last on 2026-04-10."
    )


def test_moving_out_is_done_when_the_last_of_the_three_documents_is_sent() -> None:
    base = full("2026-01-10")
    out = d.Transfer(
        d.Direction.OUT,
        day("2026-04-10"),
        "Lancashire Police",
        statement_of_service_sent=day("2026-04-10"),
        risk_information_sent=day("2026-04-12"),
        id="S-1/transfer-1",
    )
    partial = one(derive(subject(orders=[base], transfers=[out])), "transfer-out-notify")
    assert partial.completed is None
    assert partial.explanation.record == "S-1/transfer-1"
    assert partial.explanation.missing == "Still to send: the Subject Management Plan (smp)."
    sent = dataclasses.replace(out, smp_sent=day("2026-04-11"))
    done = one(derive(subject(orders=[base], transfers=[sent])), "transfer-out-notify")
    # the last of the three is the risk information, on the 12th
    assert done.completed == day("2026-04-12")
    assert done.explanation.missing is None
    assert done.explanation.completion == (
        "Done: all three documents recorded as sent, the last on 2026-04-12."
    )


def test_an_action_done_on_the_day_the_subject_moved_out_is_done_not_cancelled() -> None:
    out = d.Transfer(d.Direction.OUT, day("2026-03-08"), "Lancashire Police")
    facts = subject(
        orders=[full("2026-03-03")], transfers=[out], visits=[d.Visit(day("2026-03-08"))]
    )
    visit = one(derive(facts), "initial-visit")
    assert (visit.state, visit.completed, visit.cancelled_on) == (
        State.DONE,
        day("2026-03-08"),
        None,
    )
    assert visit.explanation.cancellation is None


def test_a_move_in_on_the_last_day_of_an_order_brings_the_move_in_actions() -> None:
    order = full("2024-01-11", "2026-01-10")
    arrival = d.Transfer(d.Direction.IN, day("2026-01-10"), "North Yorkshire Police")
    visit = one(derive(subject(orders=[order], transfers=[arrival])), "transfer-in-visit")
    assert (visit.trigger_date, visit.due) == (day("2026-01-10"), day("2026-01-24"))


def test_a_move_in_with_no_order_in_force_does_not_stop_a_later_move_ins_actions() -> None:
    moves = [
        d.Transfer(d.Direction.IN, day("2025-01-01"), "Humberside Police"),
        d.Transfer(d.Direction.OUT, day("2025-03-01"), "Humberside Police"),
        d.Transfer(d.Direction.IN, day("2026-01-10"), "North Yorkshire Police"),
    ]
    facts = subject(orders=[full("2025-06-01")], transfers=moves)
    visits = only(derive(facts), "transfer-in-visit")
    assert [a.trigger_date for a in visits] == [day("2026-01-10")]


def test_an_order_from_before_a_move_in_does_not_stop_a_later_grant_here() -> None:
    elsewhere = full("2025-03-03", "2026-02-01", ref="O-1")
    here = full("2026-06-01", ref="O-2")
    arrival = d.Transfer(d.Direction.IN, day("2026-01-10"), "North Yorkshire Police")
    actions = derive(subject(orders=[elsewhere, here], transfers=[arrival]))
    assert [a.order for a in only(actions, "initial-visit")] == ["O-2"]


def test_an_order_made_under_another_does_not_stop_a_later_first_order() -> None:
    orders = [
        full("2024-01-10", "2026-01-09", ref="O-1"),
        full("2025-01-01", "2027-01-01", ref="O-2"),  # made while O-1 was in force
        full("2027-03-01", ref="O-3"),  # made after both ended
    ]
    visits = [a.order for a in only(derive(subject(orders=orders)), "initial-visit")]
    assert visits == ["O-1", "O-3"]


def test_the_renewal_belongs_to_its_order() -> None:
    renewal = one(derive(subject(orders=[full("2026-03-03", "2028-03-02")])), "renewal-submission")
    assert (renewal.order, renewal.key) == ("O-1", "O-1")


def test_an_interim_order_shorter_than_its_lead_is_explained_in_full() -> None:
    short = one(derive(subject(orders=[interim("2026-03-03", "2026-03-10")])), "interim-expiry")
    assert short.explanation.arithmetic == (
        "due 14 days before the end of the interim order (2026-03-10), on 2026-02-24, "
        "which is before the trigger, so due on 2026-03-03"
    )


def test_a_review_window_in_working_days_skips_bank_holidays() -> None:
    text = POLICY_TEXT.replace(
        "window = { months = -1 }     #", "working_days = true\nwindow = { days = -3 } #", 1
    )
    policy = dataclasses.replace(parse_policy(text), holidays=BANK_HOLIDAYS_2026)
    flag = d.Flag("F-1", day("2026-04-08"))  # a Wednesday after Easter
    review = one(derive(subject(orders=[full("2026-01-05")], flags=[flag]), policy), "flag-review")
    # 3 working days before 8 April: Tue 7, (Mon 6 Easter Monday), (Good Friday 3), Thu 2, Wed 1
    assert (review.due, review.window_opens) == (day("2026-04-08"), day("2026-04-01"))


def test_a_flag_whose_window_opens_on_the_orders_last_day_is_on_record_from_the_start() -> None:
    flag = d.Flag("F-1", day("2028-04-02"))  # window opens 2 March 2028, the order's last day
    review = one(
        derive(subject(orders=[full("2026-03-03", "2028-03-02")], flags=[flag])), "flag-review"
    )
    assert review.window_opens == day("2028-03-02")
    assert review.trigger_date == day("2026-03-03")
    assert review.explanation.trigger == "flag F-1 on record at the start of supervision"


def test_a_flag_whose_window_opens_before_supervision_is_on_record_from_its_window() -> None:
    flag = d.Flag("F-1", day("2026-03-20"))  # window opens 20 February, before the grant
    review = one(derive(subject(orders=[full("2026-03-03")], flags=[flag])), "flag-review")
    assert (review.trigger_date, review.window_opens) == (day("2026-02-20"), day("2026-02-20"))
    assert review.explanation.trigger == (
        "the review window opened for flag F-1 (expiring 2026-03-20)"
    )


def test_the_move_in_actions_say_where_from_what_arithmetic_and_what_completed_them() -> None:
    arrival = d.Transfer(d.Direction.IN, day("2026-01-10"), "North Yorkshire Police")
    facts = subject(
        orders=[full("2025-03-03")],
        transfers=[arrival],
        allocations=[d.Allocation(OM, day("2026-01-10"))],  # on the day of arrival: counts
        visits=[d.Visit(day("2026-01-20"))],
        management_plans=[d.ManagementPlan(day("2026-01-15"))],
    )
    actions = derive(facts)
    allocation = one(actions, "transfer-in-allocation")
    visit = one(actions, "transfer-in-visit")
    plan = one(actions, "smp-created")
    for action in (allocation, visit, plan):
        assert action.explanation.trigger == "moved into the area from North Yorkshire Police"
        assert action.key == "in:2026-01-10:0"
    assert (
        allocation.explanation.arithmetic == "due 7 days after arrival (2026-01-10), on 2026-01-17"
    )
    assert visit.explanation.arithmetic == "due 14 days after arrival (2026-01-10), on 2026-01-24"
    assert allocation.completed == day("2026-01-10")
    assert allocation.explanation.completion == "Done: om@force.example allocated on 2026-01-10."
    assert visit.explanation.completion == "Done: visited on 2026-01-20."
    assert plan.explanation.completion == "Done: plan recorded on 2026-01-15."
    still_open = derive(subject(orders=[full("2025-03-03")], transfers=[arrival]))
    for rule in ("transfer-in-allocation", "transfer-in-visit", "smp-created"):
        assert one(still_open, rule).explanation.completion is None, rule


def test_the_order_actions_say_which_order_and_why() -> None:
    cond = d.Condition(d.ConditionKind.PROHIBITION, "no contact", day("2027-05-31"))
    actions = derive(
        subject(
            orders=[
                full("2026-03-03", "2028-03-02", conditions=[cond]),
                interim("2026-01-05", "2026-03-01"),
            ]
        )
    )
    hearing = one(actions, "interim-expiry")
    assert (hearing.order, hearing.explanation.trigger) == ("I-1", "interim order I-1 made")
    assert hearing.explanation.arithmetic == (
        "due 14 days before the end of the interim order (2026-03-01), on 2026-02-15"
    )
    ends = {a.order: a for a in only(actions, "order-expiry")}
    assert ends["O-1"].explanation.trigger == "full order O-1 reaches its end"
    assert ends["I-1"].explanation.trigger == "interim order I-1 reaches its end"
    condition = one(actions, "condition-expiry")
    assert condition.order == "O-1"
    assert condition.explanation.trigger == "prohibition on order O-1 with its own end date"
    assert condition.explanation.arithmetic == (
        "due 3 months before the end of the prohibition (2027-05-31), on 2027-02-28"
    )


def test_a_full_order_has_no_interim_hearing() -> None:
    actions = derive(
        subject(orders=[full("2026-03-03", "2028-03-02"), full("2026-04-01", ref="O-2")])
    )
    assert only(actions, "interim-expiry") == []


def test_each_condition_ending_is_its_own_occurrence() -> None:
    conditions = [
        d.Condition(d.ConditionKind.PROHIBITION, "no contact", day("2027-05-31")),
        d.Condition(d.ConditionKind.PROHIBITION, "exclusion zone", day("2027-08-31")),
        d.Condition(d.ConditionKind.REQUIREMENT, "course", day("2027-05-31")),
        d.Condition(d.ConditionKind.PROHIBITION, "no messages", day("2027-05-31")),
    ]
    order = full("2026-03-03", "2028-03-02", conditions=conditions)
    keys = sorted(a.key for a in only(derive(subject(orders=[order])), "condition-expiry"))
    assert keys == [
        "O-1:prohibition:2027-05-31:0",
        "O-1:prohibition:2027-05-31:1",
        "O-1:prohibition:2027-08-31:0",
        "O-1:requirement:2027-05-31:0",
    ]


def test_a_variation_in_the_window_completes_the_condition_decision() -> None:
    cond = d.Condition(d.ConditionKind.PROHIBITION, "no contact", day("2027-05-31"))
    variation = d.Variation(day("2026-12-01"), day("2028-03-02"), False, day("2028-03-02"), False)
    order = full("2026-03-03", "2028-03-02", conditions=[cond], variations=[variation])
    condition = one(derive(subject(orders=[order])), "condition-expiry")
    assert condition.explanation.completion == "Done: order varied on 2026-12-01."


def test_without_a_window_a_variation_does_not_complete_a_condition_decision() -> None:
    text = POLICY_TEXT.replace(
        "window = { months = -3 }     # default: a variation", "# no window: a variation", 1
    )
    text = text.replace("window = { months = -1 }     #", "#", 1)
    policy = parse_policy(text)
    assert policy.rules["condition-expiry"].window is None
    assert policy.rules["flag-review"].window is None
    cond = d.Condition(d.ConditionKind.PROHIBITION, "no contact", day("2027-05-31"))
    variation = d.Variation(day("2026-12-01"), day("2028-03-02"), False, day("2028-03-02"), False)
    order = full("2026-03-03", "2028-03-02", conditions=[cond], variations=[variation])
    flag = d.Flag("F-1", day("2027-03-31"))
    actions = derive(subject(orders=[order], flags=[flag]), policy)
    condition = one(actions, "condition-expiry")
    assert (condition.state, condition.window_opens) == (State.OPEN, condition.trigger_date)
    review = one(actions, "flag-review")
    assert review.due == day("2027-03-31")
    assert review.trigger_date == day("2026-03-03")


def test_flag_review_periods_are_explained_one_by_one() -> None:
    flag = d.Flag(
        "F-1",
        day("2027-03-31"),
        reviews=[
            d.FlagReview(day("2027-03-10"), d.FlagOutcome.EXTENDED, day("2028-03-31")),
            d.FlagReview(day("2028-03-20"), d.FlagOutcome.REMOVED),
        ],
    )
    reviews = sorted(
        only(derive(subject(orders=[full("2026-01-05")], flags=[flag])), "flag-review"),
        key=lambda a: a.key,
    )
    first, second = reviews
    assert first.explanation.trigger == "flag F-1 on record at the start of supervision"
    assert first.explanation.arithmetic == (
        "due on the day of the flag's expiry (2027-03-31); its review window opens on 2027-02-28"
    )
    assert first.explanation.completion == "Done: reviewed on 2027-03-10: extended to 2028-03-31."
    assert (second.trigger_date, second.explanation.trigger) == (
        day("2027-03-10"),
        "flag F-1 extended to 2028-03-31",
    )
    assert second.explanation.completion == "Done: reviewed on 2028-03-20: removed."


def test_a_flag_reviewed_before_supervision_began_is_explained_as_reviewed_early() -> None:
    flag = d.Flag(
        "F-1",
        day("2027-03-31"),
        reviews=[d.FlagReview(day("2026-01-05"), d.FlagOutcome.EXTENDED, day("2028-03-31"))],
    )
    reviews = sorted(
        only(derive(subject(orders=[full("2026-01-05")], flags=[flag])), "flag-review"),
        key=lambda a: a.key,
    )
    assert reviews[0].trigger_date == day("2026-01-05")
    assert reviews[0].explanation.trigger == "flag F-1 (expiring 2027-03-31) reviewed early"
    assert reviews[0].state is State.DONE


# --------------------------------------------------------------------------- recurring, in detail


def with_lines(*pairs: tuple[str, str]) -> Policy:
    text = POLICY_TEXT
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_policy(text)


def test_without_the_supervisors_review_rule_there_are_no_reviews() -> None:
    policy = with_lines(("[rules.smp-review]\n", "[rules.smp-review]\nenabled = false\n"))
    assert only(derive(subject(orders=[full("2026-01-31")]), policy), "smp-review") == []


def test_a_breach_brings_the_review_forward_in_working_days_when_the_policy_says_so() -> None:
    policy = dataclasses.replace(
        with_lines(("[rules.smp-review]\n", "[rules.smp-review]\nworking_days = true\n")),
        holidays=BANK_HOLIDAYS_2026,
    )
    facts = subject(
        orders=[full("2026-01-31")],
        risk_levels=[d.RiskEntry(d.Risk.LOW, day("2026-01-01"))],
        breaches=[d.Breach(day("2026-04-02"))],
    )
    review = one(derive(facts, policy), "smp-review")
    # 7 working days after Thursday 2 April 2026, Easter skipped: Wednesday 15 April
    assert review.due == day("2026-04-15")
    assert review.explanation.arithmetic == (
        "brought forward by the breach: due 7 working days after it (2026-04-02), on 2026-04-15"
    )


def test_a_two_month_cadence_is_months_in_the_plural() -> None:
    policy = with_lines(("medium = 3,", "medium = 2,"))
    levels = [d.RiskEntry(d.Risk.MEDIUM, day("2026-01-01"))]
    review = one(
        derive(subject(orders=[full("2026-01-31")], risk_levels=levels), policy), "smp-review"
    )
    assert review.due == day("2026-03-31")
    assert "due every 2 months at medium risk from the start (2026-01-31)" in (
        review.explanation.arithmetic
    )


def test_a_breach_on_the_day_of_a_review_is_covered_by_that_review() -> None:
    facts = subject(
        orders=[full("2026-01-31")],
        risk_levels=[d.RiskEntry(d.Risk.LOW, day("2026-01-01"))],
        reviews=[d.Review(day("2026-03-10"), DS)],
        breaches=[d.Breach(day("2026-03-10"))],
    )
    reviews = sorted(only(derive(facts), "smp-review"), key=lambda a: a.key)
    assert [(a.trigger_date, a.due, a.state) for a in reviews] == [
        (day("2026-01-31"), day("2026-07-31"), State.DONE),  # low: 6 months from the start
        (day("2026-03-10"), day("2026-09-10"), State.OPEN),  # 6 months from that review
    ]
    assert reviews[0].explanation.completion == "Done: reviewed on 2026-03-10."
    assert reviews[1].explanation.completion is None


def test_a_re_grading_on_the_day_of_a_review_applies_from_that_review() -> None:
    levels = [
        d.RiskEntry(d.Risk.LOW, day("2026-01-01")),
        d.RiskEntry(d.Risk.HIGH, day("2026-03-15")),
    ]
    facts = subject(
        orders=[full("2026-01-31")], risk_levels=levels, reviews=[d.Review(day("2026-03-15"), DS)]
    )
    reviews = sorted(only(derive(facts), "smp-review"), key=lambda a: a.key)
    assert [(a.trigger_date, a.due) for a in reviews] == [
        (day("2026-01-31"), day("2026-07-31")),
        (day("2026-03-15"), day("2026-04-15")),
    ]


def test_risk_graded_on_the_day_supervision_starts_sets_the_first_cadence() -> None:
    levels = [d.RiskEntry(d.Risk.LOW, day("2026-01-31"))]
    review = one(derive(subject(orders=[full("2026-01-31")], risk_levels=levels)), "smp-review")
    assert review.due == day("2026-07-31")


def test_of_two_gradings_on_one_day_the_later_recorded_applies() -> None:
    levels = [
        d.RiskEntry(d.Risk.HIGH, day("2026-01-31")),
        d.RiskEntry(d.Risk.LOW, day("2026-01-31")),
    ]
    facts = subject(orders=[full("2026-01-31")], risk_levels=levels)
    assert facts.current_risk() is d.Risk.LOW
    assert one(derive(facts), "smp-review").due == day("2026-07-31")


def test_a_breach_is_explained_as_bringing_the_review_forward() -> None:
    facts = subject(
        orders=[full("2026-01-31")],
        risk_levels=[d.RiskEntry(d.Risk.LOW, day("2026-01-01"))],
        breaches=[d.Breach(day("2026-03-10"))],
    )
    assert one(derive(facts), "smp-review").explanation.arithmetic == (
        "brought forward by the breach: due 7 days after it (2026-03-10), on 2026-03-17"
    )


def test_a_review_on_the_orders_last_day_is_followed_by_one_that_lapses_with_the_order() -> None:
    facts = subject(
        orders=[full("2026-03-03", "2028-03-02")], reviews=[d.Review(day("2028-03-02"), DS)]
    )
    last = max(only(derive(facts), "smp-review"), key=lambda a: a.trigger_date)
    assert (last.trigger_date, last.state, last.lapses_on) == (
        day("2028-03-02"),
        State.OPEN,
        day("2028-03-03"),
    )


def test_a_visit_on_the_orders_last_day_is_followed_by_a_routine_visit_that_lapses() -> None:
    plans = [d.ManagementPlan(day("2026-03-03"), visit_every_days=28)]
    facts = subject(
        orders=[full("2026-03-03", "2028-03-02")],
        management_plans=plans,
        visits=[d.Visit(day("2028-03-02"))],
    )
    visit = one(derive(facts), "routine-visit")
    assert (visit.trigger_date, visit.lapses_on) == (day("2028-03-02"), day("2028-03-03"))


def test_a_second_period_of_supervision_has_its_own_reviews_and_visits() -> None:
    orders = [full("2024-01-10", "2026-01-09", ref="O-1"), full("2026-06-01", ref="O-2")]
    plans = [d.ManagementPlan(day("2024-01-10"), visit_every_days=28)]
    visits = [d.Visit(day("2025-12-01")), d.Visit(day("2026-06-02"))]
    actions = derive(subject(orders=orders, management_plans=plans, visits=visits))
    assert "2026-06-01:0" in {a.key for a in only(actions, "smp-review")}
    second = [a for a in only(actions, "routine-visit") if a.key.startswith("2026-06-01:")]
    assert [(a.trigger_date, a.due) for a in second] == [(day("2026-06-02"), day("2026-06-30"))]


def test_of_two_plans_recorded_on_one_day_the_later_recorded_sets_the_cadence() -> None:
    plans = [
        d.ManagementPlan(day("2026-03-01"), visit_every_days=7),
        d.ManagementPlan(day("2026-03-01"), visit_every_days=21),
    ]
    facts = subject(
        orders=[full("2026-01-31")], visits=[d.Visit(day("2026-03-01"))], management_plans=plans
    )
    assert one(derive(facts), "routine-visit").due == day("2026-03-22")


def test_a_routine_visit_is_keyed_by_its_supervision_and_says_what_completed_it() -> None:
    plans = [d.ManagementPlan(day("2026-02-01"), visit_every_days=28)]
    visits = [d.Visit(day("2026-02-03")), d.Visit(day("2026-03-01"))]
    facts = subject(orders=[full("2026-01-31")], visits=visits, management_plans=plans)
    first, second = sorted(only(derive(facts), "routine-visit"), key=lambda a: a.key)
    assert (first.key, second.key) == ("2026-01-31:0", "2026-01-31:1")
    assert first.explanation.trigger == "last visit"
    assert first.explanation.completion == "Done: visited on 2026-03-01."
    assert second.explanation.completion is None


# --------------------------------------------------------------------------- changes, in detail


def test_a_new_name_earlier_in_the_alphabet_is_still_a_change() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Aaron Brown", since=day("2026-05-01"))]
    change = one(derive(subject(orders=[full("2026-01-31")], names=names)), "change-notification")
    assert change.trigger_date == day("2026-05-01")
    assert change.key == "name:2026-05-01:0"
    assert (
        change.explanation.arithmetic == "due 2 days after the new name (2026-05-01), on 2026-05-03"
    )


def test_two_new_addresses_on_one_day_are_two_changes() -> None:
    addresses = [
        d.AddressEntry("1 High Street"),
        d.AddressEntry("2 Low Street", since=day("2026-05-01")),
        d.AddressEntry("3 Mid Street", since=day("2026-05-01")),
    ]
    changes = only(
        derive(subject(orders=[full("2026-01-31")], addresses=addresses)), "change-notification"
    )
    assert sorted(a.key for a in changes) == ["address:2026-05-01:0", "address:2026-05-01:1"]
    assert len({a.id for a in changes}) == 2


# ------------------------------------------------------------------------ breaches, moves, lapses


def test_a_breach_response_is_due_on_the_day_of_the_breach_and_says_so() -> None:
    breach = d.Breach(day("2026-04-01"))
    response = one(
        derive(subject(orders=[full("2026-03-03")], breaches=[breach])), "breach-response"
    )
    assert response.due == day("2026-04-01")
    assert response.explanation.arithmetic == "due on the day of the breach (2026-04-01)"


def test_breaches_on_different_days_are_each_the_first_of_their_day() -> None:
    breaches = [d.Breach(day("2026-04-01")), d.Breach(day("2026-04-03"))]
    actions = only(
        derive(subject(orders=[full("2026-03-03")], breaches=breaches)), "breach-response"
    )
    assert sorted(a.key for a in actions) == ["2026-04-01:0", "2026-04-03:0"]


def test_same_day_breaches_are_numbered_by_what_they_are_not_by_when_recorded() -> None:
    # on one day, the one without an outcome before the one with it, whichever was recorded
    # first (so an action's identity does not change with the order of entry)
    answered = d.Breach(day("2026-04-01"), outcome="Arrested, charged", id="S-1/breach-2")
    open_one = d.Breach(day("2026-04-01"), id="S-1/breach-1")
    for recorded in ([answered, open_one], [open_one, answered]):
        actions = only(
            derive(subject(orders=[full("2026-03-03")], breaches=recorded)), "breach-response"
        )
        assert {a.key: a.explanation.record for a in actions} == {
            "2026-04-01:0": "S-1/breach-1",
            "2026-04-01:1": "S-1/breach-2",
        }


def test_same_day_breaches_with_and_without_a_crime_reference_keep_their_numbers() -> None:
    with_ref = d.Breach(day("2026-04-01"), crime_ref="CR-1", id="S-1/breach-2")
    without_ref = d.Breach(day("2026-04-01"), id="S-1/breach-1")
    actions = only(
        derive(subject(orders=[full("2026-03-03")], breaches=[with_ref, without_ref])),
        "breach-response",
    )
    assert {a.key: a.explanation.record for a in actions} == {
        "2026-04-01:0": "S-1/breach-1",
        "2026-04-01:1": "S-1/breach-2",
    }


def test_a_move_out_with_two_documents_unsent_lists_both_in_the_policys_order() -> None:
    out = d.Transfer(
        d.Direction.OUT, day("2026-04-10"), "Lancashire Police", smp_sent=day("2026-04-10")
    )
    notify = one(
        derive(subject(orders=[full("2026-01-10")], transfers=[out])), "transfer-out-notify"
    )
    assert notify.explanation.missing == (
        "Still to send: the statement of service (statement-of-service); the risk information "
        "(risk-information)."
    )


def test_an_action_ended_by_a_move_out_says_when_the_subject_left() -> None:
    out = d.Transfer(d.Direction.OUT, day("2026-03-06"), "Lancashire Police")
    visit = one(derive(subject(orders=[full("2026-03-03")], transfers=[out])), "initial-visit")
    assert (visit.state, visit.cancelled_on) == (State.CANCELLED, day("2026-03-06"))
    assert visit.explanation.cancellation == (
        "Cancelled: the subject moved out of the area on 2026-03-06."
    )


def test_an_open_change_notification_has_no_completion() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-04-01"))]
    change = one(derive(subject(orders=[full("2026-03-03")], names=names)), "change-notification")
    assert (change.completed, change.explanation.completion) == (None, None)


def test_an_interim_order_ending_the_day_before_an_action_is_due_says_the_action_lapses() -> None:
    # granted 3 March, the initial visit is due 10 March; the interim order's last day is
    # 9 March, so the action lapses on the 10th, the day it is due: worth saying
    order = interim("2026-03-03", "2026-03-09")
    visit = one(derive(subject(orders=[order])), "initial-visit")
    assert visit.lapses_on == day("2026-03-10")
    assert visit.explanation.lapse == (
        "Lapses on 2026-03-10 if still open: order I-1 ends on 2026-03-09."
    )


def test_an_order_that_ended_before_the_subject_came_leaves_the_next_order_its_renewal() -> None:
    arrival = d.Transfer(d.Direction.IN, day("2026-06-01"), "North Yorkshire Police")
    old = full("2024-01-01", "2026-01-01", ref="O-1")  # ended before the subject was ours
    new = full("2026-07-01", "2028-06-30", ref="O-2")
    renewals = only(derive(subject(orders=[old, new], transfers=[arrival])), "renewal-submission")
    # 3 months before the expiry of 30 June 2028
    assert [(r.order, r.due) for r in renewals] == [("O-2", day("2028-03-30"))]


def test_a_visit_plan_recorded_after_a_return_sets_visits_though_none_was_due_before() -> None:
    # supervised from 5 January; moved out 1 March, back 1 June; the only plan with a
    # cadence is recorded after the return
    facts = subject(
        orders=[full("2026-01-05")],
        transfers=[
            d.Transfer(d.Direction.OUT, day("2026-03-01"), "Lancashire Police"),
            d.Transfer(d.Direction.IN, day("2026-06-01"), "Lancashire Police"),
        ],
        visits=[d.Visit(day("2026-01-12")), d.Visit(day("2026-01-20")), d.Visit(day("2026-06-05"))],
        management_plans=[d.ManagementPlan(day("2026-06-03"), visit_every_days=28)],
    )
    visits = only(derive(facts), "routine-visit")
    # from the visit of 5 June, every 28 days: 3 July
    assert [(v.trigger_date, v.due) for v in visits] == [(day("2026-06-05"), day("2026-07-03"))]


def test_a_flag_removed_at_review_is_not_reviewed_again_even_with_a_date_given() -> None:
    flag = d.Flag(
        "F-1",
        expires=day("2026-09-30"),
        reviews=[d.FlagReview(day("2026-09-10"), d.FlagOutcome.REMOVED, until=day("2027-09-30"))],
    )
    reviews = only(derive(subject(orders=[full("2026-03-03")], flags=[flag])), "flag-review")
    assert [(r.state, r.completed) for r in reviews] == [(State.DONE, day("2026-09-10"))]


def test_an_order_naming_a_replaced_order_not_on_record_is_a_first_order() -> None:
    # the record is refused on import (check_order); the rules still treat it as the first
    order = full("2026-03-03", replaces="I-9")
    visit = one(derive(subject(orders=[order])), "initial-visit")
    assert visit.due == day("2026-03-10")


def test_an_interim_order_replaced_by_a_full_one_ends_the_day_before_the_full_order() -> None:
    # s5: an interim order ends when the full application is decided
    first = interim("2026-03-03", "2026-09-02")
    replacing = full("2026-06-01", ref="O-2", replaces="I-1")
    end = Record(subject(orders=[first, replacing])).order_end(first)
    assert end == End(day("2026-05-31"), "interim order I-1 replaced by O-2 on 2026-06-01")
    assert end.lapse is False


def test_an_order_whose_last_day_is_the_day_the_subject_moved_in_is_ours_to_close() -> None:
    arrival = d.Transfer(d.Direction.IN, day("2026-03-02"), "North Yorkshire Police")
    order = full("2024-03-03", "2026-03-02")  # its last day is the day of arrival
    expiry = one(derive(subject(orders=[order], transfers=[arrival])), "order-expiry")
    assert (expiry.order, expiry.due) == ("O-1", day("2026-03-02"))


def test_a_review_cycle_ended_by_a_move_out_says_supervision_ended() -> None:
    out = d.Transfer(d.Direction.OUT, day("2026-04-10"), "Lancashire Police")
    review = one(derive(subject(orders=[full("2026-03-03")], transfers=[out])), "smp-review")
    assert review.cancelled_on == day("2026-04-10")
    assert review.explanation.cancellation == (
        "Cancelled: no order in force, or the subject out of the area, after 2026-04-09."
    )
