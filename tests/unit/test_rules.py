"""The deadline engine: scenario tables for each rule, and properties of any derivation.

Pure: facts in, actions out, against the shipped West Yorkshire policy. Dates are plain
calendar dates throughout (no clock, no time zone arithmetic).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spo_tracker.core import record as d
from spo_tracker.core.dates import last_day_of_period
from spo_tracker.core.policy import RULE_IDS, parse_policy
from spo_tracker.core.rules import Action, Facts, State, Status, derive_actions
from tests.support.facts import one, only

REPO = Path(__file__).resolve().parents[2]
POLICY = parse_policy((REPO / "data" / "policy" / "west-yorkshire.toml").read_text())
OM = "om@force.example"
DS = "ds@force.example"
OFFICERS = {OM, DS}
GRANT_RULES = ("initial-visit", "grant-checklist", "notification-check")

day = date.fromisoformat


# --------------------------------------------------------------------------- helpers


def make_subject(**kw: Any) -> d.Subject:
    kw.setdefault("reference", "S-1")
    kw.setdefault("names", [d.NameEntry("Alex Brown")])
    return d.Subject(**kw)


def full_order(
    made: date, expires: date | None = None, *, reference: str = "O-1", **kw: Any
) -> d.Order:
    return d.Order(
        reference,
        d.OrderType.FULL,
        made=made,
        expires=expires,
        until_further_order=expires is None,
        **kw,
    )


def interim_order(made: date, expires: date, *, reference: str = "I-1", **kw: Any) -> d.Order:
    return d.Order(reference, d.OrderType.INTERIM, made=made, expires=expires, **kw)


def derive(subject: d.Subject) -> list[Action]:
    return derive_actions(Facts(subject), POLICY)


def by_id(actions: list[Action]) -> dict[str, Action]:
    return {a.id: a for a in actions}


def dates(*values: str) -> list[date]:
    return [day(v) for v in values]


def granted_on(made: str, **kw: Any) -> d.Subject:
    """A subject with one full order (until further order) made on ``made``."""
    return make_subject(orders=[full_order(day(made), served=kw.pop("served", None))], **kw)


# --------------------------------------------------------------------------- initial visit


@pytest.mark.parametrize(
    ("granted", "due"),
    [
        ("2026-03-03", "2026-03-10"),
        ("2026-03-25", "2026-04-01"),  # the week the clocks go forward (29 March 2026)
        ("2026-10-22", "2026-10-29"),  # the week the clocks go back (25 October 2026)
        ("2026-12-28", "2027-01-04"),
        ("2028-02-25", "2028-03-03"),  # across 29 February
        ("2027-02-25", "2027-03-04"),
    ],
    ids=["3-march", "spring-clock-change", "autumn-clock-change", "new-year", "leap", "non-leap"],
)
def test_initial_visit_is_due_seven_calendar_days_after_the_grant(granted: str, due: str) -> None:
    action = one(derive(granted_on(granted)), "initial-visit")
    assert action.trigger_date == day(granted)
    assert action.due == day(due)
    assert action.order == "O-1"
    assert action.state is State.OPEN


@pytest.mark.parametrize(
    ("visits", "state", "completed", "late"),
    [
        ([], State.OPEN, None, None),
        (["2026-03-03"], State.DONE, "2026-03-03", False),
        (["2026-03-10"], State.DONE, "2026-03-10", False),
        (["2026-03-02"], State.OPEN, None, None),
        (["2026-02-20", "2026-03-11"], State.DONE, "2026-03-11", True),
        (["2026-03-12", "2026-03-05"], State.DONE, "2026-03-05", False),
    ],
    ids=[
        "no-visit",
        "on-grant-day",
        "on-due-day",
        "before-grant-never-counts",
        "late-visit-after-an-earlier-one",
        "first-visit-counts-whatever-the-recording-order",
    ],
)
def test_initial_visit_is_done_by_the_first_visit_on_or_after_the_grant(
    visits: list[str], state: State, completed: str | None, late: bool | None
) -> None:
    subject = granted_on("2026-03-03", visits=[d.Visit(v) for v in dates(*visits)])
    action = one(derive(subject), "initial-visit")
    assert action.state is state
    assert action.completed == (day(completed) if completed else None)
    assert action.late is late


def test_a_back_dated_visit_satisfies_the_initial_visit_as_of_the_date_it_states() -> None:
    action = one(
        derive(granted_on("2026-03-03", visits=[d.Visit(day("2026-03-12"))])), "initial-visit"
    )
    assert action.status(day("2026-03-02")) is None
    assert action.status(day("2026-03-10")) is Status.DUE_TODAY
    assert action.status(day("2026-03-11")) is Status.OVERDUE
    assert action.status(day("2026-03-12")) is Status.DONE
    assert action.late is True


def test_a_full_order_replacing_an_interim_one_restarts_no_grant_time_action() -> None:
    interim = interim_order(
        day("2026-03-03"),
        day("2026-06-01"),
        served=day("2026-03-04"),
        status=d.OrderStatus.REPLACED,
    )
    full = full_order(day("2026-05-01"), served=day("2026-05-02"), replaces="I-1")
    actions = derive(make_subject(orders=[interim, full], visits=[d.Visit(day("2026-03-09"))]))
    for rule in (*GRANT_RULES, "smp-created"):
        assert one(actions, rule).order == "I-1", rule
    visit = one(actions, "initial-visit")
    assert (visit.due, visit.completed, visit.state) == (
        day("2026-03-10"),
        day("2026-03-09"),
        State.DONE,
    )
    check = one(actions, "notification-check")
    assert (check.trigger_date, check.due) == (day("2026-03-04"), day("2026-03-06"))


def test_a_second_order_made_while_one_is_in_force_restarts_no_grant_time_action() -> None:
    first = full_order(day("2026-03-03"), served=day("2026-03-03"))
    second = full_order(day("2026-09-01"), reference="O-2", served=day("2026-09-02"))
    actions = derive(make_subject(orders=[first, second]))
    for rule in (*GRANT_RULES, "smp-created"):
        assert [a.order for a in only(actions, rule)] == ["O-1"], rule


# --------------------------------------------------------------------------- notification check


@pytest.mark.parametrize(
    ("served", "due"),
    [
        ("2026-03-04", "2026-03-06"),
        ("2026-03-27", "2026-03-29"),  # the clocks go forward on the last day
        ("2026-10-23", "2026-10-25"),  # the clocks go back on the last day
        ("2026-12-31", "2027-01-02"),
    ],
)
def test_notification_check_is_due_at_the_end_of_three_days_beginning_with_service(
    served: str, due: str
) -> None:
    subject = make_subject(orders=[full_order(day(served) - timedelta(days=1), served=day(served))])
    action = one(derive(subject), "notification-check")
    assert (action.trigger_date, action.due) == (day(served), day(due))


@pytest.mark.parametrize(
    ("notified", "state", "completed"),
    [
        ([], State.OPEN, None),
        (["2026-03-03"], State.OPEN, None),
        (["2026-03-04"], State.DONE, "2026-03-04"),
        (["2026-03-03", "2026-03-08"], State.DONE, "2026-03-08"),
    ],
    ids=["none", "before-service-never-counts", "on-service-day", "late"],
)
def test_notification_check_is_done_by_a_notification_on_or_after_service(
    notified: list[str], state: State, completed: str | None
) -> None:
    subject = granted_on(
        "2026-03-03",
        served=day("2026-03-04"),
        notifications=[d.Notification(n) for n in dates(*notified)],
    )
    action = one(derive(subject), "notification-check")
    assert action.state is state
    assert action.completed == (day(completed) if completed else None)


@pytest.mark.parametrize(
    ("registered", "exempt_until", "state"),
    [
        (False, None, State.OPEN),
        (True, None, State.CANCELLED),
        (True, "2026-03-04", State.CANCELLED),
        (True, "2027-01-01", State.CANCELLED),
        (True, "2026-03-03", State.OPEN),
    ],
    ids=["not-registered", "registered", "exempt-to-service-day", "exempt-later", "exempt-ended"],
)
def test_a_registered_sex_offender_is_exempt_from_the_notification_check(
    registered: bool, exempt_until: str | None, state: State
) -> None:
    subject = granted_on(
        "2026-03-03",
        served=day("2026-03-04"),
        registered_sex_offender=registered,
        rso_exempt_until=day(exempt_until) if exempt_until else None,
    )
    action = one(derive(subject), "notification-check")
    assert action.state is state
    if state is State.CANCELLED:
        # never required: kept, but shown on no day at all
        assert not action.applies
        assert action.cancelled_on is None
        for when in ("2026-03-03", "2026-03-04", "2026-03-10", "2027-06-01"):
            assert action.status(day(when)) is None


def test_an_order_not_yet_served_has_no_notification_check() -> None:
    assert only(derive(granted_on("2026-03-03")), "notification-check") == []


# --------------------------------------------------------------------------- renewal submission


@pytest.mark.parametrize(
    ("made", "expires", "due"),
    [
        ("2025-06-01", "2027-05-31", "2027-02-28"),
        ("2026-06-01", "2028-05-31", "2028-02-29"),
        ("2026-01-10", "2028-11-30", "2028-08-30"),
        ("2025-12-01", "2027-11-30", "2027-08-30"),
        ("2026-03-03", "2028-03-02", "2027-12-02"),
    ],
    ids=["31-may-to-28-feb", "31-may-to-29-feb-leap", "30-nov", "30-nov-earliest", "2-march"],
)
def test_renewal_submission_is_due_three_months_before_expiry_clamped_to_month_end(
    made: str, expires: str, due: str
) -> None:
    subject = make_subject(orders=[full_order(day(made), day(expires))])
    action = one(derive(subject), "renewal-submission")
    assert (action.trigger_date, action.due) == (day(made), day(due))
    assert action.lapses_on == day(expires) + timedelta(days=1)


def test_no_renewal_submission_for_an_order_until_further_order_or_an_interim_order() -> None:
    subject = make_subject(
        orders=[
            full_order(day("2026-03-03")),
            interim_order(day("2026-01-05"), day("2026-03-01")),
        ]
    )
    assert only(derive(subject), "renewal-submission") == []


@pytest.mark.parametrize(
    ("renewals", "state", "completed"),
    [
        ([], State.OPEN, None),
        ([("2027-01-15", d.RenewalDecision.SUBMITTED)], State.DONE, "2027-01-15"),
        ([("2027-03-15", d.RenewalDecision.SUBMITTED)], State.DONE, "2027-03-15"),
        ([("2027-01-15", d.RenewalDecision.DECLINED)], State.DONE, "2027-01-15"),
    ],
    ids=["none", "submitted-in-time", "submitted-late", "declined-with-reason"],
)
def test_renewal_submission_is_done_by_a_renewal_record(
    renewals: list[tuple[str, d.RenewalDecision]], state: State, completed: str | None
) -> None:
    order = full_order(
        day("2025-06-01"),
        day("2027-05-31"),
        renewals=[d.Renewal(day(w), decision, reason="operational") for w, decision in renewals],
    )
    action = one(derive(make_subject(orders=[order])), "renewal-submission")
    assert action.state is state
    assert action.completed == (day(completed) if completed else None)
    assert action.late is (None if completed is None else day(completed) > day("2027-02-28"))


def test_a_variation_moves_the_renewal_deadline_and_keeps_the_action_id() -> None:
    before = one(
        derive(make_subject(orders=[full_order(day("2025-06-01"), day("2027-05-31"))])),
        "renewal-submission",
    )
    varied = full_order(
        day("2025-06-01"),
        day("2028-05-31"),
        variations=[
            d.Variation(
                day("2026-09-01"),
                expires=day("2028-05-31"),
                until_further_order=False,
                previous_expires=day("2027-05-31"),
                previous_until_further_order=False,
            )
        ],
        renewals=[d.Renewal(day("2026-08-01"), d.RenewalDecision.SUBMITTED)],
    )
    after = one(derive(make_subject(orders=[varied])), "renewal-submission")
    assert after.id == before.id
    assert after.due == day("2028-02-29")
    assert after.trigger_date == day("2026-09-01")
    # a submission for the old term does not count for the new one
    assert after.state is State.OPEN


# --------------------------------------------------------------------------- flag review


@pytest.mark.parametrize(
    ("expires", "window_opens"),
    [
        ("2027-03-31", "2027-02-28"),
        ("2028-03-31", "2028-02-29"),
        ("2026-07-31", "2026-06-30"),
        ("2026-05-15", "2026-04-15"),
    ],
    ids=["31-march", "31-march-leap", "31-july", "mid-month"],
)
def test_flag_review_window_opens_a_month_before_expiry_and_is_due_by_expiry(
    expires: str, window_opens: str
) -> None:
    subject = granted_on("2026-01-05", flags=[d.Flag("F-1", day(expires))])
    action = one(derive(subject), "flag-review")
    assert action.window_opens == day(window_opens)
    assert action.trigger_date == day("2026-01-05")  # on record from the start of supervision
    assert action.due == day(expires)
    assert action.soon_from == day(window_opens)
    before = day(window_opens) - dt.timedelta(days=1)
    assert action.status(day("2026-01-05")) is Status.UPCOMING
    assert action.status(before) is Status.UPCOMING
    assert action.status(day(window_opens)) is Status.DUE_SOON
    assert action.status(day(expires)) is Status.DUE_TODAY


def test_each_flag_extension_completes_its_period_and_starts_a_new_one() -> None:
    flag = d.Flag(
        "F-1",
        day("2027-03-31"),
        reviews=[
            d.FlagReview(day("2027-03-10"), d.FlagOutcome.EXTENDED, day("2028-03-31")),
            d.FlagReview(day("2028-03-20"), d.FlagOutcome.EXTENDED, day("2029-03-31")),
        ],
    )
    reviews = only(derive(granted_on("2026-01-05", flags=[flag])), "flag-review")
    assert [(a.due, a.state, a.completed) for a in reviews] == [
        (day("2027-03-31"), State.DONE, day("2027-03-10")),
        (day("2028-03-31"), State.DONE, day("2028-03-20")),
        (day("2029-03-31"), State.OPEN, None),
    ]
    assert [a.window_opens for a in reviews] == dates("2027-02-28", "2028-02-29", "2029-02-28")
    assert len({a.id for a in reviews}) == 3


def test_a_flag_removed_at_review_has_no_further_period() -> None:
    flag = d.Flag(
        "F-1", day("2027-03-31"), reviews=[d.FlagReview(day("2027-03-15"), d.FlagOutcome.REMOVED)]
    )
    action = one(derive(granted_on("2026-01-05", flags=[flag])), "flag-review")
    assert (action.state, action.completed) == (State.DONE, day("2027-03-15"))


def test_every_flag_on_the_subject_gets_its_own_review() -> None:
    flags = [d.Flag("F-1", day("2027-03-31")), d.Flag("F-2", day("2027-09-30"))]
    reviews = only(derive(granted_on("2026-01-05", flags=flags)), "flag-review")
    assert [(a.key, a.due) for a in reviews] == [
        ("F-1:0", day("2027-03-31")),
        ("F-2:0", day("2027-09-30")),
    ]


# --------------------------------------------------------------------------- moves


def moved_in(**kw: Any) -> d.Subject:
    """An order made by another force on 3 March 2025; the subject moved here 10 Jan 2026."""
    transfers = [d.Transfer(d.Direction.IN, day("2026-01-10"), "North Yorkshire Police")]
    return make_subject(
        orders=[full_order(day("2025-03-03"), served=day("2025-03-04"))],
        transfers=transfers + kw.pop("transfers", []),
        **kw,
    )


def test_an_order_made_before_a_move_in_has_no_grant_time_actions_here() -> None:
    actions = derive(moved_in())
    for rule in GRANT_RULES:
        assert only(actions, rule) == [], rule
    assert [a.order for a in only(actions, "smp-created")] == [None]


@pytest.mark.parametrize(
    ("rule", "due"),
    [
        ("transfer-in-allocation", "2026-01-17"),
        ("transfer-in-visit", "2026-01-24"),
        ("smp-created", "2026-01-17"),
    ],
)
def test_a_move_in_starts_the_move_in_actions_from_arrival(rule: str, due: str) -> None:
    action = one(derive(moved_in()), rule)
    assert (action.trigger_date, action.due, action.state) == (
        day("2026-01-10"),
        day(due),
        State.OPEN,
    )


def test_move_in_actions_are_done_only_by_records_on_or_after_arrival() -> None:
    early = moved_in(
        visits=[d.Visit(day("2026-01-09"))],
        allocations=[d.Allocation(OM, day("2025-12-01"))],
        management_plans=[d.ManagementPlan(day("2025-04-01"))],
    )
    for rule in ("transfer-in-allocation", "transfer-in-visit", "smp-created"):
        assert one(derive(early), rule).state is State.OPEN, rule
    timely = moved_in(
        visits=[d.Visit(day("2026-01-09")), d.Visit(day("2026-01-20"))],
        allocations=[d.Allocation(OM, day("2026-01-12"))],
        management_plans=[d.ManagementPlan(day("2026-01-15"))],
    )
    actions = derive(timely)
    assert one(actions, "transfer-in-allocation").completed == day("2026-01-12")
    assert one(actions, "transfer-in-visit").completed == day("2026-01-20")
    assert one(actions, "smp-created").completed == day("2026-01-15")


def test_moving_out_cancels_every_open_action_except_notifying_the_new_force() -> None:
    subject = moved_in(
        transfers=[d.Transfer(d.Direction.OUT, day("2026-04-10"), "Lancashire Police")],
        visits=[d.Visit(day("2026-01-20"))],
        flags=[d.Flag("F-1", day("2026-12-31"))],
    )
    actions = derive(subject)
    notify = one(actions, "transfer-out-notify")
    assert (notify.trigger_date, notify.due, notify.state) == (
        day("2026-04-10"),
        day("2026-04-11"),
        State.OPEN,
    )
    assert one(actions, "transfer-in-visit").state is State.DONE
    others = [a for a in actions if a.rule not in ("transfer-out-notify", "transfer-in-visit")]
    assert {a.rule for a in others} >= {
        "transfer-in-allocation",
        "smp-created",
        "smp-review",
        "flag-review",
    }
    for action in others:
        assert action.state is State.CANCELLED, action.rule
        assert action.cancelled_on == max(day("2026-04-10"), action.trigger_date), action.rule


def test_notifying_the_new_force_is_done_when_the_documents_are_recorded_as_sent() -> None:
    out = d.Transfer(d.Direction.OUT, day("2026-04-10"), "Lancashire", documents_sent=True)
    notify = one(derive(moved_in(transfers=[out])), "transfer-out-notify")
    assert (notify.state, notify.completed) == (State.DONE, day("2026-04-10"))


def test_recording_an_earlier_move_does_not_change_the_ids_of_a_later_moves_actions() -> None:
    # An action's id must survive corrections: adding a back-dated transfer must not re-key
    # (and so duplicate, and re-send reminders for) the actions of the later transfers.
    later = d.Transfer(d.Direction.OUT, day("2026-04-10"), "Lancashire")
    before = one(derive(moved_in(transfers=[later])), "transfer-out-notify")
    earlier = [
        d.Transfer(d.Direction.OUT, day("2025-04-10"), "Humberside"),
        d.Transfer(d.Direction.IN, day("2025-08-10"), "Humberside"),
    ]
    after = derive(moved_in(transfers=[later, *earlier]))
    assert before.id in {a.id for a in only(after, "transfer-out-notify")}


def test_a_move_out_and_back_in_before_an_action_falls_due_leaves_it_ours() -> None:
    """Back before it was due, the order is ours to manage again: its renewal is ours to
    submit. Back only after it was due, the other force had it, and it stays cancelled."""
    order = full_order(day("2025-08-04"), day("2027-08-03"), served=day("2025-08-05"))

    def renewal(back: str) -> Action:
        return one(
            derive(
                make_subject(
                    orders=[order],
                    transfers=[
                        d.Transfer(d.Direction.OUT, day("2026-11-28"), "Humberside Police"),
                        d.Transfer(d.Direction.IN, day(back), "Humberside Police"),
                    ],
                )
            ),
            "renewal-submission",
        )

    returned = renewal("2026-12-01")
    assert returned.due == day("2027-05-03")
    assert (returned.state, returned.cancelled_on) == (State.OPEN, None)
    on_due_day = renewal("2027-05-03")  # back on the day itself: still in time
    assert on_due_day.state is State.OPEN
    too_late = renewal("2027-05-04")
    assert (too_late.state, too_late.cancelled_on) == (State.CANCELLED, day("2026-11-28"))
    assert "moved out of the area on 2026-11-28" in too_late.explanation.text(too_late.due)


# --------------------------------------------------------------------------- order lifecycle


def discharged_subject() -> d.Subject:
    order = full_order(
        day("2026-03-03"),
        day("2028-03-02"),
        served=day("2026-03-04"),
        status=d.OrderStatus.DISCHARGED,
        discharge_applications=[
            d.DischargeApplication(day("2026-03-20"), True, True, d.DischargeOutcome.GRANTED)
        ],
    )
    return make_subject(
        orders=[order],
        visits=[d.Visit(day("2026-03-05"))],
        notifications=[d.Notification(day("2026-03-04"))],
    )


@pytest.mark.parametrize(
    ("rule", "state"),
    [
        ("initial-visit", State.DONE),
        ("notification-check", State.DONE),
        ("grant-checklist", State.CANCELLED),
        ("smp-created", State.CANCELLED),
        ("smp-review", State.CANCELLED),
        ("renewal-submission", State.CANCELLED),
        ("order-expiry", State.CANCELLED),
    ],
)
def test_a_discharge_cancels_the_orders_open_actions_from_the_discharge_date(
    rule: str, state: State
) -> None:
    action = one(derive(discharged_subject()), rule)
    assert action.state is state
    if state is State.CANCELLED:
        assert action.cancelled_on == day("2026-03-20")
        assert action.status(day("2028-03-05")) is Status.CANCELLED


def test_interim_expiry_is_due_fourteen_days_before_the_interim_order_ends() -> None:
    subject = make_subject(orders=[interim_order(day("2026-03-03"), day("2026-06-01"))])
    action = one(derive(subject), "interim-expiry")
    assert (action.trigger_date, action.due, action.state) == (
        day("2026-03-03"),
        day("2026-05-18"),
        State.OPEN,
    )
    assert action.lapses_on == day("2026-06-02")


def test_a_short_interim_order_is_due_for_its_full_hearing_as_soon_as_it_is_made() -> None:
    subject = make_subject(orders=[interim_order(day("2026-03-03"), day("2026-03-10"))])
    action = one(derive(subject), "interim-expiry")
    assert action.due == action.trigger_date == day("2026-03-03")


def test_interim_expiry_is_done_when_a_full_order_replaces_the_interim_one() -> None:
    interim = interim_order(day("2026-03-03"), day("2026-06-01"), status=d.OrderStatus.REPLACED)
    full = full_order(day("2026-05-01"), replaces="I-1")
    action = one(derive(make_subject(orders=[interim, full])), "interim-expiry")
    assert action.completed == day("2026-05-01")
    assert action.state is State.DONE
    assert action.status(day("2026-05-01")) is Status.DONE


def test_order_expiry_is_due_on_the_last_day_of_a_fixed_term_order_only() -> None:
    fixed = make_subject(orders=[full_order(day("2026-03-03"), day("2028-03-02"))])
    action = one(derive(fixed), "order-expiry")
    assert action.trigger_date == action.due == day("2028-03-02")
    assert only(derive(granted_on("2026-03-03")), "order-expiry") == []
    interim = interim_order(day("2026-03-03"), day("2026-06-01"), status=d.OrderStatus.REPLACED)
    replaced = make_subject(orders=[interim, full_order(day("2026-05-01"), replaces="I-1")])
    assert only(derive(replaced), "order-expiry") == []


@pytest.mark.parametrize(
    ("varied", "state"),
    [(None, State.OPEN), ("2026-11-27", State.OPEN), ("2026-11-28", State.DONE)],
    ids=["no-variation", "varied-before-the-window", "varied-in-the-window"],
)
def test_condition_expiry_is_due_three_months_before_the_condition_ends(
    varied: str | None, state: State
) -> None:
    variations = (
        [d.Variation(day(varied), day("2028-03-02"), False, day("2028-03-02"), False)]
        if varied
        else []
    )
    order = full_order(
        day("2026-03-03"),
        day("2028-03-02"),
        conditions=[d.Condition(d.ConditionKind.PROHIBITION, "no contact", day("2027-05-31"))],
        variations=variations,
    )
    action = one(derive(make_subject(orders=[order])), "condition-expiry")
    assert (action.due, action.window_opens) == (day("2027-02-28"), day("2026-11-28"))
    assert action.state is state


def test_the_order_conditions_were_recorded_in_does_not_change_their_actions() -> None:
    conditions = [
        d.Condition(d.ConditionKind.PROHIBITION, "no contact", day("2027-05-31")),
        d.Condition(d.ConditionKind.REQUIREMENT, "course", day("2026-12-31")),
    ]

    def view(order_of: list[d.Condition]) -> set[tuple[str, date]]:
        order = full_order(day("2026-03-03"), day("2028-03-02"), conditions=order_of)
        return {
            (a.id, a.due) for a in only(derive(make_subject(orders=[order])), "condition-expiry")
        }

    assert view(conditions) == view(conditions[::-1])


# --------------------------------------------------------------------------- supervisor reviews


@pytest.mark.parametrize(
    ("risk", "first_due", "next_due"),
    [
        (d.Risk.HIGH, "2026-02-28", "2026-03-20"),
        (d.Risk.MEDIUM, "2026-04-30", "2026-05-20"),
        (d.Risk.LOW, "2026-07-31", "2026-08-20"),
        (None, "2026-02-28", "2026-03-20"),  # ungraded: monthly
    ],
    ids=["high-1-month", "medium-3-months", "low-6-months", "ungraded"],
)
def test_smp_review_cadence_follows_risk_from_the_start_then_from_each_review(
    risk: d.Risk | None, first_due: str, next_due: str
) -> None:
    subject = granted_on(
        "2026-01-31",
        risk_levels=[d.RiskEntry(risk, day("2026-01-01"))] if risk else [],
        reviews=[d.Review(day("2026-02-20"), DS)],
    )
    reviews = only(derive(subject), "smp-review")
    assert [(a.trigger_date, a.due, a.state) for a in reviews] == [
        (day("2026-01-31"), day(first_due), State.DONE),
        (day("2026-02-20"), day(next_due), State.OPEN),
    ]


def test_a_breach_brings_the_next_smp_review_forward_to_seven_days_after_it() -> None:
    subject = granted_on(
        "2026-01-31",
        risk_levels=[d.RiskEntry(d.Risk.LOW, day("2026-01-01"))],
        breaches=[d.Breach(day("2026-03-10"))],
    )
    review = one(derive(subject), "smp-review")
    assert review.due == day("2026-03-17")
    assert "breach" in review.explanation.arithmetic


def test_regrading_risk_to_high_re_dates_the_open_smp_review_under_the_same_id() -> None:
    low = [d.RiskEntry(d.Risk.LOW, day("2026-01-01"))]
    before = one(derive(granted_on("2026-01-31", risk_levels=low)), "smp-review")
    regraded = [*low, d.RiskEntry(d.Risk.HIGH, day("2026-03-15"))]
    after = one(derive(granted_on("2026-01-31", risk_levels=regraded)), "smp-review")
    assert before.due == day("2026-07-31")
    assert after.due == day("2026-04-15")
    assert after.id == before.id


# --------------------------------------------------------------------------- routine visits


def test_no_routine_visit_without_a_plan_that_sets_a_visit_cadence() -> None:
    visits = [d.Visit(day("2026-02-03")), d.Visit(day("2026-03-01"))]
    assert only(derive(granted_on("2026-01-31", visits=visits)), "routine-visit") == []
    plan = [d.ManagementPlan(day("2026-02-01"), notes="no cadence")]
    subject = granted_on("2026-01-31", visits=visits, management_plans=plan)
    assert only(derive(subject), "routine-visit") == []


def test_routine_visit_is_due_the_plan_cadence_after_the_last_visit() -> None:
    subject = granted_on(
        "2026-01-31",
        visits=[d.Visit(day("2026-03-01")), d.Visit(day("2026-02-03"))],
        management_plans=[d.ManagementPlan(day("2026-02-01"), visit_every_days=28)],
    )
    visits = only(derive(subject), "routine-visit")
    assert [(a.trigger_date, a.due, a.state, a.completed) for a in visits] == [
        (day("2026-02-03"), day("2026-03-03"), State.DONE, day("2026-03-01")),
        (day("2026-03-01"), day("2026-03-29"), State.OPEN, None),
    ]


# --------------------------------------------------------------------------- breaches, changes


@pytest.mark.parametrize(
    ("outcome", "state"), [(None, State.OPEN), ("arrested and charged", State.DONE)]
)
def test_breach_response_is_due_the_same_day_and_done_when_an_outcome_is_recorded(
    outcome: str | None, state: State
) -> None:
    subject = granted_on("2026-01-31", breaches=[d.Breach(day("2026-03-10"), outcome=outcome)])
    action = one(derive(subject), "breach-response")
    assert action.trigger_date == action.due == day("2026-03-10")
    assert action.state is state


def test_two_breaches_on_one_day_keep_their_actions_whatever_order_they_were_recorded_in() -> None:
    resolved = d.Breach(day("2026-03-10"), crime_ref="CR-1", outcome="charged")
    pending = d.Breach(day("2026-03-10"), crime_ref="CR-2")

    def view(breaches: list[d.Breach]) -> set[tuple[str, State]]:
        actions = derive(granted_on("2026-01-31", breaches=breaches))
        return {(a.id, a.state) for a in only(actions, "breach-response")}

    assert len(view([resolved, pending])) == 2
    assert view([resolved, pending]) == view([pending, resolved])


def test_a_new_name_needs_a_notification_and_a_new_pack_within_three_days() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-05-01"))]
    pending = one(derive(granted_on("2026-01-31", names=names)), "change-notification")
    assert (pending.trigger_date, pending.due, pending.state) == (
        day("2026-05-01"),
        day("2026-05-03"),
        State.OPEN,
    )
    done = granted_on(
        "2026-01-31",
        names=names,
        notifications=[d.Notification(day("2026-05-02"))],
        reviews=[d.Review(day("2026-05-04"), DS)],
    )
    action = one(derive(done), "change-notification")
    assert (action.state, action.completed) == (State.DONE, day("2026-05-04"))


def test_recording_an_earlier_name_change_does_not_change_a_later_ones_action_id() -> None:
    names = [d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-05-01"))]
    before = one(derive(granted_on("2026-01-31", names=names)), "change-notification")
    more = [*names, d.NameEntry("Alex Grey", since=day("2026-03-01"))]
    after = only(derive(granted_on("2026-01-31", names=more)), "change-notification")
    assert before.id in {a.id for a in after}


# --------------------------------------------------------------------------- overrides


def test_overrides_mark_done_move_the_due_date_and_waive() -> None:
    plain = derive(granted_on("2026-03-03"))
    checklist = one(plain, "grant-checklist")
    visit = one(plain, "initial-visit")
    plan = one(plain, "smp-created")
    assert checklist.state is State.OPEN  # no fact of its own ever completes it
    subject = granted_on(
        "2026-03-03",
        action_overrides=[
            d.ActionOverride(checklist.id, d.OverrideKind.DONE, day("2026-03-04"), None, OM),
            d.ActionOverride(visit.id, d.OverrideKind.DUE, day("2026-03-20"), "in hospital", DS),
            d.ActionOverride(plan.id, d.OverrideKind.WAIVE, day("2026-03-05"), "duplicate", DS),
        ],
    )
    actions = by_id(derive(subject))
    done, moved, waived = actions[checklist.id], actions[visit.id], actions[plan.id]
    assert (done.state, done.completed) == (State.DONE, day("2026-03-04"))
    assert moved.due == day("2026-03-20")
    assert moved.state is State.OPEN
    assert moved.explanation.override is not None
    assert "2026-03-20" in moved.explanation.override
    assert "2026-03-10" in moved.explanation.override  # what the policy gave
    assert moved.status(day("2026-03-15")) is not Status.OVERDUE
    assert (waived.state, waived.cancelled_on) == (State.CANCELLED, day("2026-03-05"))
    assert waived.status(day("2026-03-04")) is Status.DUE_SOON
    assert waived.status(day("2026-03-05")) is Status.CANCELLED


def test_a_done_override_never_moves_an_earlier_completion_later() -> None:
    plain = one(derive(granted_on("2026-03-03")), "initial-visit")
    subject = granted_on(
        "2026-03-03",
        visits=[d.Visit(day("2026-03-05"))],
        action_overrides=[d.ActionOverride(plain.id, d.OverrideKind.DONE, day("2026-03-09"))],
    )
    assert one(derive(subject), "initial-visit").completed == day("2026-03-05")


# --------------------------------------------------------------------------- status, explanation


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        ("2025-05-31", None),
        ("2025-06-01", Status.UPCOMING),
        ("2027-02-20", Status.UPCOMING),
        ("2027-02-21", Status.DUE_SOON),
        ("2027-02-28", Status.DUE_TODAY),
        ("2027-03-01", Status.OVERDUE),
        ("2027-05-31", Status.OVERDUE),
        ("2027-06-01", Status.CANCELLED),  # the order ended with the action still open
    ],
)
def test_an_open_actions_status_moves_with_the_date_asked_about(
    as_of: str, status: Status | None
) -> None:
    subject = make_subject(orders=[full_order(day("2025-06-01"), day("2027-05-31"))])
    action = one(derive(subject), "renewal-submission")
    assert action.status(day(as_of)) is status


def explained_subject() -> d.Subject:
    return make_subject(
        names=[d.NameEntry("Alex Brown"), d.NameEntry("Alex Green", since=day("2026-05-01"))],
        orders=[
            full_order(
                day("2026-03-03"),
                day("2028-03-02"),
                served=day("2026-03-04"),
                conditions=[d.Condition(d.ConditionKind.REQUIREMENT, "course", day("2027-06-30"))],
            ),
            interim_order(day("2026-01-05"), day("2026-02-20"), reference="I-9"),
        ],
        visits=[d.Visit(day("2026-03-06")), d.Visit(day("2026-04-01"))],
        breaches=[d.Breach(day("2026-06-10"))],
        flags=[d.Flag("F-1", day("2027-03-31"))],
        management_plans=[d.ManagementPlan(day("2026-03-09"), visit_every_days=28)],
        transfers=[d.Transfer(d.Direction.OUT, day("2027-09-01"), "Lancashire")],
    )


def test_every_explanation_names_the_trigger_date_the_due_date_and_the_policy() -> None:
    actions = derive(explained_subject())
    assert {a.rule for a in actions} >= {
        "initial-visit",
        "grant-checklist",
        "smp-created",
        "notification-check",
        "renewal-submission",
        "flag-review",
        "smp-review",
        "routine-visit",
        "change-notification",
        "interim-expiry",
        "condition-expiry",
        "breach-response",
        "order-expiry",
        "transfer-out-notify",
    }
    for action in actions:
        text = action.explanation.text(action.due)
        assert str(action.trigger_date) in text, text
        assert str(action.due) in text, text
        assert "West Yorkshire Police policy" in text, text
        assert action.explanation.rule == action.rule


def test_the_renewal_explanation_shows_its_arithmetic() -> None:
    subject = make_subject(orders=[full_order(day("2025-06-01"), day("2027-05-31"))])
    text = one(derive(subject), "renewal-submission").explanation.text(day("2027-02-28"))
    assert text.startswith("Renewal submission due 2027-02-28: full order O-1")
    assert "3 months before the expiry (2027-05-31)" in text


# --------------------------------------------------------------------------- properties

START = d.ACT_IN_FORCE  # no order under the Act before it came into force
LAST_START = date(2027, 12, 31)


def days_after(start: date, low: int, high: int) -> st.SearchStrategy[date]:
    return st.integers(low, high).map(lambda n: start + timedelta(days=n))


@st.composite
def subjects(draw: st.DrawFn) -> d.Subject:
    """A small, valid record: every date within a few years of one another."""
    base = draw(st.dates(min_value=START, max_value=LAST_START))

    def when(low: int = 0, high: int = 1000) -> date:
        return base + timedelta(days=draw(st.integers(low, high)))

    def unique_dates(max_size: int) -> list[date]:
        offsets = draw(st.lists(st.integers(0, 1000), max_size=max_size, unique=True))
        return [base + timedelta(days=n) for n in offsets]

    orders: list[d.Order] = []
    for i in range(draw(st.integers(0, 3))):
        made = when()
        served = draw(st.none() | days_after(made, 0, 10))
        if draw(st.booleans()):
            end = made + timedelta(days=draw(st.integers(1, 180)))
            orders.append(interim_order(made, end, reference=f"I-{i}", served=served))
            continue
        earliest = last_day_of_period(made, 2)
        expires = draw(st.none() | days_after(earliest, 0, 400))
        order = full_order(made, expires, reference=f"O-{i}", served=served)
        open_interims = [
            o
            for o in orders
            if o.type is d.OrderType.INTERIM
            and o.made <= made
            and o.status is not d.OrderStatus.REPLACED
        ]
        if draw(st.booleans()) and open_interims:
            replaced = draw(st.sampled_from(open_interims))
            replaced.status = d.OrderStatus.REPLACED
            order.replaces = replaced.reference
        if expires is not None and draw(st.booleans()):
            new = earliest + timedelta(days=draw(st.integers(0, 600)))
            order.variations.append(
                d.Variation(made + timedelta(draw(st.integers(0, 500))), new, False, expires, False)
            )
            order.expires = new
        # one renewal decision per term at most (a second contradicts or repeats the first)
        for _ in range(draw(st.integers(0, 1))):
            decision = draw(st.sampled_from(list(d.RenewalDecision)))
            renewed = made + timedelta(days=draw(st.integers(0, 900)))
            order.renewals.append(d.Renewal(renewed, decision, reason="operational"))
        # a condition ends with its order at the latest; a discharge comes before the end
        last = (order.expires - made).days if order.expires else 900
        for _ in range(draw(st.integers(0, 2))):
            ends = draw(st.none() | days_after(made, 1, min(900, last)))
            order.conditions.append(d.Condition(d.ConditionKind.PROHIBITION, "no contact", ends))
        if draw(st.integers(0, 4)) == 0:
            discharged = made + timedelta(days=draw(st.integers(0, min(900, last))))
            order.discharge_applications.append(
                d.DischargeApplication(discharged, True, True, d.DischargeOutcome.GRANTED)
            )
            order.status = d.OrderStatus.DISCHARGED
        orders.append(order)

    flags = []
    for i in range(draw(st.integers(0, 2))):
        expiry = when()
        flag = d.Flag(f"F-{i}", expiry)
        reviewed = expiry - timedelta(days=40)
        for _ in range(draw(st.integers(0, 3))):
            reviewed += timedelta(days=draw(st.integers(1, 400)))
            if draw(st.integers(0, 3)) == 0:
                flag.reviews.append(d.FlagReview(reviewed, d.FlagOutcome.REMOVED))
                break
            expiry += timedelta(days=draw(st.integers(1, 400)))
            flag.reviews.append(d.FlagReview(reviewed, d.FlagOutcome.EXTENDED, expiry))
        flags.append(flag)

    transfers: list[d.Transfer] = []
    for moved in sorted(unique_dates(3)):
        direction = draw(st.sampled_from(list(d.Direction)))
        if transfers:  # a second move either way needs a move back between
            direction = (
                d.Direction.OUT if transfers[-1].direction is d.Direction.IN else d.Direction.IN
            )
        sent = direction is d.Direction.OUT and draw(st.booleans())
        transfers.append(d.Transfer(direction, moved, "Other Force", documents_sent=sent))
    registered = draw(st.booleans())
    return make_subject(
        names=[d.NameEntry("Alex Brown")]
        + [d.NameEntry(f"Alias {i}", since=s) for i, s in enumerate(unique_dates(2))],
        addresses=[d.AddressEntry(f"{i} High Street", s) for i, s in enumerate(unique_dates(2))],
        registered_sex_offender=registered,
        rso_exempt_until=draw(st.none() | st.just(when())) if registered else None,
        risk_levels=[d.RiskEntry(draw(st.sampled_from(list(d.Risk))), s) for s in unique_dates(3)],
        allocations=[d.Allocation(OM, s) for s in unique_dates(2)],
        orders=orders,
        visits=[d.Visit(when()) for _ in range(draw(st.integers(0, 4)))],
        breaches=[
            d.Breach(when(), draw(st.sampled_from(list(d.Offence))), outcome=outcome)
            for outcome in draw(st.lists(st.none() | st.just("charged"), max_size=3))
        ],
        notifications=[d.Notification(when()) for _ in range(draw(st.integers(0, 2)))],
        flags=flags,
        transfers=transfers,
        management_plans=[
            d.ManagementPlan(when(), visit_every_days=draw(st.none() | st.integers(7, 60)))
            for _ in range(draw(st.integers(0, 2)))
        ],
        reviews=[d.Review(when(), DS) for _ in range(draw(st.integers(0, 3)))],
    )


PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(subjects())
def test_generated_records_are_valid_records(subject: d.Subject) -> None:
    assert d.check_subject(subject, OFFICERS) == []


@PROPERTY
@given(subjects())
def test_no_action_is_due_before_it_is_triggered(subject: d.Subject) -> None:
    for action in derive(subject):
        assert action.trigger_date <= action.due, action
        assert action.trigger_date <= action.window_opens <= action.due, action
        assert action.rule in RULE_IDS


@PROPERTY
@given(subjects())
def test_deriving_twice_from_the_same_facts_gives_the_same_actions(subject: d.Subject) -> None:
    first = derive(subject)
    assert derive(subject) == first
    assert derive(copy.deepcopy(subject)) == first


def shuffled(subject: d.Subject, rnd: random.Random) -> d.Subject:
    """A copy with every list of facts (and of each order's and flag's facts) reordered."""
    copied = copy.deepcopy(subject)
    holders: list[object] = [copied, *copied.orders, *copied.flags]
    for holder in holders:
        for value in vars(holder).values():
            if isinstance(value, list):
                rnd.shuffle(value)
    return copied


def summary(actions: list[Action]) -> set[tuple[str, date, State, date | None]]:
    return {(a.id, a.due, a.state, a.completed) for a in actions}


@PROPERTY
@given(subjects(), st.randoms(use_true_random=False))
def test_the_order_facts_were_recorded_in_does_not_change_the_actions(
    subject: d.Subject, rnd: random.Random
) -> None:
    assert summary(derive(shuffled(subject, rnd))) == summary(derive(subject))


@PROPERTY
@given(subjects())
def test_action_ids_are_unique_within_a_subject(subject: d.Subject) -> None:
    ids = [a.id for a in derive(subject)]
    assert len(ids) == len(set(ids))


def test_moving_in_with_no_order_in_force_brings_no_move_in_actions() -> None:
    subject = make_subject(
        transfers=[d.Transfer(d.Direction.IN, date(2026, 1, 10), "Other Force")],
        orders=[full_order(date(2026, 5, 1), date(2028, 5, 1))],
    )
    actions = derive(subject)
    assert only(actions, "transfer-in-allocation") == []
    assert only(actions, "transfer-in-visit") == []
    # the order made after the move is a grant here
    assert one(actions, "initial-visit").due == date(2026, 5, 8)


def test_move_in_actions_end_when_the_order_is_discharged() -> None:
    order = full_order(date(2025, 1, 10), date(2027, 1, 10))
    order.status = d.OrderStatus.DISCHARGED
    order.discharge_applications = [
        d.DischargeApplication(date(2026, 3, 5), True, True, d.DischargeOutcome.GRANTED)
    ]
    subject = make_subject(
        orders=[order],
        transfers=[d.Transfer(d.Direction.IN, date(2026, 3, 1), "Other Force")],
    )
    visit = one(derive(subject), "transfer-in-visit")
    assert visit.state is State.CANCELLED
    assert visit.cancelled_on == date(2026, 3, 5)


def test_an_order_that_ended_before_the_move_in_brings_no_order_actions() -> None:
    old = full_order(date(2020, 1, 1), date(2022, 1, 1), reference="O-OLD")
    current = full_order(date(2023, 6, 1), date(2026, 6, 1), reference="O-NOW")
    subject = make_subject(
        orders=[old, current],
        transfers=[d.Transfer(d.Direction.IN, date(2024, 1, 1), "Other Force")],
    )
    actions = derive(subject)
    assert {a.order for a in actions if a.order} == {"O-NOW"}


def test_a_record_on_the_day_an_order_ends_early_still_counts_as_done() -> None:
    order = full_order(date(2026, 3, 3), date(2028, 3, 2))
    order.status = d.OrderStatus.DISCHARGED
    order.discharge_applications = [
        d.DischargeApplication(date(2026, 3, 8), True, True, d.DischargeOutcome.GRANTED)
    ]
    subject = make_subject(orders=[order], visits=[d.Visit(date(2026, 3, 8))])
    visit = one(derive(subject), "initial-visit")
    assert visit.state is State.DONE
    assert visit.completed == date(2026, 3, 8)


@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)),
    months=st.integers(min_value=-1200, max_value=1200),
)
def test_add_months_is_relativedelta(day: date, months: int) -> None:
    from dateutil.relativedelta import relativedelta

    from spo_tracker.core.dates import add_months

    assert add_months(day, months) == day + relativedelta(months=months)
