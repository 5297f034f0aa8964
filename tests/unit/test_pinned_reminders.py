"""Who each email goes to and what each list shows, pinned to the brief ("Reminders and
escalation", "Who does each action"): the owner gets reminders; escalation goes one step up
(offender manager -> supervisor -> SCU -> administrator); a breach alert goes at once to the
offender manager, the supervisor and the SCU; each officer's digest holds what is overdue, due
today and due within the week; a supervisor's covers their team; the SCU's covers the force.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from spo_tracker.core.errors import InvalidInput
from spo_tracker.core.policy import RULE_IDS, Rule
from spo_tracker.core.record import Officer, Role
from spo_tracker.core.reminders import (
    Directory,
    QueuedStage,
    behind_queued,
    current_stage,
    digests,
    force_digest,
    record_command,
    stage_key,
    team_digests,
)
from spo_tracker.core.rules import Action, Explanation, State, Status
from spo_tracker.core.scope import Listing, caseload, check_rule, due_order

day = dt.date.fromisoformat
OM = "om1@force.example"
OM2 = "om2@force.example"
DS = "ds1@force.example"
SCU = "scu@force.example"
ADMIN = "admin@force.example"
OFFICERS = [
    Officer(OM, "Sam Patel", Role.OFFENDER_MANAGER, team="North", supervisor=DS),
    Officer(OM2, "Ali Khan", Role.OFFENDER_MANAGER, team="South"),  # no supervisor on record
    Officer(DS, "Dana Sergeant", Role.SUPERVISOR, team="North"),
    Officer(SCU, "Stalking Unit", Role.SCU),
]
DIRECTORY = Directory.of(OFFICERS, SCU, ADMIN)


def action(
    *,
    rule: str = "initial-visit",
    officer: str | None = OM,
    owner: str = "offender-manager",
    subject: str = "S-001",
    trigger: str = "2026-03-03",
    due: str = "2026-03-10",
    key: str = "O-001",
    order: str | None = "O-001",
    completed: str | None = None,
    applies: bool = True,
) -> Action:
    return Action(
        id=f"{subject}-{rule}-{key}-{due}",
        rule=rule,
        subject=subject,
        order=order,
        key=key,
        officer=officer,
        trigger_date=day(trigger),
        window_opens=day(trigger),
        due=day(due),
        completed=day(completed) if completed else None,
        cancelled_on=None,
        lapses_on=None,
        soon_from=day(due) - dt.timedelta(days=7),
        explanation=Explanation(rule, rule, "t", day(trigger), "a", "c", "p"),
        applies=applies,
        owner=owner,
    )


# --------------------------------------------------------------------------- recipients


def test_a_reminder_goes_to_the_owner() -> None:
    assert DIRECTORY.reminder_to(action()) == [(OM, "the offender manager")]
    supervised = action(rule="smp-review", officer=DS, owner="supervisor")
    assert DIRECTORY.reminder_to(supervised) == [(DS, "the offender manager's supervisor")]


def test_an_action_nobody_holds_goes_to_the_scu_mailbox() -> None:
    assert DIRECTORY.reminder_to(action(officer=None, owner="scu")) == [(SCU, "the SCU")]
    unallocated = action(officer=None, owner="offender-manager")
    assert DIRECTORY.reminder_to(unallocated) == [(SCU, "the SCU (nobody else to do it)")]


def test_without_an_scu_mailbox_the_administrator_gets_what_nobody_holds() -> None:
    directory = Directory.of(OFFICERS, None, ADMIN)
    assert directory.fallback() == [ADMIN]
    assert directory.reminder_to(action(officer=None, owner="scu")) == [(ADMIN, "the SCU")]
    assert Directory.of(OFFICERS, None, None).reminder_to(action(officer=None)) == []
    assert Directory.of(OFFICERS, SCU, ADMIN).fallback() == [SCU]


def test_escalation_goes_one_step_up_from_the_owner() -> None:
    assert DIRECTORY.escalation_to(action()) == [
        (OM, "the offender manager"),
        (DS, "the offender manager's supervisor"),
    ]
    assert DIRECTORY.escalation_to(action(officer=OM2)) == [
        (OM2, "the offender manager"),
        (SCU, "the SCU (no supervisor on record)"),
    ]
    review = action(rule="smp-review", officer=DS, owner="supervisor")
    assert DIRECTORY.escalation_to(review) == [
        (DS, "the offender manager's supervisor"),
        (SCU, "the SCU, above the supervisor"),
    ]
    scu = action(officer=None, owner="scu")
    assert DIRECTORY.escalation_to(scu) == [
        (SCU, "the SCU"),
        (ADMIN, "the administrator, above the SCU"),
    ]


def test_escalation_without_the_next_step_on_record_stays_with_the_owner() -> None:
    bare = Directory.of(OFFICERS, None, None)
    assert bare.escalation_to(action(officer=OM2)) == [(OM2, "the offender manager")]
    review = action(rule="smp-review", officer=DS, owner="supervisor")
    assert bare.escalation_to(review) == [(DS, "the offender manager's supervisor")]
    assert bare.escalation_to(action(officer=None, owner="scu")) == []


def test_escalating_an_unallocated_subjects_action_reaches_the_scu_alone() -> None:
    # the SCU holds it, and is the step above too (the outbox keys each email by recipient)
    escalated = DIRECTORY.escalation_to(action(officer=None, owner="offender-manager"))
    assert {email for email, _ in escalated} == {SCU}
    assert escalated[0] == (SCU, "the SCU (nobody else to do it)")


def test_a_breach_alert_goes_to_the_offender_manager_the_supervisor_and_the_scu() -> None:
    breach = action(rule="breach-response")
    assert DIRECTORY.breach_to(breach) == [OM, DS, SCU]
    assert DIRECTORY.breach_to(action(rule="breach-response", officer=OM2)) == [OM2, SCU]
    assert DIRECTORY.breach_to(action(rule="breach-response", officer=None)) == [SCU]
    assert DIRECTORY.supervisor_of(OM) == DS
    assert DIRECTORY.supervisor_of("nobody@force.example") is None
    assert DIRECTORY.supervisor_of(None) is None


# --------------------------------------------------------------------------- stages


def rule_with(**kw: object) -> Rule:
    values: dict[str, object] = {
        "id": "renewal-submission",
        "title": "renewal submission",
        "action": "submit",
        "anchor": "expiry",
        "done_when": "submitted",
        "clause": "three months before",
        "source": "seed",
        "deadline": None,
        "reminders": (42, 7),
    }
    values.update(kw)
    return Rule(**values)  # type: ignore[arg-type]


def test_a_lead_reminder_on_the_trigger_day_itself_is_a_stage() -> None:
    # triggered 2027-01-17, due 2027-02-28: 42 days before due is 2027-01-17
    renewal = action(rule="renewal-submission", trigger="2027-01-17", due="2027-02-28")
    stage = current_stage(renewal, rule_with(), 7, day("2027-01-17"))
    assert stage is not None
    assert (stage.kind, stage.name, stage.fires_on) == ("reminder", "lead-42", day("2027-01-17"))
    later = action(rule="renewal-submission", trigger="2027-01-18", due="2027-02-28")
    assert current_stage(later, rule_with(), 7, day("2027-01-18")) is None


def test_without_a_due_day_reminder_the_day_itself_keeps_the_last_lead() -> None:
    renewal = action(rule="renewal-submission", trigger="2026-01-01", due="2027-02-28")
    stage = current_stage(renewal, rule_with(due_day_reminder=False), 7, day("2027-02-28"))
    assert stage is not None
    assert (stage.name, stage.fires_on) == ("lead-7", day("2027-02-21"))
    overdue = current_stage(renewal, rule_with(due_day_reminder=False), 7, day("2027-03-01"))
    assert overdue is not None
    assert (overdue.kind, overdue.name) == ("escalation", "overdue-0")


def test_an_action_that_never_applied_has_no_stage() -> None:
    assert current_stage(action(applies=False), rule_with(), 7, day("2026-03-11")) is None


# --------------------------------------------------------------------------- digests


def test_each_officers_digest_has_overdue_due_today_and_the_coming_week() -> None:
    today = day("2026-03-10")
    overdue = action(key="a", due="2026-03-09")
    today_ = action(key="b", due="2026-03-10")
    week = action(key="c", due="2026-03-17")  # 7 days ahead: in the week
    beyond = action(key="d", due="2026-03-18")
    other = action(key="e", due="2026-03-12", officer=OM2)
    nobody = action(key="f", due="2026-03-10", officer=None, owner="scu")
    items = [(a, a.status(today)) for a in (week, beyond, overdue, today_, other, nobody)]
    found = digests([(a, s) for a, s in items if s is not None], today)
    assert [d.officer for d in found] == [OM, OM2]
    mine = found[0]
    assert (mine.overdue, mine.today, mine.week) == ([overdue], [today_], [week])
    assert found[1].week == [other]


def test_an_officer_with_nothing_due_this_week_gets_no_digest() -> None:
    today = day("2026-03-10")
    far = action(due="2026-04-30")
    assert digests([(far, Status.UPCOMING)], today) == []


def test_a_digest_lists_by_due_date_then_subject() -> None:
    today = day("2026-03-10")
    b = action(subject="S-002", due="2026-03-12")
    a = action(subject="S-001", due="2026-03-12")
    first = action(subject="S-009", due="2026-03-11")
    found = digests([(b, Status.DUE_SOON), (a, Status.DUE_SOON), (first, Status.DUE_SOON)], today)
    assert found[0].week == [first, a, b]


def test_a_supervisors_team_digest_covers_the_active_officers_they_supervise() -> None:
    today = day("2026-03-10")
    team = [*OFFICERS, Officer("om3@force.example", "Gone", Role.OFFENDER_MANAGER, None, DS, False)]
    overdue = action(key="a", due="2026-03-01")
    week = action(key="b", due="2026-03-17")
    later = action(key="c", due="2026-03-18")
    gone = action(key="d", due="2026-03-01", officer="om3@force.example")
    items = [
        (overdue, Status.OVERDUE),
        (week, Status.DUE_SOON),
        (later, Status.UPCOMING),
        (gone, Status.OVERDUE),
    ]
    found = team_digests(items, team, today)
    assert len(found) == 1
    assert found[0].supervisor == DS
    assert found[0].officers == [(OM, [overdue], [week])]


def test_a_supervisor_whose_team_has_nothing_due_gets_no_team_digest() -> None:
    today = day("2026-03-10")
    assert team_digests([(action(due="2026-05-01"), Status.UPCOMING)], OFFICERS, today) == []


def test_the_force_digest_has_overdue_by_team_the_unallocated_and_last_weeks_breaches() -> None:
    today = day("2026-03-10")
    north = action(key="a", due="2026-03-01")
    south = action(key="b", due="2026-03-02", officer=OM2)
    unallocated = action(key="c", due="2026-03-05", officer=None, subject="S-007")
    no_team = action(key="d", due="2026-03-05", officer=SCU)  # the SCU has no team
    fine = action(key="e", due="2026-03-20")
    items = [
        (north, Status.OVERDUE),
        (south, Status.OVERDUE),
        (unallocated, Status.OVERDUE),
        (no_team, Status.OVERDUE),
        (fine, Status.UPCOMING),
    ]
    breaches = [
        action(rule="breach-response", key="b1", trigger="2026-03-04", due="2026-03-04"),
        action(rule="breach-response", key="b2", trigger="2026-03-03", due="2026-03-03"),
        action(rule="breach-response", key="b3", trigger="2026-03-10", due="2026-03-10"),
        action(rule="breach-response", key="b4", trigger="2026-03-11", due="2026-03-11"),
        action(rule="breach-response", key="b5", trigger="2026-03-05", applies=False),
    ]
    digest = force_digest(items, OFFICERS, breaches, today)
    assert digest.overdue_by_team == [
        ("(no team)", [no_team]),
        ("(unallocated)", [unallocated]),
        ("North", [north]),
        ("South", [south]),
    ]
    assert digest.unallocated == ["S-007"]
    # the past week: 4 to 10 March
    assert [b.key for b in digest.breaches] == ["b1", "b3"]
    assert not digest.empty
    assert force_digest([], OFFICERS, [], today).empty


# --------------------------------------------------------------------------- record commands


def test_the_record_command_fills_in_the_actions_references() -> None:
    flag = action(rule="flag-review", key="F-1:2", order=None)
    rule = rule_with(id="flag-review", record="spo flag review {flag} --subject {subject}")
    assert record_command(rule, flag) == "spo flag review F-1 --subject S-001"
    review = action(rule="smp-review", officer=None, order=None, owner="scu")
    rule = rule_with(record="spo review add {subject} --by {officer} --order {order} {flag}")
    assert record_command(rule, review) == "spo review add S-001 --by EMAIL --order ORDER FLAG"
    done = rule_with(record="spo action done {id} --date DATE")
    assert record_command(done, action()) == f"spo action done {action().id} --date DATE"


def test_the_record_command_names_the_fact_the_action_answers_or_asks_for_it() -> None:
    rule = rule_with(id="breach-response", record="spo breach update {record} --date DATE")
    breach = action(rule="breach-response", order=None)
    named = replace(breach, explanation=replace(breach.explanation, record="S-001/breach-2"))
    assert record_command(rule, named) == "spo breach update S-001/breach-2 --date DATE"
    # an action stored before facts had record ids: the officer fills it in
    assert record_command(rule, breach) == "spo breach update RECORD --date DATE"


# --------------------------------------------------------------------------- scope


def test_an_offender_managers_caseload_is_their_own_a_supervisors_includes_the_team() -> None:
    by_email = {o.email: o for o in OFFICERS}
    assert caseload(OM, by_email[OM], OFFICERS) == frozenset({OM})
    assert caseload(DS, by_email[DS], OFFICERS) == frozenset({DS, OM})
    assert caseload(SCU, by_email[SCU], OFFICERS) is None


def test_someone_who_is_not_an_officer_has_no_caseload() -> None:
    with pytest.raises(InvalidInput) as caught:
        caseload("visitor@force.example", None, OFFICERS)
    assert caught.value.field == "--as"
    assert "'visitor@force.example' is not an officer's email" in caught.value.message


def test_a_rule_filter_must_name_a_rule() -> None:
    for rule in (None, *RULE_IDS):
        check_rule(rule)
    with pytest.raises(InvalidInput) as caught:
        check_rule("initial-vist")
    assert caught.value.field == "--rule"
    assert "unknown rule 'initial-vist' (did you mean initial-visit? rules: " in (
        caught.value.message
    )
    assert ", ".join(RULE_IDS) in caught.value.message
    with pytest.raises(InvalidInput) as unlike:
        check_rule("zzz")
    assert "(rules: initial-visit, grant-checklist" in unlike.value.message
    assert "did you mean" not in unlike.value.message


def test_a_listing_shows_open_actions_due_within_its_days_and_every_overdue_one() -> None:
    listing = Listing(as_of=day("2026-03-05"), within=5)
    assert listing.due_by == day("2026-03-10")
    assert listing.status(action(due="2026-03-10")) is Status.DUE_SOON
    assert listing.status(action(due="2026-03-11")) is None
    assert listing.status(action(trigger="2026-02-01", due="2026-03-01")) is Status.OVERDUE
    assert listing.status(action(completed="2026-03-04")) is None
    assert Listing(as_of=day("2026-03-05")).due_by is None
    assert Listing(as_of=day("2026-03-05")).status(action(due="2027-01-01")) is Status.UPCOMING


def test_a_listing_of_closed_actions_and_of_the_overdue_only() -> None:
    done = action(completed="2026-03-04")
    assert Listing(as_of=day("2026-03-05"), include_closed=True).status(done) is Status.DONE
    overdue_only = Listing(as_of=day("2026-03-05"), overdue_only=True)
    assert overdue_only.status(action(due="2026-03-06")) is None
    assert overdue_only.status(action(trigger="2026-02-01", due="2026-03-01")) is Status.OVERDUE


def test_a_listing_of_the_future_shows_actions_not_yet_triggered() -> None:
    future = action(trigger="2026-04-01", due="2026-04-08")
    as_of = day("2026-03-05")
    assert Listing(as_of=as_of).status(future) is None
    assert Listing(as_of=as_of, include_future=True).status(future) is Status.UPCOMING
    never = action(trigger="2026-04-01", due="2026-04-08", applies=False)
    assert Listing(as_of=as_of, include_future=True, include_closed=True).status(never) is None
    waived = replace(future, cancelled_on=day("2026-04-01"))
    assert waived.state is State.CANCELLED
    assert Listing(as_of=as_of, include_future=True).status(waived) is None
    closed = Listing(as_of=as_of, include_future=True, include_closed=True)
    assert closed.status(waived) is Status.CANCELLED


def test_a_listing_is_in_due_order() -> None:
    late = action(subject="S-002", due="2026-03-09")
    early = action(subject="S-003", due="2026-03-08")
    tie_a = action(subject="S-001", due="2026-03-09")
    tie_rule = action(rule="grant-checklist", subject="S-009", due="2026-03-09")
    listed = Listing(as_of=day("2026-03-05")).select([late, early, tie_a, tie_rule])
    assert [a for a, _ in listed] == [early, tie_rule, tie_a, late]
    assert due_order(late) == (late.due, late.rule, late.subject, late.id)


# --------------------------------------------------------------------------- more edges


def test_overdue_wording_counts_days_in_the_plural() -> None:
    from spo_tracker.core.reminders import when_text

    assert when_text(action(due="2026-03-10"), day("2026-03-11")) == "overdue by 1 day"
    assert when_text(action(due="2026-03-10"), day("2026-03-12")) == "overdue by 2 days"
    assert when_text(action(due="2026-03-10"), day("2026-03-20")) == "overdue by 10 days"


def test_an_owner_the_directory_has_no_words_for_is_the_officer() -> None:
    odd = action(owner="duty")
    assert DIRECTORY.reminder_to(odd) == [(OM, "the officer")]


def test_an_officer_with_only_overdue_work_still_gets_a_digest() -> None:
    today = day("2026-03-10")
    late = action(due="2026-03-01")
    found = digests([(late, Status.OVERDUE)], today)
    assert [(d.officer, d.overdue, d.today, d.week) for d in found] == [(OM, [late], [], [])]
    due_today = action(due="2026-03-10")
    found = digests([(due_today, Status.DUE_TODAY)], today)
    assert [(d.overdue, d.today, d.week) for d in found] == [([], [due_today], [])]


def test_a_team_digest_row_for_overdue_work_alone_and_none_for_an_idle_officer() -> None:
    today = day("2026-03-10")
    idle = Officer("om3@force.example", "Idle", Role.OFFENDER_MANAGER, "North", DS)
    late = action(due="2026-03-01")
    found = team_digests([(late, Status.OVERDUE)], [*OFFICERS, idle], today)
    assert [(t.supervisor, t.officers) for t in found] == [(DS, [(OM, [late], [])])]
    soon = action(due="2026-03-12")
    found = team_digests([(soon, Status.DUE_SOON)], [*OFFICERS, idle], today)
    assert found[0].officers == [(OM, [], [soon])]


def test_a_flag_reference_with_a_colon_is_filled_in_whole() -> None:
    flag = action(rule="flag-review", key="NYP:F-1:2", order=None)
    rule = rule_with(id="flag-review", record="spo flag review {flag}")
    assert record_command(rule, flag) == "spo flag review NYP:F-1"


def test_status_by_dates_alone_applies_unless_told_otherwise() -> None:
    from spo_tracker.core.rules.actions import status_on

    def on(as_of: str, **kw: bool) -> Status | None:
        return status_on(
            day(as_of),
            trigger_date=day("2026-03-03"),
            due=day("2026-03-10"),
            completed=None,
            cancelled_on=None,
            lapses_on=None,
            soon_from=day("2026-03-03"),
            **kw,
        )

    assert on("2026-03-11") is Status.OVERDUE
    assert on("2026-03-11", applies=False) is None


def test_a_near_miss_rule_name_gets_a_suggestion() -> None:
    for typed, meant in (
        ("breach", "breach-response"),
        ("flag", "flag-review"),
        ("renewl", "renewal-submission"),  # a word of the id, mistyped
        ("renewal", "renewal-submission"),
        ("closedown", "order-close-down"),
        ("initial-vist", "initial-visit"),
    ):
        with pytest.raises(InvalidInput) as caught:
            check_rule(typed)
        assert f"did you mean {meant}? " in caught.value.message


def test_an_officer_who_has_left_gets_no_more_mail_the_scu_and_the_supervisor_do() -> None:
    left = Directory.of([replace(o, active=o.email != OM) for o in OFFICERS], SCU, ADMIN)
    gone = f"the SCU, as {OM} is no longer an active officer"
    assert left.reminder_to(action()) == [(SCU, gone)]
    # escalation: the SCU holds it, and the supervisor still hears (they reallocate)
    assert left.escalation_to(action()) == [(SCU, gone), (DS, "the offender manager's supervisor")]
    assert left.breach_to(action(rule="breach-response")) == [DS, SCU]
    # a supervisor who left: their reviews go to the SCU, and nobody escalates to them
    no_ds = Directory.of([replace(o, active=o.email != DS) for o in OFFICERS], SCU, ADMIN)
    review = action(rule="smp-review", officer=DS, owner="supervisor")
    assert no_ds.reminder_to(review) == [(SCU, f"the SCU, as {DS} is no longer an active officer")]
    assert no_ds.supervisor_of(OM) is None
    assert no_ds.escalation_to(action()) == [
        (OM, "the offender manager"),
        (SCU, "the SCU (no supervisor on record)"),
    ]
    assert no_ds.breach_to(action(rule="breach-response")) == [OM, SCU]
    # the SCU's mailbox is nobody's officer record: always active
    assert left.active(SCU)
    assert left.active("scu-mailbox@force.example")
    assert left.active(None)
    assert not left.active(OM)


# ------------------------------------------------------------------------------ queued stages


def test_a_queued_stage_is_read_back_from_its_outbox_key() -> None:
    stage = QueuedStage.parse("reminder:a1b2:lead-7@2026-03-03:om1@force.example")
    assert stage == QueuedStage("a1b2", "om1@force.example", "lead-7", day("2026-03-03"))
    escalation = QueuedStage.parse("escalation:a1b2:overdue-2@2026-03-25:ds1@force.example")
    assert escalation == QueuedStage("a1b2", "ds1@force.example", "overdue-2", day("2026-03-25"))
    # the recipient is the rest of the key, whatever it holds; the date follows the last "@"
    odd = QueuedStage.parse("reminder:a1b2:due@2026-03-10:shared:mailbox")
    assert odd == QueuedStage("a1b2", "shared:mailbox", "due", day("2026-03-10"))
    local = QueuedStage.parse("reminder:a1b2:due@2026-03-10:scu-mailbox")
    assert local == QueuedStage("a1b2", "scu-mailbox", "due", day("2026-03-10"))
    named = QueuedStage.parse("reminder:a1b2:x@y@2026-03-10:om1@force.example")
    assert named == QueuedStage("a1b2", "om1@force.example", "x@y", day("2026-03-10"))
    # only reminders and escalations have stages: a digest's key, or a malformed one, has none
    for key in (
        "digest:a1b2:lead-7@2026-03-03:om1@force.example",
        "change:a1b2:moved@2026-03-03:om1@force.example",
        "reminder:a1b2:lead-7:om1@force.example",
        "reminder:a1b2:lead-7@someday:om1@force.example",
        "reminder:a1b2",
    ):
        assert QueuedStage.parse(key) is None, key


def test_a_queued_stage_knows_the_due_date_it_was_worked_out_from() -> None:
    due = day("2026-03-10")
    interval = 7

    def stage(name: str, fires: str) -> QueuedStage:
        return QueuedStage("a1", "om1@force.example", name, day(fires))

    assert stage("due", "2026-03-10").due(interval) == due
    assert stage("lead-7", "2026-03-03").due(interval) == due
    assert stage("lead-42", "2026-01-27").due(interval) == due
    assert stage("overdue-0", "2026-03-11").due(interval) == due
    assert stage("overdue-2", "2026-03-25").due(interval) == due
    assert stage("overdue-2", "2026-03-25").due(14) == day("2026-02-24")
    assert stage("soon-3", "2026-03-07").due(interval) is None  # no such stage
    assert stage("lead-x", "2026-03-07").due(interval) is None
    # what current_stage queues reads back to the action's own due date
    action_ = action(trigger="2026-01-01", due="2026-03-10")
    rule = rule_with(reminders=(42, 7))
    for today in ("2026-01-27", "2026-03-08", "2026-03-10", "2026-03-11", "2026-03-30"):
        queued = current_stage(action_, rule, interval, day(today))
        assert queued is not None
        key = stage_key(queued, action_.id, OM)
        parsed = QueuedStage.parse(key)
        assert parsed is not None
        assert parsed.due(interval) == action_.due, key


def test_a_key_that_is_not_a_stage_is_never_behind_one_queued() -> None:
    queued = ["reminder:a1:overdue-5@2026-04-15:om1@force.example"]
    assert not behind_queued(
        "digest:2026-03-20:om1@force.example", queued, due=day("2026-03-10"), interval_days=7
    )
