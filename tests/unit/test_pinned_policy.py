"""The shipped policy's figures, pinned to the brief's rule table and the Act, and the policy
loader's validation: every error names the offending key.

Each test parses the policy itself (no module-level policy), so the figures are checked
whenever the loader or the file changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spo_tracker.core.errors import InvalidInput
from spo_tracker.core.policy import (
    RULE_IDS,
    Offset,
    Policy,
    PolicyError,
    Rule,
    check_timezone,
    parse_policy,
    text_digest,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = (REPO / "data" / "policy" / "west-yorkshire.toml").read_text()


def shipped() -> Policy:
    return parse_policy(SHIPPED)


def edited(old: str, new: str, text: str = SHIPPED) -> str:
    """The shipped text with one exact line replaced (it must occur exactly once)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_rule_line(rule: str, line: str, text: str = SHIPPED) -> str:
    """The shipped text with ``line`` added at the top of ``[rules.RULE]``."""
    return edited(f"[rules.{rule}]\n", f"[rules.{rule}]\n{line}\n", text)


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


# --------------------------------------------------------------------------- the shipped figures

# The brief's rule table (DOMAIN.md, "Deadlines"): the period from each rule's anchor.
DEADLINES = {
    "initial-visit": Offset(days=7),  # granted + 7 days (seed)
    "grant-checklist": Offset(days=1),  # granted + 1 day (default)
    "smp-created": Offset(days=7),  # granted or arrival + 7 days (default)
    "transfer-in-allocation": Offset(days=7),  # arrival + 7 days (seed)
    "transfer-in-visit": Offset(days=14),  # arrival + 14 days (seed)
    "transfer-out-notify": Offset(days=1),  # moved + 1 day (default)
    "renewal-submission": Offset(months=-3),  # expiry - 3 months (seed)
    "flag-review": Offset(),  # due by expiry
    "notification-check": Offset(days=2),  # 3 days beginning with service (s9)
    "change-notification": Offset(days=2),  # 3 days beginning with the change (s9(3)-(4))
    "interim-expiry": Offset(days=-14),  # end - 14 days (default)
    "condition-expiry": Offset(months=-3),  # end - 3 months (default, as renewal)
    "breach-response": Offset(),  # immediately: the same day
    "order-expiry": Offset(),  # on expiry
}


@pytest.mark.parametrize("rule", sorted(DEADLINES))
def test_each_shipped_deadline_is_the_rule_tables(rule: str) -> None:
    assert shipped().rules[rule].deadline == DEADLINES[rule]


def test_the_cadence_rules_have_no_fixed_deadline() -> None:
    policy = shipped()
    assert policy.rules["smp-review"].deadline is None
    assert policy.rules["routine-visit"].deadline is None


def test_the_shipped_review_windows_open_a_month_before_a_flag_expires() -> None:
    policy = shipped()
    assert policy.rules["flag-review"].window == Offset(months=-1)  # "within 1 month prior"
    assert policy.rules["condition-expiry"].window == Offset(months=-3)
    assert {r for r, rule in policy.rules.items() if rule.window} == {
        "flag-review",
        "condition-expiry",
    }


def test_the_shipped_supervisor_review_cadence_is_one_three_six_months_by_risk() -> None:
    rule = shipped().rules["smp-review"]
    assert dict(rule.cadence_months) == {"high": 1, "medium": 3, "low": 6, "ungraded": 1}
    assert rule.after_event == Offset(days=7)
    assert rule.owner == "supervisor"
    assert rule.record == "spo review add {subject} --date DATE --by {officer}"


def test_the_shipped_reminders_are_the_policy_lead_times() -> None:
    policy = shipped()
    assert policy.rules["renewal-submission"].reminders == (42, 7)  # 6 weeks, 1 week
    assert policy.rules["initial-visit"].reminders == (2,)
    assert policy.rules["grant-checklist"].reminders == ()
    assert all(r.due_day_reminder and r.escalate and r.enabled for r in policy.rules.values())


