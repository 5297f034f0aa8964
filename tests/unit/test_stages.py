"""The service's pure parts: reminder stages, the "when" wording, initials, the SMTP URL and the
message builder. No clock, no database, no network."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from jinja2 import UndefinedError

from spo_tracker.adapters.mail.deliver import build_message, parse_smtp_url
from spo_tracker.adapters.mail.render import TEMPLATES, render
from spo_tracker.app.notify import message_id
from spo_tracker.core.errors import InvalidInput
from spo_tracker.core.policy import Rule
from spo_tracker.core.record import initials
from spo_tracker.core.reminders import behind_queued, current_stage, stage_key, when_text
from spo_tracker.core.rules import Action, Explanation

day = dt.date.fromisoformat
INTERVAL = 7  # the shipped escalation interval


def make_rule(**kw: object) -> Rule:
    values: dict[str, object] = {
        "id": "initial-visit",
        "title": "initial visit",
        "action": "visit the subject",
        "anchor": "the order was granted",
        "done_when": "a visit",
        "clause": "within seven days",
        "source": "seed",
        "deadline": None,
        "reminders": (2,),
        "due_day_reminder": True,
        "escalate": True,
    }
    values.update(kw)
    return Rule(**values)  # type: ignore[arg-type]


def make_action(
    *,
    trigger: str = "2026-03-03",
    due: str = "2026-03-10",
    completed: str | None = None,
    cancelled: str | None = None,
) -> Action:
    return Action(
        id="a1",
        rule="initial-visit",
        subject="S-001",
        order="O-001",
        key="O-001",
        officer="om1@force.example",
        trigger_date=day(trigger),
        window_opens=day(trigger),
        due=day(due),
        completed=day(completed) if completed else None,
        cancelled_on=day(cancelled) if cancelled else None,
        lapses_on=None,
        soon_from=day(due) - dt.timedelta(days=7),
        explanation=Explanation(
            rule="initial-visit",
            title="initial visit",
            trigger="order O-001 granted",
            trigger_date=day(trigger),
            arithmetic="granted + 7 days",
            clause="within seven days",
            policy="West Yorkshire",
        ),
    )


def stage_on(today: str, action: Action | None = None, rule: Rule | None = None) -> str | None:
    stage = current_stage(action or make_action(), rule or make_rule(), INTERVAL, day(today))
    return None if stage is None else f"{stage.kind}:{stage.name}@{stage.fires_on}"


# --------------------------------------------------------------------------- current_stage


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-03-02", None),  # before the trigger
        ("2026-03-03", None),  # triggered, nothing has fallen due yet
        ("2026-03-07", None),
        ("2026-03-08", "reminder:lead-2@2026-03-08"),
        ("2026-03-09", "reminder:lead-2@2026-03-08"),
        ("2026-03-10", "reminder:due@2026-03-10"),
        ("2026-03-11", "escalation:overdue-0@2026-03-11"),
        ("2026-03-17", "escalation:overdue-0@2026-03-11"),
        ("2026-03-18", "escalation:overdue-1@2026-03-18"),
        ("2026-03-25", "escalation:overdue-2@2026-03-25"),
        ("2026-05-01", "escalation:overdue-7@2026-04-29"),
    ],
)
def test_the_current_stage_is_the_latest_that_has_fallen_due(
    today: str, expected: str | None
) -> None:
    assert stage_on(today) == expected


def test_after_downtime_only_the_latest_missed_stage_is_current() -> None:
    """Ten days down from 8 March: due, overdue-0 and overdue-1 were all missed; one is sent."""
    assert stage_on("2026-03-18") == "escalation:overdue-1@2026-03-18"


def test_escalation_repeats_at_the_policy_interval() -> None:
    stage = current_stage(make_action(), make_rule(), 3, day("2026-03-17"))
    assert stage is not None
    assert (stage.name, stage.fires_on) == ("overdue-2", day("2026-03-17"))


def test_done_and_cancelled_actions_have_no_stage() -> None:
    assert stage_on("2026-03-18", make_action(completed="2026-03-09")) is None
    assert stage_on("2026-03-18", make_action(cancelled="2026-03-09")) is None
    # done later than today: still overdue today
    assert stage_on("2026-03-12", make_action(completed="2026-03-20")) == (
        "escalation:overdue-0@2026-03-11"
    )


def test_a_lead_reminder_before_the_trigger_is_not_a_stage() -> None:
    # triggered on 9 March, due 10 March: a 2-day reminder would fire on 8 March
    action = make_action(trigger="2026-03-09")
    assert stage_on("2026-03-09", action) is None
    assert stage_on("2026-03-10", action) == "reminder:due@2026-03-10"


def test_several_lead_reminders_each_become_current_in_turn() -> None:
    rule = make_rule(reminders=(42, 7))
    action = make_action(trigger="2025-01-01", due="2027-02-28")
    assert stage_on("2027-01-16", action, rule) is None
    assert stage_on("2027-01-17", action, rule) == "reminder:lead-42@2027-01-17"
    assert stage_on("2027-02-21", action, rule) == "reminder:lead-7@2027-02-21"
    assert stage_on("2027-02-28", action, rule) == "reminder:due@2027-02-28"


def test_without_escalation_an_overdue_action_stays_at_its_due_reminder() -> None:
    rule = make_rule(escalate=False)
    assert stage_on("2026-04-30", rule=rule) == "reminder:due@2026-03-10"
    rule = make_rule(escalate=False, due_day_reminder=False, reminders=())
    assert stage_on("2026-04-30", rule=rule) is None


# --------------------------------------------------------------------------- wording


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-03-01", "due in 9 days"),
        ("2026-03-08", "due in 2 days"),
        ("2026-03-09", "due tomorrow"),
        ("2026-03-10", "due today"),
        ("2026-03-11", "overdue by 1 day"),
        ("2026-03-13", "overdue by 3 days"),
    ],
)
def test_when_text(today: str, expected: str) -> None:
    assert when_text(make_action(), day(today)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("John Smith", "J.S."),
        ("John Adam Smith", "J.A.S."),
        ("mary-jane o'neil", "M.J.O."),
        ("  Ivy   I. ", "I.I."),
        ("", ""),
    ],
)
def test_initials(name: str, expected: str) -> None:
    assert initials(name) == expected


def test_message_ids_are_stable_and_distinct_per_row() -> None:
    a = message_id("reminder:a1:lead-2:om1@force.example")
    assert a == message_id("reminder:a1:lead-2:om1@force.example")
    assert a != message_id("reminder:a1:lead-2:ds1@force.example")
    assert a.startswith("<")
    assert a.endswith("@spo-tracker>")


# --------------------------------------------------------------------------- SMTP URL


def test_plain_smtp_url() -> None:
    c = parse_smtp_url("smtp://mail.force.example:2525", None, 10)
    assert (c.host, c.port, c.implicit_tls, c.starttls, c.username) == (
        "mail.force.example",
        2525,
        False,
        False,
        None,
    )
    assert parse_smtp_url("smtp://mail.force.example", None, 10).port == 25


def test_starttls_smtp_url() -> None:
    c = parse_smtp_url("smtp://mail.force.example:587?starttls=true", "pw", 10)
    assert (c.port, c.implicit_tls, c.starttls, c.password) == (587, False, True, "pw")
    assert not parse_smtp_url("smtp://h:587?starttls=false", None, 10).starttls


def test_implicit_tls_smtps_url() -> None:
    c = parse_smtp_url("smtps://mail.force.example", None, 10)
    assert (c.port, c.implicit_tls, c.starttls) == (465, True, False)
    assert parse_smtp_url("smtps://mail.force.example:2465", None, 10).port == 2465


def test_user_in_smtp_url() -> None:
    c = parse_smtp_url("smtp://spo%40force.example@mail.force.example:587", "secret", 10)
    assert c.username == "spo@force.example"
    assert c.host == "mail.force.example"
    assert c.password == "secret"


@pytest.mark.parametrize(
    "url",
    [
        "smtp://user:hunter2@mail.force.example:587",  # a password in the URL
        "smtps://mail.force.example?starttls=true",  # TLS twice
        "http://mail.force.example",
        "mail.force.example:25",
        "smtp://",
        "smtp://mail.force.example:notaport",
    ],
)
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_smtp_url(url, None, 10)
    assert caught.value.field == "SPO_SMTP_URL"
    assert "hunter2" not in str(caught.value)


# --------------------------------------------------------------------------- messages


def message(**kw: str) -> EmailMessage:
    values = {
        "sender": "spo@force.example",
        "recipient": "om1@force.example",
        "subject": "SPO S-001 (J.S.): initial visit due in 2 days",
        "text": "text part",
        "html": "<p>html part</p>",
        "message_id": "<abc@spo-tracker>",
    }
    values.update(kw)
    return build_message(**values, date=dt.datetime(2026, 3, 8, 10, tzinfo=dt.UTC))  # type: ignore[arg-type]


def test_build_message_is_multipart_alternative_with_our_message_id() -> None:
    m = message()
    assert m.get_content_type() == "multipart/alternative"
    assert m["Message-ID"] == "<abc@spo-tracker>"
    assert m["Auto-Submitted"] == "auto-generated"
    plain, html = m.get_body(("plain",)), m.get_body(("html",))
    assert plain is not None
    assert "text part" in plain.get_content()
    assert html is not None
    assert "html part" in html.get_content()


@pytest.mark.parametrize("header", ["sender", "recipient", "subject"])
@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r"])
def test_a_header_with_a_line_break_is_refused(header: str, brk: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        message(**{header: f"x@force.example{brk}Bcc: someone@elsewhere.example"})


def full_context() -> dict[str, object]:
    action = {
        "id": "a1",
        "rule": "initial-visit",
        "title": "initial visit\r\nBcc: someone@elsewhere.example",
        "subject": "S-001",
        "initials": "J.S.",
        "order": "O-001",
        "officer": "om1@force.example",
        "due": "2026-03-10",
        "when": "due in 2 days",
        "trigger": "order O-001 granted",
        "trigger_date": "2026-03-03",
        "arithmetic": "granted + 7 days",
        "clause": "within seven days <script>",
        "policy": "West Yorkshire",
        "owner": "the offender manager",
        "todo": "visit the subject <b>now</b>",
        "record": "spo visit add S-001 --date DATE --kind initial",
        "missing": "Still to do: the victim <script>told</script> (victim-told).",
        "missing_heading": "Still to do",
        "missing_items": "the victim <script>told</script> (victim-told).",
    }
    return {
        "app_url": "spo due",
        "action": action,
        "role": "the offender manager",
        "interval": 7,
        "change": {
            "label": "due date",
            "old": "2026-03-10",
            "new": "2026-03-20",
            "cause": "action.override",
            "summary": "moved to 2026-03-20",
        },
        "breach": {
            "date": "2026-03-08",
            "offence": "breach of the order (s8)",
            "crime_ref": "13/1/26",
            "arrested": True,
            "outcome_recorded": False,
        },
        "officer": "om1@force.example",
        "date": "2026-03-08",
        "overdue": [action],
        "today": [],
        "week": [],
        "problems": ["a problem\nBcc: x"],
        "queue": {"pending": 0, "failed": 0, "dead": 1},
        "sent_before": ["om1@force.example"],
        "supervisor": "ds1@force.example",
        "officers": [{"officer": "om1@force.example", "overdue": [action], "week": []}],
        "teams": [{"team": "North <script>", "overdue": [action]}],
        "unallocated": [{"subject": "S-002", "initials": "A.B."}],
        "breaches": [action],
    }


@pytest.mark.parametrize("template", TEMPLATES)
def test_rendered_subjects_are_one_line_and_html_is_escaped(template: str) -> None:
    rendered = render(template, full_context())
    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject
    message(subject=rendered.subject, text=rendered.text, html=rendered.html)
    assert "<script>" not in rendered.html


def test_a_missing_template_value_fails_rather_than_sending_a_blank() -> None:
    context = full_context()
    action = dict(context["action"])  # type: ignore[call-overload]
    del action["due"]
    with pytest.raises(UndefinedError, match="due"):
        render("reminder", {**context, "action": action})


def test_after_the_clock_goes_back_an_older_stage_is_behind_the_one_queued() -> None:
    action = make_action(due="2026-03-10")
    rule = make_rule()
    on = {d: current_stage(action, rule, INTERVAL, day(d)) for d in ("2026-03-20", "2026-03-14")}
    later, earlier = on["2026-03-20"], on["2026-03-14"]
    assert later is not None
    assert earlier is not None
    assert (earlier.name, later.name) == ("overdue-0", "overdue-1")
    queued = [stage_key(later, action.id, "om@force.example")]
    older = stage_key(earlier, action.id, "om@force.example")
    assert behind_queued(older, queued, due=action.due, interval_days=INTERVAL)
    # someone else's, or the same stage again (the outbox's own dedupe), is not behind
    assert not behind_queued(
        stage_key(earlier, action.id, "ds@force.example"), queued, due=action.due, interval_days=7
    )
    assert not behind_queued(queued[0], queued, due=action.due, interval_days=INTERVAL)


def test_a_re_dated_action_earns_its_reminders_again_even_on_earlier_days() -> None:
    before = make_action(trigger="2026-03-01", due="2026-05-31")
    rule = make_rule(reminders=(7,))
    sent = current_stage(before, rule, INTERVAL, day("2026-05-25"))
    assert sent is not None
    assert sent.name == "lead-7"
    moved = make_action(trigger="2026-03-01", due="2026-05-20")  # varied on the 25th: now overdue
    due_day = current_stage(moved, rule, INTERVAL, day("2026-05-20"))
    assert due_day is not None
    assert due_day.fires_on < sent.fires_on
    queued = [stage_key(sent, before.id, "om@force.example")]
    key = stage_key(due_day, moved.id, "om@force.example")
    assert not behind_queued(key, queued, due=moved.due, interval_days=INTERVAL)


def test_the_force_digest_names_the_report_command_in_both_parts() -> None:
    rendered = render("force_digest", full_context())
    assert "spo report compliance --from DATE --to DATE" in rendered.text
    assert "<code>spo report compliance --from DATE --to DATE</code>" in rendered.html


def test_a_breach_alert_whose_outcome_is_recorded_asks_for_nothing_more() -> None:
    context = full_context()
    answered = {**context, "breach": {**context["breach"], "outcome_recorded": True}}  # type: ignore[dict-item]
    done = render("breach", answered)
    for part in (done.text, done.html):
        assert "no response is outstanding" in part
        assert "Record it" not in part
        assert "spo explain a1" in part
    open_ = render("breach", context)
    assert "Record it" in open_.text
    assert "Record it" in open_.html
