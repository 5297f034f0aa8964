"""Bad input: one line on stderr naming the field and the reason, exit 2, the store unchanged.

Each refusal is paired, where a rule has a boundary, with the input just inside it being
accepted: the rule is the rule, not a blanket refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.both_engines  # the record behaves the same on SQLite and PostgreSQL

Spo = Callable[..., Any]  # the conftest ``spo`` fixture: runs the CLI, checks the exit status
Refuse = Callable[..., str]

GHOST = "ghost@force.example"
FULL_O002 = ("order", "add", "S-001", "O-002", "--type", "full")
UFO = ("--made", "2026-03-03", "--until-further-order")


@pytest.fixture
def refuse(spo: Spo, snapshot: Callable[[], tuple[str, int]]) -> Refuse:
    """``refuse(*args)`` runs a command that must be refused as bad input and returns its one
    error line, having proved exit status 2, nothing on stdout and the store unchanged."""

    def call(*args: str, code: int = 2) -> str:
        before = snapshot()
        result = spo(*args, code=code)
        lines = result.err.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {result.err!r}"
        assert result.err == lines[0] + "\n"
        assert lines[0].startswith("error: "), lines[0]
        assert result.out == ""
        assert snapshot() == before, "a refused command changed the store"
        return lines[0]

    return call


def orders_of(spo: Spo, subject_ref: str = "S-001") -> dict[str, dict[str, object]]:
    listing = spo("subject", "list", "--json").json()
    assert isinstance(listing, dict)
    subject = next(s for s in listing["subjects"] if s["reference"] == subject_ref)
    return {o["reference"]: o for o in subject["orders"]}


def flag_expiry(spo: Spo, flag_ref: str) -> str:
    document = spo("export").json()
    assert isinstance(document, dict)
    for subject in document["subjects"]:
        for flag in subject["flags"]:
            if flag["reference"] == flag_ref:
                expiry = flag["expires"]
                for review in flag["reviews"]:
                    if review["outcome"] == "extended":
                        expiry = review["until"]
                return str(expiry)
    raise AssertionError(f"flag {flag_ref} not exported")


# ------------------------------------------------------------------------------ dates

DATE_OPTIONS = [
    pytest.param(("order", "add", "S-001", "O-002", "--type", "interim"), "--made", id="made"),
    pytest.param(("visit", "add", "S-001"), "--date", id="visit-date"),
    pytest.param(("flag", "add", "S-001", "F-002"), "--expires", id="flag-expires"),
    pytest.param(("subject", "add", "S-002", "--name", "Jo Bloggs"), "--dob", id="dob"),
]


@pytest.mark.parametrize(("command", "option"), DATE_OPTIONS)
@pytest.mark.parametrize("value", ["2026-02-30", "2025-02-29", "2026-04-31", "2026-13-01"])
def test_impossible_date_is_refused_naming_the_option(
    caseload: Spo, refuse: Refuse, command: tuple[str, ...], option: str, value: str
) -> None:
    extra = ("--expires", "2026-04-03") if option == "--made" else ()
    line = refuse(*command, option, value, *extra)
    assert option in line
    assert value in line
    assert "is not a real date" in line


@pytest.mark.parametrize(("command", "option"), DATE_OPTIONS)
@pytest.mark.parametrize(
    "value", ["03/03/2026", "2026-3-3", "20260303", "2026-03-03T10:00", "3 March 2026", ""]
)
def test_malformed_date_is_refused_naming_the_option(
    caseload: Spo, refuse: Refuse, command: tuple[str, ...], option: str, value: str
) -> None:
    extra = ("--expires", "2026-04-03") if option == "--made" else ()
    line = refuse(*command, option, value, *extra)
    assert option in line
    assert "is not a date in the form YYYY-MM-DD" in line


def test_served_and_expiry_dates_are_parsed_strictly_too(caseload: Spo, refuse: Refuse) -> None:
    line = refuse(*FULL_O002, "--made", "2026-03-03", "--served", "2026-3-4")
    assert "--served" in line
    assert "YYYY-MM-DD" in line
    line = refuse(*FULL_O002, "--made", "2026-03-03", "--expires", "02/03/2028")
    assert "--expires" in line
    assert "YYYY-MM-DD" in line


@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "2200-01-01"])
def test_date_outside_the_plausible_range_is_refused(
    caseload: Spo, refuse: Refuse, value: str
) -> None:
    line = refuse("visit", "add", "S-001", "--date", value)
    assert "--date" in line
    assert "outside the accepted range" in line


# ------------------------------------------------------------------------------ unknown references


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("visit", "add", "S-9", "--date", "2026-03-05"), id="visit"),
        pytest.param(("breach", "add", "S-9", "--date", "2026-03-05"), id="breach"),
        pytest.param(("order", "add", "S-9", "O-002", "--type", "full", *UFO), id="order"),
        pytest.param(("flag", "add", "S-9", "F-002", "--expires", "2027-03-31"), id="flag"),
        pytest.param(
            ("allocate", "S-9", "--officer", "om1@force.example", "--date", "2026-04-01"),
            id="allocate",
        ),
        pytest.param(
            ("subject", "update", "S-9", "--date", "2026-04-01", "--risk", "low"), id="update"
        ),
        pytest.param(
            ("review", "add", "S-9", "--date", "2026-04-01", "--by", "ds1@force.example"),
            id="review",
        ),
    ],
)
def test_unknown_subject_is_refused_naming_it(
    caseload: Spo, refuse: Refuse, command: tuple[str, ...]
) -> None:
    line = refuse(*command, code=3)  # not found: exit 3
    assert "subject S-9" in line
    assert "not found" in line


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("order", "vary", "O-9", "--date", "2027-01-10", "--expires", "2029-03-02")),
        pytest.param(("order", "discharge", "O-9", "--date", "2028-06-01")),
        pytest.param(("condition", "add", "O-9", "--kind", "prohibition", "--text", "No contact")),
        pytest.param(("renewal", "submit", "O-9", "--date", "2027-11-20")),
    ],
    ids=["vary", "discharge", "condition", "renewal"],
)
def test_unknown_order_is_refused_naming_it(
    caseload: Spo, refuse: Refuse, command: tuple[str, ...]
) -> None:
    line = refuse(*command, code=3)
    assert "order O-9" in line
    assert "not found" in line


@pytest.mark.parametrize("outcome", [("removed",), ("extended", "--until", "2028-03-31")])
def test_unknown_flag_is_refused_naming_it(
    caseload: Spo, refuse: Refuse, outcome: tuple[str, ...]
) -> None:
    line = refuse("flag", "review", "F-9", "--date", "2027-03-10", "--outcome", *outcome, code=3)
    assert "flag F-9" in line
    assert "not found" in line


@pytest.mark.parametrize(
    "command",
    [
        ("visit", "add", "S-001", "--date", "2026-03-05", "--officer", GHOST),
        ("allocate", "S-001", "--officer", GHOST, "--date", "2026-04-01"),
        ("subject", "add", "S-002", "--name", "Jo Bloggs", "--officer", GHOST),
        ("review", "add", "S-001", "--date", "2026-04-01", "--by", GHOST),
    ],
    ids=["visit", "allocate", "subject", "review"],
)  # fmt: skip
def test_unknown_officer_is_refused_naming_them(
    caseload: Spo, refuse: Refuse, command: tuple[str, ...]
) -> None:
    line = refuse(*command, code=3)
    assert f"officer {GHOST}" in line
    assert "not found" in line


def test_unknown_officer_is_refused_whatever_the_case_of_the_email(
    caseload: Spo, refuse: Refuse
) -> None:
    line = refuse(
        "allocate", "S-001", "--officer", "Ghost@Force.example", "--date", "2026-04-01", code=3
    )
    assert f"officer {GHOST}" in line
    assert "not found" in line


def test_supervisor_that_does_not_exist_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse(
        "officer", "add", "om2@force.example", "--name", "Ali Khan", "--role", "offender-manager",
        "--supervisor", GHOST, code=3,
    )  # fmt: skip
    assert "--supervisor" in line
    assert f"officer {GHOST} not found" in line


# ------------------------------------------------------------------------------ duplicates


def test_duplicate_subject_reference_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse("subject", "add", "S-001", "--name", "Somebody Else")
    assert "subject S-001" in line
    assert "already exists" in line


@pytest.mark.parametrize("subject_ref", ["S-001", "S-002"], ids=["same-subject", "other-subject"])
def test_duplicate_order_reference_is_refused_even_across_subjects(
    caseload: Spo, refuse: Refuse, subject_ref: str
) -> None:
    caseload("subject", "add", "S-002", "--name", "Jo Bloggs")
    line = refuse(
        "order", "add", subject_ref, "O-001", "--type", "interim", "--made", "2026-05-01",
        "--expires", "2026-06-01",
    )  # fmt: skip
    assert "order O-001" in line
    assert "already exists" in line


@pytest.mark.parametrize("subject_ref", ["S-001", "S-002"], ids=["same-subject", "other-subject"])
def test_duplicate_flag_reference_is_refused_even_across_subjects(
    caseload: Spo, refuse: Refuse, subject_ref: str
) -> None:
    caseload("subject", "add", "S-002", "--name", "Jo Bloggs")
    line = refuse("flag", "add", subject_ref, "F-001", "--expires", "2027-06-30")
    assert "flag F-001" in line
    assert "already exists" in line


@pytest.mark.parametrize("email", ["om1@force.example", "OM1@force.example", "Om1@Force.Example"])
def test_duplicate_officer_email_is_refused_ignoring_case(
    caseload: Spo, refuse: Refuse, email: str
) -> None:
    line = refuse("officer", "add", email, "--name", "Sam Patel", "--role", "offender-manager")
    assert "email" in line
    assert "om1@force.example" in line
    assert "already exists" in line


# ------------------------------------------------------------------------------ emails


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "om2@force", "@force.example", "om2@", "om 2@force.example", "om2@@f.example"],
)
def test_invalid_email_is_refused_naming_the_email(
    caseload: Spo, refuse: Refuse, email: str
) -> None:
    line = refuse("officer", "add", email, "--name", "Ali Khan", "--role", "offender-manager")
    assert "email" in line
    assert f"{email!r} is not a valid email address" in line


def test_valid_email_is_accepted_lower_cased(caseload: Spo) -> None:
    caseload("officer", "add", "Om2@Force.Example", "--name", "Ali Khan", "--role", "scu")
    listing = caseload("officer", "list", "--json").json()
    assert isinstance(listing, dict)
    assert "om2@force.example" in {o["email"] for o in listing["officers"]}


# ------------------------------------------------------------------------------ order dates


def test_expiry_before_made_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse(
        "order", "add", "S-001", "O-002", "--type", "interim", "--made", "2026-03-03",
        "--expires", "2026-03-02",
    )  # fmt: skip
    assert "--expires" in line
    assert "2026-03-02 is before the order was made (2026-03-03)" in line


def test_expiry_on_the_day_made_is_refused_with_a_truthful_reason(
    caseload: Spo, refuse: Refuse
) -> None:
    line = refuse(
        "order", "add", "S-001", "O-002", "--type", "interim", "--made", "2026-03-03",
        "--expires", "2026-03-03",
    )  # fmt: skip
    assert "--expires" in line
    assert "2026-03-03" in line
    # The same day is not "before" the day made: the reason must say what is really wrong.
    assert "is before" not in line


def test_served_before_made_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse(
        *FULL_O002, "--made", "2026-03-03", "--served", "2026-03-02", "--expires", "2028-03-02"
    )
    assert "--served" in line
    assert "2026-03-02 is before the order was made (2026-03-03)" in line


def test_served_on_the_day_made_is_accepted(caseload: Spo) -> None:
    caseload(*FULL_O002, "--made", "2026-03-03", "--served", "2026-03-03", "--until-further-order")
    assert "O-002" in orders_of(caseload)


@pytest.mark.parametrize(
    ("made", "too_short", "earliest"),
    [
        ("2026-03-03", "2028-03-01", "2028-03-02"),
        ("2026-03-03", "2027-03-02", "2028-03-02"),
        ("2024-02-29", "2026-02-27", "2026-02-28"),
        ("2024-08-31", "2026-08-29", "2026-08-30"),
    ],
)
def test_full_order_shorter_than_two_years_is_refused_naming_the_earliest_expiry(
    caseload: Spo, refuse: Refuse, made: str, too_short: str, earliest: str
) -> None:
    line = refuse(*FULL_O002, "--made", made, "--expires", too_short)
    assert "--expires" in line
    assert "at least 2 years beginning with the day it was made" in line
    assert f"the earliest expiry is {earliest}, not {too_short}" in line


@pytest.mark.parametrize(
    ("made", "earliest"),
    [("2026-03-03", "2028-03-02"), ("2024-02-29", "2026-02-28"), ("2024-08-31", "2026-08-30")],
)
def test_full_order_of_exactly_two_years_is_accepted(
    caseload: Spo, made: str, earliest: str
) -> None:
    caseload(*FULL_O002, "--made", made, "--expires", earliest)
    order = orders_of(caseload)["O-002"]
    assert order["type"] == "full"
    assert order["expires"] == earliest


def test_interim_order_may_have_a_short_expiry(caseload: Spo) -> None:
    caseload(
        "order", "add", "S-001", "I-001", "--type", "interim", "--made", "2026-03-03",
        "--expires", "2026-04-03",
    )  # fmt: skip
    order = orders_of(caseload)["I-001"]
    assert order["type"] == "interim"
    assert order["expires"] == "2026-04-03"


def test_variation_to_less_than_two_years_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse("order", "vary", "O-001", "--date", "2026-06-01", "--expires", "2028-03-01")
    assert "--expires" in line
    assert "the earliest expiry is 2028-03-02" in line
    caseload("order", "vary", "O-001", "--date", "2026-06-01", "--expires", "2028-03-02")


def test_order_with_both_expiry_and_until_further_order_is_refused(
    caseload: Spo, refuse: Refuse
) -> None:
    line = refuse(
        *FULL_O002, "--made", "2026-03-03", "--expires", "2028-03-02", "--until-further-order"
    )
    assert "--expires" in line
    assert "not both" in line


def test_full_order_with_neither_expiry_nor_until_further_order_is_refused(
    caseload: Spo, refuse: Refuse
) -> None:
    line = refuse(*FULL_O002, "--made", "2026-03-03")
    assert "--expires" in line
    assert "is required unless the order runs until further order" in line


def test_replacing_a_full_order_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse(
        *FULL_O002, "--made", "2026-04-01", "--until-further-order", "--replaces", "O-001"
    )
    assert "--replaces" in line
    assert "only a full order can replace an interim order" in line
    assert orders_of(caseload)["O-001"]["status"] == "active"


def test_replacing_an_unknown_order_is_refused(caseload: Spo, refuse: Refuse) -> None:
    # not on record: exit 3, as every reference that is not
    line = refuse(
        *FULL_O002, "--made", "2026-04-01", "--until-further-order", "--replaces", "O-9", code=3
    )
    assert line == "error: --replaces: order O-9 of S-001 not found"


def test_replacing_an_interim_order_is_accepted(caseload: Spo) -> None:
    caseload(
        "order", "add", "S-001", "I-001", "--type", "interim", "--made", "2026-03-03",
        "--expires", "2026-04-03",
    )  # fmt: skip
    caseload(*FULL_O002, "--made", "2026-04-01", "--until-further-order", "--replaces", "I-001")
    assert orders_of(caseload)["I-001"]["status"] == "replaced"


# ------------------------------------------------------------------------------ discharge


@pytest.mark.parametrize("on", ["2026-06-01", "2028-03-02"])
@pytest.mark.parametrize(
    "consents",
    [(), ("--subject-consents",), ("--police-consents",)],
    ids=["no-consent", "subject-only", "police-only"],
)
@pytest.mark.today("2029-06-01")
def test_discharge_within_two_years_without_both_consents_is_refused(
    caseload: Spo, refuse: Refuse, on: str, consents: tuple[str, ...]
) -> None:
    line = refuse("order", "discharge", "O-001", "--date", on, *consents)
    assert "--date" in line
    assert "cannot be discharged before 2028-03-03" in line
    assert "consent of both the subject and the chief officer" in line
    assert orders_of(caseload)["O-001"]["status"] == "active"


@pytest.mark.today("2029-06-01")
def test_discharge_within_two_years_with_both_consents_is_accepted(caseload: Spo) -> None:
    caseload(
        "order", "discharge", "O-001", "--date", "2028-03-02", "--subject-consents",
        "--police-consents",
    )  # fmt: skip
    assert orders_of(caseload)["O-001"]["status"] == "discharged"


@pytest.mark.today("2029-06-01")
def test_a_discharge_after_the_order_ended_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse("order", "discharge", "O-001", "--date", "2028-03-03")
    assert line == "error: --date: order O-001 had already ended (2028-03-02)"


@pytest.mark.today("2029-06-01")
def test_discharge_two_years_after_the_order_was_made_needs_no_consent(caseload: Spo) -> None:
    # made 2026-03-03 for the shortest term (to 2028-03-02); varied to run a year longer
    caseload("order", "vary", "O-001", "--date", "2027-06-01", "--expires", "2029-03-02")
    caseload("order", "discharge", "O-001", "--date", "2028-03-03")
    assert orders_of(caseload)["O-001"]["status"] == "discharged"


@pytest.mark.today("2029-06-01")
def test_refused_discharge_application_may_be_recorded_without_consents(caseload: Spo) -> None:
    caseload("order", "discharge", "O-001", "--date", "2027-01-10", "--outcome", "refused")
    assert orders_of(caseload)["O-001"]["status"] == "active"


# ------------------------------------------------------------------------------ flags


@pytest.mark.parametrize("until", ["2027-03-31", "2027-03-30", "2026-12-31"])
def test_flag_extension_not_after_the_current_expiry_is_refused(
    caseload: Spo, refuse: Refuse, until: str
) -> None:
    line = refuse(
        "flag", "review", "F-001", "--date", "2027-03-10", "--outcome", "extended", "--until", until
    )
    assert "--until" in line
    assert f"{until} is not after the current expiry (2027-03-31)" in line


def test_flag_extension_without_a_new_expiry_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse("flag", "review", "F-001", "--date", "2027-03-10", "--outcome", "extended")
    assert "--until" in line
    assert "an extension needs its new expiry" in line


@pytest.mark.today("2029-06-01")
def test_each_flag_extension_must_go_beyond_the_last(caseload: Spo, refuse: Refuse) -> None:
    extend = ("flag", "review", "F-001", "--outcome", "extended")
    caseload(*extend, "--date", "2027-03-10", "--until", "2028-03-31")
    assert flag_expiry(caseload, "F-001") == "2028-03-31"
    # Later than the first expiry is not enough: the bar is now the first extension's date.
    for until in ("2028-03-31", "2028-01-01"):
        line = refuse(*extend, "--date", "2028-03-10", "--until", until)
        assert "--until" in line
        assert f"{until} is not after the current expiry (2028-03-31)" in line
    caseload(*extend, "--date", "2028-03-10", "--until", "2028-04-01")
    assert flag_expiry(caseload, "F-001") == "2028-04-01"


@pytest.mark.today("2029-06-01")
def test_back_dated_flag_extension_cannot_put_the_flag_out_of_order(
    caseload: Spo, refuse: Refuse
) -> None:
    extend = ("flag", "review", "F-001", "--outcome", "extended")
    caseload(*extend, "--date", "2027-03-10", "--until", "2028-03-31")
    # Dated before the extension already recorded: in date order, that recorded extension
    # (to 2028-03-31) would then not be after this one's 2029-01-01.
    line = refuse(*extend, "--date", "2027-03-05", "--until", "2029-01-01")
    assert "--date" in line or "--until" in line
    assert "reviews[" not in line
    # And the flag can still be reviewed afterwards.
    caseload(*extend, "--date", "2028-03-10", "--until", "2029-03-31")
    assert flag_expiry(caseload, "F-001") == "2029-03-31"


# ------------------------------------------------------------------------------ renewal


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
@pytest.mark.today("2029-06-01")
def test_renewal_decline_with_an_empty_reason_is_refused(
    caseload: Spo, refuse: Refuse, reason: str
) -> None:
    line = refuse("renewal", "decline", "O-001", "--date", "2027-11-20", "--reason", reason)
    assert "--reason" in line
    assert "a decision not to renew must give its reason" in line
    caseload("renewal", "decline", "O-001", "--date", "2027-11-20", "--reason", "Subject deceased")


# ------------------------------------------------------------------------------ usage errors


def test_missing_required_option_is_a_one_line_usage_error(caseload: Spo, refuse: Refuse) -> None:
    line = refuse("order", "add", "S-001", "O-002", "--type", "full", "--until-further-order")
    assert "--made" in line
    assert "Missing option" in line


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (("order", "add", "S-001", "O-002", "--made", "2026-03-03", "--until-further-order"),
         "--type"),
        (("visit", "add", "S-001", "--date", "2026-03-05"), "--kind"),
        (("officer", "add", "om2@force.example", "--name", "Ali Khan"), "--role"),
    ],
    ids=["order-type", "visit-kind", "officer-role"],
)  # fmt: skip
def test_unknown_choice_is_refused_naming_the_option(
    caseload: Spo, refuse: Refuse, command: tuple[str, ...], option: str
) -> None:
    line = refuse(*command, option, "weekly")
    assert f"Invalid value for '{option}'" in line
    assert "'weekly' is not one of" in line


# ------------------------------------------------------------------------------ audit


def test_rejected_command_leaves_no_audit_entry(caseload: Spo, refuse: Refuse) -> None:
    refuse(*FULL_O002, "--made", "2026-03-03", "--expires", "2028-03-01")
    audit = caseload("audit", "O-002", "--json").json()
    assert isinstance(audit, dict)
    assert audit["entries"] == []
    # Nothing half-written blocks the reference either: the corrected command succeeds once.
    caseload(*FULL_O002, "--made", "2026-03-03", "--expires", "2028-03-02")
    audit = caseload("audit", "O-002", "--json").json()
    assert isinstance(audit, dict)
    assert [e["action"] for e in audit["entries"]] == ["order.add"]


def test_an_order_before_the_act_came_into_force_is_refused(caseload: Spo, refuse: Refuse) -> None:
    line = refuse(*FULL_O002, "--made", "2020-01-19", "--until-further-order")
    assert line == (
        "error: --made: 2020-01-19 is before the Stalking Protection Act 2019 came into force "
        "(2020-01-20): no order under it was made then"
    )
    caseload(*FULL_O002, "--made", "2020-01-20", "--until-further-order")  # its first day


@pytest.mark.today("2026-12-01")
def test_a_date_of_birth_in_the_future_is_refused(spo: Spo, refuse: Refuse) -> None:
    line = refuse("subject", "add", "S-9", "--name", "A B", "--dob", "2030-01-01")
    assert line == "error: --dob: 2030-01-01 is in the future (today is 2026-12-01)"
    spo("subject", "add", "S-9", "--name", "A B", "--dob", "1990-01-01")
    again = refuse("subject", "update", "S-9", "--dob", "2026-12-02", "--date", "2026-11-30")
    assert again == "error: --dob: 2026-12-02 is in the future (today is 2026-12-01)"