def test_the_shipped_policy_head() -> None:
    policy = shipped()
    assert policy.name == "West Yorkshire Police"
    assert policy.timezone == "Europe/London"
    assert policy.due_soon_days == 7
    assert policy.escalation_interval_days == 7
    assert policy.retention_years == 6
    assert policy.label() == f"West Yorkshire Police policy {policy.version}"
    assert policy.digest == text_digest(SHIPPED)
    assert policy.text == SHIPPED
    assert not policy.uses_working_days  # every shipped rule counts calendar days
    assert policy.holidays == frozenset()
    assert tuple(policy.rules) == RULE_IDS
    assert all(policy.rules[r].id == r for r in RULE_IDS)


def test_every_owner_but_the_supervisors_review_is_the_offender_manager() -> None:
    owners = {r: rule.owner for r, rule in shipped().rules.items()}
    assert {r for r, o in owners.items() if o != "offender-manager"} == {"smp-review"}


# --------------------------------------------------------------------------- what a force may set


def test_working_days_apply_to_a_rules_deadline_window_and_after_event() -> None:
    text = with_rule_line("flag-review", "working_days = true")
    text = with_rule_line("smp-review", "working_days = true", text)
    policy = parse_policy(text)
    flag = policy.rules["flag-review"]
    assert flag.deadline == Offset(days=0, working_days=True)
    assert flag.window == Offset(months=-1, working_days=True)
    assert policy.rules["smp-review"].after_event == Offset(days=7, working_days=True)
    assert policy.rules["initial-visit"].deadline == Offset(days=7)
    assert policy.uses_working_days


def test_a_force_may_disable_a_rule_and_change_its_reminders_and_owner() -> None:
    text = edited(
        "due_day_reminder = true\nescalate = true\n\n[rules.smp-created]",
        "due_day_reminder = false\nescalate = false\nenabled = false\n\n[rules.smp-created]",
    )
    text = edited("reminders = [42, 7]          # 6 weeks", "reminders = [7, 42, 7, 1] #", text)
    text = edited(
        'owner = "offender-manager"\nrecord = "spo renewal submit',
        'owner = "scu"\nrecord = "spo renewal submit',
        text,
    )
    policy = parse_policy(text)
    checklist = policy.rules["grant-checklist"]
    assert (checklist.enabled, checklist.escalate, checklist.due_day_reminder) == (
        False,
        False,
        False,
    )
    renewal = policy.rules["renewal-submission"]
    assert renewal.reminders == (42, 7, 1)  # each lead once, the longest first
    assert renewal.owner == "scu"


def test_a_rule_without_owner_record_or_completion_takes_the_defaults() -> None:
    text = edited(
        'owner = "offender-manager"\n'
        'record = "spo breach update {record} --outcome OUTCOME --date DATE [--arrested] '
        '[--charged]"\ncompleted_by = "fact"\n',
        "",
    )
    breach = parse_policy(text).rules["breach-response"]
    assert breach.owner == "offender-manager"
    assert breach.record == Rule.record == "spo action done {id} --date DATE"
    assert breach.completed_by == "fact"


@pytest.mark.parametrize(
    ("offset", "described"),
    [
        (Offset(), "on the day"),
        (Offset(days=7), "7 days after"),
        (Offset(days=1), "1 day after"),
        (Offset(days=-14), "14 days before"),
        (Offset(months=-3), "3 months before"),
        (Offset(months=-1), "1 month before"),
        (Offset(years=2), "2 years after"),
        (Offset(years=1, months=1, days=1), "1 year 1 month 1 day after"),
        (Offset(days=3, working_days=True), "3 working days after"),
        (Offset(days=-1, working_days=True), "1 working day before"),
        (Offset(months=2, working_days=True), "2 months after"),
    ],
)
def test_an_offset_describes_itself_in_words(offset: Offset, described: str) -> None:
    assert offset.describe() == described


# --------------------------------------------------------------------------- refused policies


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("due_soon_days = 7 ", "due_soon_days = 91 ", "policy.due_soon_days", "between 0 and 90"),
        ("due_soon_days = 7 ", "due_soon_days = -1 ", "policy.due_soon_days", "between 0 and 90"),
        ("interval_days = 7 ", "interval_days = 0 ", "escalation.interval_days", "between 1"),
        ("interval_days = 7 ", "interval_days = 91 ", "escalation.interval_days", "and 90"),
        ("\nyears = 6 ", "\nyears = 0 ", "retention.years", "between 1 and 100"),
        ("\nyears = 6 ", "\nyears = 101 ", "retention.years", "between 1 and 100"),
        ('timezone = "Europe/London"', 'timezone = "Mars/Olympus"', "policy.timezone", "Mars"),
        ('timezone = "Europe/London"', 'timezone = ""', "policy.timezone", "must not be empty"),
        ("due_soon_days = 7 ", 'due_soon_days = "7" ', "policy.due_soon_days", "whole number"),
        ("due_soon_days = 7 ", "due_soon_days = true ", "policy.due_soon_days", "whole number"),
        (
            'deadline = { days = 7 }      # seed: "within',
            'deadline = 7 # "within',
            "rules.initial-visit.deadline",
            "{ days = 7 }",
        ),
        (
            'deadline = { days = 7 }      # seed: "within',
            'deadline = { days = 3661 } # "within',
            "rules.initial-visit.deadline.days",
            "3661 is not a plausible number of days",
        ),
        (
            'deadline = { days = 7 }      # seed: "within',
            'deadline = { weeks = 1 } # "within',
            "rules.initial-visit.deadline.weeks",
            "unknown key",
        ),
        (
            "deadline = { months = -3 }   # seed",
            "deadline = { months = -3, days = 1 } #",
            "rules.renewal-submission.deadline",
            "mixes positive and negative",
        ),
        (
            "reminders = [2]              # days",
            "reminders = [0] #",
            "rules.initial-visit.reminders[0]",
            "between 1 and 366",
        ),
        (
            "reminders = [2]              # days",
            "reminders = [2, 367] #",
            "rules.initial-visit.reminders[1]",
            "'367' is not a number of days",
        ),
        (
            "reminders = [2]              # days",
            "reminders = [true] #",
            "rules.initial-visit.reminders[0]",
            "'True' is not a number",
        ),
        (
            "high = 1, medium = 3",
            "high = 0, medium = 3",
            "rules.smp-review.cadence_months.high",
            "between 1 and 24 months",
        ),
        (
            "low = 6, ungraded = 1",
            "low = 25, ungraded = 1",
            "rules.smp-review.cadence_months.low",
            "between 1 and 24 months",
        ),
        (
            "low = 6, ungraded = 1 }",
            "low = 6 }",
            "rules.smp-review.cadence_months.ungraded",
            "is required",
        ),
        (
            'owner = "supervisor"',
            'owner = "sergeant"',
            "rules.smp-review.owner",
            "'sergeant' is not one of offender-manager, supervisor, scu",
        ),
        (
            'record = "spo review add {subject} --date DATE --by {officer}"',
            'record = "review add {subject}"',
            "rules.smp-review.record",
            "must be an spo command",
        ),
        (
            'record = "spo review add {subject} --date DATE --by {officer}"',
            'record = "spo review add {victim} --by {officer}"',
            "rules.smp-review.record",
            "names victim: only subject, order, flag, id, officer",
        ),
        (
            'record = "spo review add {subject} --date DATE --by {officer}"',
            'record = "spo review add {subject"',
            "rules.smp-review.record",
            "is not a command template",
        ),
        (
            'title = "initial visit"',
            'title = "  "',
            "rules.initial-visit.title",
            "must not be empty",
        ),
        (
            "escalate = true\n\n[rules.grant-checklist]",
            'escalate = "yes"\n\n[rules.grant-checklist]',
            "rules.initial-visit.escalate",
            "must be true or false, not 'yes'",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(
    old: str, new: str, field: str, message: str
) -> None:
    error = refused(edited(old, new))
    assert error.field == field
    assert message in error.message


def test_a_rule_missing_its_deadline_is_refused() -> None:
    error = refused(edited("deadline = { days = 14 }     # seed\n", ""))
    assert (error.field, error.message) == ("rules.transfer-in-visit.deadline", "is required")


def test_a_cadence_rule_may_not_have_a_deadline() -> None:
    error = refused(with_rule_line("routine-visit", "deadline = { days = 28 }"))
    assert error.field == "rules.routine-visit.deadline"
    assert "unknown key" in error.message


def test_only_the_supervisors_review_has_a_risk_cadence() -> None:
    error = refused(with_rule_line("routine-visit", "cadence_months = { high = 1 }"))
    assert error.field == "rules.routine-visit.cadence_months"


def test_a_rule_table_that_is_not_a_table_is_refused() -> None:
    error = refused(edited("[rules.order-expiry]\n", "[[rules.order-expiry]]\n"))
    assert (error.field, error.message) == ("rules.order-expiry", "must be a table")


def test_a_policy_missing_a_rule_or_a_section_is_refused() -> None:
    no_rule = re.sub(r"\[rules\.order-close-down\].*", "", SHIPPED, flags=re.S)
    error = refused(no_rule)
    assert (error.field, error.message) == ("rules.order-close-down", "is required")
    no_rule = re.sub(
        r"\[rules\.order-expiry\].*(?=\[rules\.order-close-down\])", "", SHIPPED, flags=re.S
    )
    error = refused(no_rule)
    assert (error.field, error.message) == ("rules.order-expiry", "is required")
    # two missing: named in alphabetical order, the same on every run
    no_rules = re.sub(r"\[rules\.order-expiry\].*", "", SHIPPED, flags=re.S)
    assert refused(no_rules).field == "rules.order-close-down"
    no_escalation = edited("[escalation]\n", "[other]\n")
    error = refused(no_escalation)
    assert error.field == "other"
    assert "unknown key" in error.message


def test_a_policy_without_retention_keeps_records_six_years() -> None:
    text = (
        edited("[retention]\n", "")
        .replace("\nyears = 6 ", "\n", 1)
        .replace("\nlog_years = 6 ", "\n", 1)
    )
    assert "[retention]" not in text
    assert parse_policy(text).retention_years == 6


def test_text_that_is_not_toml_is_refused() -> None:
    error = refused("[policy\nname = 1")
    assert error.field == "policy file"
    assert error.message.startswith("not valid TOML")


def test_a_time_zone_is_checked_by_name() -> None:
    assert check_timezone("Europe/London", "timezone") == "Europe/London"
    for bad in ("Europe/Leeds", "../etc/passwd"):
        with pytest.raises(InvalidInput) as caught:
            check_timezone(bad, "timezone")
        assert caught.value.field == "timezone"
        assert caught.value.message == f"{bad!r} is not a time zone name such as Europe/London"
        assert not isinstance(caught.value, PolicyError)
    with pytest.raises(PolicyError):
        check_timezone("Europe/Leeds", "policy.timezone", PolicyError)


def test_the_policy_digest_names_the_text() -> None:
    assert len(text_digest(SHIPPED)) == 12
    assert text_digest(SHIPPED) != text_digest(SHIPPED + "\n")
    assert re.fullmatch("[0-9a-f]{12}", text_digest(SHIPPED))


# --------------------------------------------------------------------------- limits and paths


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("due_soon_days = 7 ", "due_soon_days = 0 "),
        ("due_soon_days = 7 ", "due_soon_days = 90 "),
        ("interval_days = 7 ", "interval_days = 1 "),
        ("interval_days = 7 ", "interval_days = 90 "),
        ("\nyears = 6 ", "\nyears = 1 "),
        ("\nyears = 6 ", "\nyears = 100 "),
        ("reminders = [2]              # days", "reminders = [1, 366] #"),
        ("high = 1, medium = 3", "high = 24, medium = 3"),
        ("deadline = { days = 14 }     # seed", "deadline = { days = 3660 } #"),
        ("deadline = { days = 14 }     # seed", "deadline = { days = -3660 } #"),
    ],
)
def test_the_limits_themselves_are_accepted(old: str, new: str) -> None:
    parse_policy(edited(old, new))


def test_the_accepted_limits_are_the_values_read() -> None:
    text = edited("due_soon_days = 7 ", "due_soon_days = 0 ")
    text = edited("interval_days = 7 ", "interval_days = 90 ", text)
    text = edited("\nyears = 6 ", "\nyears = 100 ", text)
    text = edited("high = 1, medium = 3", "high = 24, medium = 3", text)
    policy = parse_policy(text)
    assert (policy.due_soon_days, policy.escalation_interval_days, policy.retention_years) == (
        0,
        90,
        100,
    )
    assert policy.rules["smp-review"].cadence_months["high"] == 24


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            edited("[retention]\n# Records", "retention = 5\n[retention_]\n# Records"),
            "retention_",
            "unknown key (expected one of escalation, policy, retention, rules)",
        ),
        (edited("[escalation]\n", "[escalation]\nextra = 1\n"), "escalation.extra", None),
        (edited('name = "West Yorkshire Police"\n', ""), "policy.name", "is required"),
        (edited("interval_days = 7 ", "interval_days = 7.5 "), "escalation.interval_days", None),
        (edited("\nyears = 6 ", '\nyears = "6" '), "retention.years", "must be a whole number"),
        (edited("[retention]\n", "[retention]\nkeep = 1\n"), "retention.keep", None),
        (
            with_rule_line("initial-visit", "working_days = 1"),
            "rules.initial-visit.working_days",
            "must be true or false, not '1'",
        ),
        (
            with_rule_line("initial-visit", "after_event = { days = 1 }"),
            "rules.initial-visit.after_event",
            "unknown key",
        ),
        (
            with_rule_line("routine-visit", "window = { days = -1 }"),
            "rules.routine-visit.window",
            "unknown key",
        ),
        (
            with_rule_line("smp-review", "window = { days = -1 }"),
            "rules.smp-review.window",
            "unknown key",
        ),
        (
            edited('title = "supervisor review of the Subject Management Pack"\n', ""),
            "rules.smp-review.title",
            "is required",
        ),
        (
            edited("after_event = { days = 7 }\n", ""),
            "rules.smp-review.after_event",
            "is required",
        ),
        (
            edited("after_event = { days = 7 }\n", "after_event = 7\n"),
            "rules.smp-review.after_event",
            "must be a table such as { days = 7 } or { months = -3 }",
        ),
        (
            edited("after_event = { days = 7 }\n", 'after_event = { days = "7" }\n'),
            "rules.smp-review.after_event.days",
            "must be a whole number, not '7'",
        ),
        (
            edited(
                "cadence_months = { high = 1, medium = 3, low = 6, ungraded = 1 }",
                "cadence_months = 1",
            ),
            "rules.smp-review.cadence_months",
            "must be a table, not '1'",
        ),
        (
            edited("high = 1, medium = 3", 'high = "1", medium = 3'),
            "rules.smp-review.cadence_months.high",
            "must be a whole number, not '1'",
        ),
        (
            edited("reminders = [2]              # days", 'reminders = "2" #'),
            "rules.initial-visit.reminders",
            "must be a list, not '2'",
        ),
        (
            edited('owner = "supervisor"', "owner = 2"),
            "rules.smp-review.owner",
            "must be text, not '2'",
        ),
        (
            edited(
                'record = "spo review add {subject} --date DATE --by {officer}"', "record = true"
            ),
            "rules.smp-review.record",
            "must be text, not 'True'",
        ),
        (
            edited(
                'record = "spo review add {subject} --date DATE --by {officer}"',
                'record = "spo review add {victim} {court}"',
            ),
            "rules.smp-review.record",
            "names court, victim: only subject, order, flag, id, officer, record can be filled in",
        ),
        (
            with_rule_line("initial-visit", 'enabled = "no"'),
            "rules.initial-visit.enabled",
            "must be true or false, not 'no'",
        ),
        (
            with_rule_line(
                "initial-visit",
                "due_day_reminder = 1",
                edited(
                    "due_day_reminder = true\nescalate = true\n\n[rules.grant-checklist]",
                    "escalate = true\n\n[rules.grant-checklist]",
                ),
            ),
            "rules.initial-visit.due_day_reminder",
            "must be true or false, not '1'",
        ),
        (
            edited("deadline = { days = 14 }     # seed", "deadline = { days = 3661 } #"),
            "rules.transfer-in-visit.deadline.days",
            "3661 is not a plausible number of days",
        ),
        (
            edited("deadline = { days = 14 }     # seed", "deadline = { years = -3661 } #"),
            "rules.transfer-in-visit.deadline.years",
            "-3661 is not a plausible number of years",
        ),
        (
            edited("deadline = { days = 14 }     # seed", "deadline = { years = 1, days = -1 } #"),
            "rules.transfer-in-visit.deadline",
            "mixes positive and negative amounts",
        ),
        (
            edited("deadline = { days = 14 }     # seed", "deadline = { months = 1, days = 1 } #"),
            None,
            None,
        ),
    ],
)
def test_each_error_names_the_full_path_of_its_key(
    text: str, field: str | None, message: str | None
) -> None:
    if field is None:
        assert parse_policy(text).rules["transfer-in-visit"].deadline == Offset(months=1, days=1)
        return
    error = refused(text)
    assert error.field == field
    if message is not None:
        assert message in error.message


def test_a_top_level_value_of_the_wrong_kind_is_refused_naming_it() -> None:
    # the field names the key itself (the core joins it as ".retention": reported)
    no_retention = (
        edited("[retention]\n", "")
        .replace("\nyears = 6 ", "\n", 1)
        .replace("\nlog_years = 6 ", "\n", 1)
    )
    error = refused("retention = 5\n" + no_retention)
    assert (error.field or "").lstrip(".") == "retention"
    assert error.message == "must be a table, not '5'"
    error = refused("policy = 1\n" + SHIPPED[SHIPPED.index("[retention]") :])
    assert (error.field or "").lstrip(".") == "policy"
    assert error.message == "must be a table, not '1'"


def test_an_unknown_key_error_lists_the_keys_allowed() -> None:
    error = refused(edited("deadline = { days = 14 }     # seed", "deadline = { weeks = 2 } #"))
    assert error.field == "rules.transfer-in-visit.deadline.weeks"
    assert error.message == "unknown key (expected one of days, months, years)"


def test_a_policy_without_a_policy_table_is_refused_naming_it() -> None:
    text = SHIPPED.split("[retention]", 1)[1]
    error = refused("[retention]" + text)
    assert (error.field, error.message) == ("policy", "is required")


def test_an_empty_value_and_a_bad_reminder_have_their_own_messages() -> None:
    error = refused(edited('title = "initial visit"', 'title = ""'))
    assert error.message == "must not be empty"
    error = refused(edited("reminders = [2]              # days", "reminders = [400] #"))
    assert error.message == "'400' is not a number of days between 1 and 366"
    error = refused(edited("high = 1, medium = 3", "high = 30, medium = 3"))
    assert error.message == "must be between 1 and 24 months"
    error = refused(edited("\nyears = 6 ", "\nyears = 0 "))
    assert error.message == "must be between 1 and 100"
    error = refused(edited("due_soon_days = 7 ", "due_soon_days = 91 "))
    assert error.message == "must be between 0 and 90"
    error = refused(edited("interval_days = 7 ", "interval_days = 0 "))
    assert error.message == "must be between 1 and 90"
    error = refused(edited("deadline = { days = 14 }     # seed", "deadline = 14 #"))
    assert error.message == "must be a table such as { days = 7 } or { months = -3 }"
    error = refused(
        edited("deadline = { days = 14 }     # seed", "deadline = { days = 1, months = -1 } #")
    )
    assert error.message == "mixes positive and negative amounts"
    error = refused(
        edited(
            'record = "spo review add {subject} --date DATE --by {officer}"',
            'record = "review"',
        )
    )
    assert error.message == "must be an spo command, such as 'spo visit add {subject} ...'"


def test_a_rule_without_reminders_or_flags_takes_the_defaults() -> None:
    text = edited(
        "reminders = [2]              # days before due; plus the due-day reminder\n"
        "due_day_reminder = true\nescalate = true\n",
        "",
    )
    visit = parse_policy(text).rules["initial-visit"]
    assert visit.reminders == ()
    assert (visit.due_day_reminder, visit.escalate, visit.enabled) == (True, True, True)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('name = "West Yorkshire Police"', "name = 1", "policy.name"),
        ('version = "2026.11"', "version = 2026.11", "policy.version"),
        (
            'source = "West Yorkshire Police stalking and harassment policy, Stalking Protection '
            'Orders (SPOs)"',
            "source = 1",
            "policy.source",
        ),
        ("interval_days = 7 ", 'interval_days = "7" ', "escalation.interval_days"),
        ("interval_days = 7 ", "interval = 7 ", "escalation.interval"),
    ],
)
def test_a_head_or_escalation_value_of_the_wrong_kind_names_its_key(
    old: str, new: str, field: str
) -> None:
    assert refused(edited(old, new)).field == field


def test_a_missing_escalation_interval_is_required() -> None:
    error = refused(edited("interval_days = 7 ", "# none "))
    assert (error.field, error.message) == ("escalation.interval_days", "is required")


@pytest.mark.parametrize("section", ["escalation", "rules"])
def test_a_top_level_section_of_the_wrong_kind_names_it(section: str) -> None:
    first_rule = SHIPPED.index("[rules.")
    if section == "escalation":
        text = "escalation = 1\n" + SHIPPED[: SHIPPED.index("[escalation]")] + SHIPPED[first_rule:]
    else:
        text = "rules = 1\n" + SHIPPED[:first_rule]
    error = refused(text)
    assert (error.field or "").lstrip(".") == section
    assert error.message == "must be a table, not '1'"


def test_the_policy_head_is_read_as_written() -> None:
    policy = shipped()
    assert policy.version == "2026.11"
    assert policy.source == (
        "West Yorkshire Police stalking and harassment policy, Stalking Protection Orders (SPOs)"
    )


def test_the_access_log_keeps_its_rows_for_log_years_which_defaults_to_years() -> None:
    assert parse_policy(SHIPPED).log_retention_years == 6
    assert parse_policy(edited("log_years = 6 ", "log_years = 12 ")).log_retention_years == 12
    without = edited("log_years = 6 ", "# log_years ")
    assert parse_policy(edited("years = 6 ", "years = 9 ", without)).log_retention_years == 9
    assert parse_policy(edited("years = 6 ", "years = 9 ", without)).retention_years == 9


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", "between 1 and 100"),
        ("101", "between 1 and 100"),
        ('"6"', "a whole number"),
        ("true", "a whole number"),
    ],
)
def test_log_years_is_a_whole_number_of_years_from_1_to_100(value: str, words: str) -> None:
    problem = refused(edited("log_years = 6 ", f"log_years = {value} "))
    assert problem.field == "retention.log_years"
    assert words in problem.message
    if words == "between 1 and 100":  # the whole message, as the operator reads it
        assert problem.message == "must be between 1 and 100"


@pytest.mark.parametrize("value", ["1", "100"])
def test_log_years_takes_its_bounds(value: str) -> None:
    policy = parse_policy(edited("log_years = 6 ", f"log_years = {value} "))
    assert policy.log_retention_years == int(value)
