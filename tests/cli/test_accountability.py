"""Who saw, changed and sent what (Data Protection Act 2018 s62): the access log of every
operation on personal data with its purpose, ``spo audit access`` to query it, the hash
chains ``spo audit verify`` checks, the acting user checked, and what each officer may see.
Access control is on here, as installed (the other tests turn it off: conftest)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import time_machine

from spo_tracker.config import load_settings
from tests.conftest import Spo

DS = "ds1@force.example"  # supervises om1, team North (the caseload fixture)
OM = "om1@force.example"
OTHER_OM = "om2@force.example"  # team South
SCU = "scu1@force.example"


@pytest.fixture
def controlled(caseload: Spo, monkeypatch: pytest.MonkeyPatch) -> Spo:
    """The caseload (S-001 is om1's, team North), a South officer's subject S-002, an
    unallocated S-003 and an SCU officer; then access control as installed."""
    caseload("officer", "add", SCU, "--name", "Coordinator", "--role", "scu")
    caseload("officer", "add", OTHER_OM, "--name", "Other", "--role", "offender-manager",
             "--team", "South")  # fmt: skip
    caseload("subject", "add", "S-002", "--name", "Pat South", "--officer", OTHER_OM)
    caseload("subject", "add", "S-003", "--name", "Una Allocated")
    monkeypatch.delenv("SPO_ACCESS_CONTROL")
    monkeypatch.delenv("SPO_RESTRICT_SENSITIVE")
    monkeypatch.setenv("SPO_USER", SCU)
    return caseload


def access(spo: Spo, *args: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = spo("audit", "access", "--json", *args, "--as", SCU).json()[
        "entries"
    ]  # type: ignore[index]
    return entries


def last(spo: Spo, what: str) -> dict[str, Any]:
    return [e for e in access(spo) if e["what"] == what][-1]


def test_access_control_is_on_unless_a_deployment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPO_ACCESS_CONTROL", raising=False)
    monkeypatch.delenv("SPO_CONFIG", raising=False)
    settings = load_settings()
    assert (settings.access_control, settings.require_purpose) == (True, False)
    assert settings.service_account == "spo-service"


# ------------------------------------------------------------------------------ the log


def test_each_consultation_is_logged_with_who_which_subjects_and_the_purpose(
    controlled: Spo,
) -> None:
    spo = controlled
    spo("show", "S-001", "--as", OM)
    spo("plan", "S-001", "--as", OM, "--purpose", "preparing the home visit")
    spo("due", "--as", OM, "--as-of", "2026-03-04")
    shown = last(spo, "spo show")
    assert (shown["operation"], shown["actor"], shown["subjects"]) == (
        "consultation",
        OM,
        ["S-001"],
    )
    assert shown["purpose"] == "case management"
    assert last(spo, "spo plan")["purpose"] == "preparing the home visit"
    due = last(spo, "spo due")
    assert due["operation"] == "consultation"
    assert due["subjects"] == ["S-001"]


def test_writes_are_logged_as_collection_and_alteration_and_an_import_as_combination(
    controlled: Spo,
) -> None:
    spo = controlled
    spo("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial", "--as", OM)
    spo("correct", "S-001/visit-1", "--date", "2026-03-04", "--reason", "wrong day", "--as", OM)
    added = last(spo, "visit.add")
    assert (added["operation"], added["actor"], added["subjects"]) == ("collection", OM, ["S-001"])
    corrected = last(spo, "record.correct")
    assert corrected["operation"] == "alteration"
    assert corrected["subjects"] == ["S-001"]
    imported = [e for e in access(spo) if e["operation"] == "combination"]
    assert imported == []  # nothing imported yet


def test_an_export_is_a_disclosure_of_every_subject_and_may_be_required_to_say_why(
    controlled: Spo, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = controlled
    spo("export", "--as", SCU)
    exported = last(spo, "spo export")
    assert exported["operation"] == "disclosure"
    assert exported["subjects"] == ["S-001", "S-002", "S-003"]
    monkeypatch.setenv("SPO_REQUIRE_PURPOSE", "true")
    refused = spo("export", "--as", SCU, code=2)
    assert refused.err.startswith("error: --purpose:")
    assert refused.out == ""
    spo("export", "--as", SCU, "--purpose", "court disclosure R v Smith")
    assert last(spo, "spo export")["purpose"] == "court disclosure R v Smith"


@pytest.mark.parametrize("bad", ["", "   ", "two\nlines", "x" * 501])
def test_a_purpose_is_one_line_of_text(controlled: Spo, bad: str) -> None:
    result = controlled("show", "S-001", "--purpose", bad, code=2)
    assert result.err.startswith("error: --purpose:")
    assert len(result.err.splitlines()) == 1


def test_audit_access_answers_who_looked_at_a_subject_in_a_period(controlled: Spo) -> None:
    spo = controlled
    spo("show", "S-001", "--as", OM)
    spo("show", "S-002", "--as", OTHER_OM)
    mine = access(spo, "--subject", "S-001", "--operation", "consultation")
    assert {e["actor"] for e in mine} == {OM}
    assert all("S-001" in e["subjects"] for e in mine)
    by_actor = access(spo, "--actor", OTHER_OM)
    assert by_actor
    assert {e["actor"] for e in by_actor} == {OTHER_OM}
    assert access(spo, "--from", "2000-01-01", "--to", "2000-01-31") == []
    bad = spo("audit", "access", "--operation", "peeking", code=2)
    assert bad.err.startswith("error: --operation: unknown operation 'peeking'")
    csv = spo("audit", "access", "--csv", "--subject", "S-002").out.splitlines()
    assert csv[0].split(",")[:4] == ["id", "at", "actor", "operation"]
    assert len(csv) >= 2


def test_the_access_log_and_the_audit_are_the_scus(controlled: Spo) -> None:
    for args in (("audit", "access"), ("audit", "verify"), ("audit",), ("export",)):
        result = controlled(*args, "--as", DS, code=4)
        assert result.err.startswith(f"error: not permitted: {DS} may not")


# ------------------------------------------------------------------------------ the chain


def _db(spo: Spo) -> Path:
    import os

    return Path(os.environ["SPO_DB"])


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_log SET actor = 'someone' WHERE id = 3", "audit_log row 3: altered"),
        (
            "UPDATE audit_log SET after = '{}' WHERE id = 4",
            "audit_log row 4: its content was altered",
        ),
        ("DELETE FROM audit_log WHERE id = 2", "audit_log row 3: row 2 of the chain was removed"),
        (
            "INSERT INTO access_log (at, actor, operation, what, purpose, subjects, recipients, "
            "detail) VALUES ('2026-01-01 00:00:00', 'x', 'consultation', 'x', 'x', '[]', '[]', "
            "'{}')",
            "not sealed",
        ),
        ("UPDATE access_log SET purpose = 'nothing' WHERE id = 1", "access_log row 1: altered"),
    ],
)
def test_audit_verify_names_the_first_row_altered_inserted_or_removed(
    controlled: Spo, engine: str, tamper: str, expected: str
) -> None:
    if engine != "sqlite":
        pytest.skip("edits the SQLite file directly; PostgreSQL: test_postgres")
    spo = controlled
    spo("show", "S-001")
    assert spo("audit", "verify").out.strip().endswith("the hash chains are whole")
    with sqlite3.connect(_db(spo)) as conn:
        conn.execute(tamper)
    result = spo("audit", "verify", code=1)
    assert expected in result.err
    assert result.err.startswith("error: ")


def test_a_retention_purge_keeps_the_chain_whole(controlled: Spo) -> None:
    spo = controlled
    spo("order", "discharge", "O-001", "--date", "2026-04-01", "--subject-consents",
        "--police-consents", "--as", SCU)  # fmt: skip
    with time_machine.travel(dt.datetime(2033, 4, 2, 12, tzinfo=dt.UTC), tick=False):
        spo("retention", "purge", "--confirm", "--as", SCU)  # a purge is as of today
    assert spo("audit", "verify").code == 0
    erased = last(spo, "retention.purge")
    assert (erased["operation"], erased["actor"]) == ("erasure", SCU)
    assert "S-001" in erased["subjects"]


# ------------------------------------------------------------------------------ who acts


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("nobody@force.example", "is not an active officer's email"),
        ("om1@force.example\x1b[2J", "is not an acting user"),
        ("a" * 300, "is not an acting user"),
    ],
)
def test_the_acting_user_must_be_an_active_officer(controlled: Spo, actor: str, words: str) -> None:
    result = controlled("show", "S-001", "--as", actor, code=2)
    assert result.err.startswith("error: --as: ")
    assert words in result.err
    assert "\x1b" not in result.err
    assert len(result.err) < 400


def test_an_officer_who_left_no_longer_acts(controlled: Spo) -> None:
    spo = controlled
    spo("officer", "deactivate", OTHER_OM, "--as", SCU)
    result = spo("due", "--as", OTHER_OM, code=2)
    assert "is no longer an active officer" in result.err


def test_the_service_account_acts_for_the_service(controlled: Spo) -> None:
    assert controlled("due", "--all", "--as", "spo-service").code == 0


def test_a_new_database_is_started_by_anyone_until_an_officer_exists(
    spo: Spo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SPO_ACCESS_CONTROL")
    monkeypatch.setenv("SPO_USER", "root")
    spo("subject", "list", code=2)  # no officer yet: only the start-up commands
    spo("officer", "add", SCU, "--name", "Coordinator", "--role", "scu")
    result = spo("officer", "add", OM, "--name", "Late", "--role", "offender-manager", code=2)
    assert "'root' is not an active officer's email" in result.err
    spo("officer", "add", OM, "--name", "Sam", "--role", "offender-manager", "--as", SCU)


# ------------------------------------------------------------------------------ scope


def test_an_officer_sees_their_teams_subjects_and_unallocated_ones(controlled: Spo) -> None:
    spo = controlled
    listed = spo("subject", "list", "--json", "--as", OM).json()
    assert [s["reference"] for s in listed["subjects"]] == ["S-001", "S-003"]  # type: ignore[index]
    everyone = spo("subject", "list", "--json", "--as", SCU).json()
    assert [s["reference"] for s in everyone["subjects"]] == ["S-001", "S-002", "S-003"]  # type: ignore[index]
    supervisor = spo("subject", "list", "--json", "--as", DS).json()
    assert [s["reference"] for s in supervisor["subjects"]] == ["S-001", "S-003"]  # type: ignore[index]


@pytest.mark.parametrize(
    "args",
    [
        ("show", "S-002"),
        ("plan", "S-002"),
        ("visit", "add", "S-002", "--date", "2026-03-05", "--kind", "routine"),
        ("subject", "update", "S-002", "--risk", "high", "--date", "2026-03-05"),
    ],
)
def test_another_teams_subject_is_refused_and_the_refusal_audited(
    controlled: Spo, args: tuple[str, ...]
) -> None:
    spo = controlled
    before = spo("export").out
    result = spo(*args, "--as", OM, code=4)
    assert result.err == (
        f"error: not permitted: {OM} may not {'see' if args[0] in ('show', 'plan') else 'change'} "
        "S-002, who is not their team's (their team's subjects, unallocated ones, or the SCU)\n"
    )
    assert result.out == ""
    assert spo("export").out == before  # nothing written
    refused = [
        e for e in json.loads(spo("audit", "--json").out)["entries"] if e["action"] == "refused"
    ]
    assert (refused[-1]["actor"], refused[-1]["ref"]) == (OM, "S-002")


def test_lists_leave_out_another_teams_subjects(controlled: Spo) -> None:
    spo = controlled
    spo("order", "add", "S-002", "O-002", "--type", "full", "--made", "2026-03-03",
        "--until-further-order", "--as", SCU)  # fmt: skip
    everyone = spo("due", "--all", "--json", "--as-of", "2026-03-04", "--as", OM).json()
    assert {a["subject"] for a in everyone["actions"]} == {"S-001"}  # type: ignore[index]
    scu = spo("due", "--all", "--json", "--as-of", "2026-03-04", "--as", SCU).json()
    assert {a["subject"] for a in scu["actions"]} == {"S-001", "S-002"}  # type: ignore[index]


def test_the_access_log_keeps_its_rows_for_the_policys_years_and_still_verifies(
    controlled: Spo,
) -> None:
    spo = controlled
    spo("show", "S-001", "--as", OM)
    before = access(spo)
    assert any(e["what"] == "spo show" for e in before)
    # [retention] log_years = 6: a purge on 2033-01-01 removes rows older than 2027-01-01
    with time_machine.travel(dt.datetime(2033, 1, 1, 12, tzinfo=dt.UTC), tick=False):
        spo("retention", "purge", "--confirm", "--as", SCU)
    after = access(spo)
    assert not any(e["what"] == "spo show" for e in after)
    kept = {(e["at"], e["what"], e["actor"]) for e in after}
    assert kept.isdisjoint((e["at"], e["what"], e["actor"]) for e in before)
    pruned = next(
        e
        for e in json.loads(spo("audit", "--json").out)["entries"]
        if e["action"] == "retention.log"
    )
    assert pruned["after"]["removed"] >= len(before)
    spo("audit", "verify")
    spo("show", "S-001", "--as", OM)  # the chain goes on from where the purge left it
    spo("audit", "verify")


def test_the_chains_survive_a_backup_and_restore_and_an_export_and_import(
    controlled: Spo, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine != "sqlite":
        pytest.skip("spo backup is SQLite's; PostgreSQL: pg_dump")
    spo = controlled
    spo("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial", "--as", OM)
    spo("backup", str(tmp_path / "copy.db"))
    spo("show", "S-001", "--as", OM)
    spo("restore", str(tmp_path / "copy.db"), "--force")
    spo("audit", "verify")
    document = tmp_path / "record.json"
    spo("export", "-o", str(document))
    monkeypatch.setenv("SPO_DB", str(tmp_path / "fresh.db"))
    spo("init")
    spo("import", str(document))
    assert spo("audit", "verify").out.endswith("the hash chains are whole\n")
    combined = last(spo, "import")
    assert combined["operation"] == "combination"
    assert combined["subjects"] == ["S-001", "S-002", "S-003"]


def test_calendars_are_their_teams_too(controlled: Spo) -> None:
    spo = controlled
    spo("calendar", "export", "--officer", OM, "--as", OM)
    spo("calendar", "export", "--team", "North", "--as", DS)
    spo("calendar", "export", "--subject", "S-003", "--as", OM)  # unallocated
    for args in (
        ("--officer", OTHER_OM),
        ("--team", "South"),
        ("--all",),
        ("--subject", "S-002"),
    ):
        refused = spo("calendar", "export", *args, "--as", OM, code=4)
        assert refused.err.startswith(f"error: not permitted: {OM} may not")
        assert refused.out == ""
    spo("calendar", "token", "create", "--officer", OTHER_OM, "--as", OM, code=4)
    spo("calendar", "export", "--all", "--as", SCU)
    exported = last(spo, "spo calendar export")
    assert (exported["operation"], exported["actor"]) == ("disclosure", SCU)


def test_doctor_names_only_the_subjects_its_user_may_see_and_logs_them(controlled: Spo) -> None:
    def named(actor: str) -> set[str]:
        doc: Any = controlled("doctor", "--json", "--as", actor, code=1).json()
        return {p["subject"] for p in doc["problems"] if p.get("subject")}

    everyone = named(SCU)
    assert {"S-002", "S-003"} <= everyone  # neither has an order
    mine = named(OM)
    assert "S-002" not in mine  # team South's
    assert "S-003" in mine  # unallocated: everyone's to pick up
    [logged] = [e for e in access(controlled, "--actor", OM) if e["what"] == "spo doctor"]
    assert set(logged["subjects"]) == mine
    assert logged["operation"] == "consultation"
    assert logged["purpose"] == "administration"


def test_officers_are_added_and_deactivated_by_the_scu_or_their_teams_supervisor(
    controlled: Spo,
) -> None:
    spo = controlled

    def officers() -> dict[str, bool]:
        doc: Any = spo("officer", "list", "--json", "--as", SCU).json()
        return {o["email"]: o["active"] for o in doc["officers"]}

    before = officers()
    # an offender manager makes no accounts (an SCU one would do all that roles forbid them)
    made = spo("officer", "add", "evil@force.example", "--name", "Evil", "--role", "scu",
               "--as", OM, code=4)  # fmt: skip
    assert made.err.startswith(f"error: not permitted: {OM} may not add the officer")
    assert "(the SCU)" in made.err
    for email in (DS, OTHER_OM):
        gone = spo("officer", "deactivate", email, "--as", OM, code=4)
        assert "may not deactivate the officer" in gone.err
    assert spo("officer", "deactivate", OM, "--as", OTHER_OM, code=4).code == 4
    assert officers() == before
    refusals: Any = spo("audit", "--json").json()
    assert [e["after"]["what"] for e in refusals["entries"] if e["action"] == "refused"] == [
        "officer add",
        "officer deactivate",
        "officer deactivate",
        "officer deactivate",
    ]
    # a supervisor manages their own team; not the SCU's accounts, nor another team
    spo("officer", "add", "om5@force.example", "--name", "New", "--role", "offender-manager",
        "--team", "North", "--supervisor", DS, "--as", DS)  # fmt: skip
    spo("officer", "add", "scu2@force.example", "--name", "S", "--role", "scu", "--as", DS,
        code=4)  # fmt: skip
    spo("officer", "add", "om6@force.example", "--name", "S", "--role", "offender-manager",
        "--team", "South", "--as", DS, code=4)  # fmt: skip
    spo("officer", "deactivate", OTHER_OM, "--as", DS, code=4)
    spo("officer", "deactivate", "om5@force.example", "--as", DS)
    # the SCU manages everyone
    spo("officer", "add", "scu2@force.example", "--name", "S", "--role", "scu", "--as", SCU)
    spo("officer", "deactivate", OTHER_OM, "--as", SCU)
    after = officers()
    assert (after["om5@force.example"], after["scu2@force.example"], after[OTHER_OM]) == (
        False,
        True,
        False,
    )


def test_an_officer_cannot_take_another_teams_subject_by_allocating_it(controlled: Spo) -> None:
    taken = controlled("allocate", "S-002", "--officer", OM, "--date", "2026-03-10", "--as", OM,
                       code=4)  # fmt: skip
    assert taken.err.startswith(f"error: not permitted: {OM} may not allocate S-002")
    assert controlled("show", "S-002", "--as", OM, code=4).code == 4  # still South's
    refusals: Any = controlled("audit", "--json").json()
    assert [
        (e["ref"], e["after"]["what"]) for e in refusals["entries"] if e["action"] == "refused"
    ] == [("S-002", "allocate"), ("S-002", "see")]
    # an unallocated subject is anyone's to take on; their own team's subjects too
    controlled("allocate", "S-003", "--officer", OM, "--date", "2026-03-10", "--as", OM)
    controlled("show", "S-003", "--as", OM)


def test_a_review_is_a_supervisors_and_is_recorded_by_them(controlled: Spo) -> None:
    spo = controlled
    by_om = spo("review", "add", "S-001", "--date", "2026-03-20", "--by", OM, "--as", OM, code=2)
    assert by_om.err.startswith(f"error: --by: {OM} is an offender manager")
    for_ds = spo("review", "add", "S-001", "--date", "2026-03-20", "--by", DS, "--as", OM, code=4)
    assert for_ds.err.startswith(f"error: not permitted: {OM} may not record a review by {DS}")
    doc: Any = spo("show", "S-001", "--json", "--as", DS).json()
    assert doc["subject"]["reviews"] == []
    spo("review", "add", "S-001", "--date", "2026-03-20", "--by", DS, "--as", DS)
    spo(
        "review", "add", "S-001", "--date", "2026-03-21", "--by", DS, "--as", SCU
    )  # on their behalf
    doc = spo("show", "S-001", "--json", "--as", DS).json()
    assert [r["by"] for r in doc["subject"]["reviews"]] == [DS, DS]


def test_a_mail_preview_is_a_consultation_of_its_subject(controlled: Spo) -> None:
    spo = controlled
    spo("order", "add", "S-002", "O-002", "--type", "full", "--made", "2026-03-01",
        "--expires", "2028-03-01", "--as", OTHER_OM)  # fmt: skip
    theirs: Any = spo("plan", "S-002", "--json", "--as", OTHER_OM).json()
    other = theirs["actions"][0]["id"]
    refused = spo("mail", "preview", "reminder", "--action", other, "--as", OM, code=4)
    assert refused.err.startswith(f"error: not permitted: {OM} may not see S-002")
    # with no --action, the first action the user may see
    assert "S-002" not in spo("mail", "preview", "reminder", "--as", OM).out
    spo("mail", "preview", "reminder", "--action", other, "--as", OTHER_OM)
    logged = [e for e in access(spo) if e["what"] == "spo mail preview"]
    assert [(e["actor"], e["subjects"]) for e in logged] == [
        (OM, ["S-001"]),
        (OTHER_OM, ["S-002"]),
    ]


def test_a_breach_alert_preview_shows_the_breach_on_record(controlled: Spo) -> None:
    spo = controlled
    spo("breach", "add", "S-001", "--date", "2026-03-08", "--offence", "failure-to-notify",
        "--crime-ref", "CR-REAL-77", "--as", OM)  # fmt: skip
    plan: Any = spo("plan", "S-001", "--json", "--as", OM).json()
    [response] = [a for a in plan["actions"] if a["rule"] == "breach-response"]
    shown = spo("mail", "preview", "breach", "--action", response["id"], "--as", OM).out
    assert "CR-REAL-77" in shown
    assert "failure to notify (s11)" in shown
    assert "13/12345/26" not in shown  # the sample stays out of a real breach's preview


def test_a_backup_is_the_scus_and_is_logged_as_a_disclosure_to_its_file(
    controlled: Spo, tmp_path: Path
) -> None:
    spo = controlled
    target = tmp_path / "copy.db"
    refused = spo("backup", str(target), "--as", OM, code=4)
    assert refused.err.startswith(f"error: not permitted: {OM} may not back up the whole record")
    assert not target.exists()
    spo("backup", str(target), "--as", SCU)
    [logged] = [e for e in access(spo) if e["what"] == "spo backup"]
    assert logged["operation"] == "disclosure"
    assert logged["recipients"] == [str(target.resolve())]
    assert set(logged["subjects"]) == {"S-001", "S-002", "S-003"}


def test_a_restore_over_the_record_is_the_scus_and_the_restored_log_keeps_it(
    controlled: Spo, tmp_path: Path, db_path: Path
) -> None:
    spo = controlled
    copy = tmp_path / "copy.db"
    spo("backup", str(copy), "--as", SCU)
    spo("visit", "add", "S-001", "--date", "2026-03-09", "--as", OM)
    refused = spo("restore", str(copy), "--force", "--as", OM, code=4)
    assert "may not restore the database" in refused.err
    assert len(spo("show", "S-001", "--json", "--as", OM).json()["subject"]["visits"]) == 1
    spo("restore", str(copy), "--force", "--as", SCU)
    assert spo("show", "S-001", "--json", "--as", OM).json()["subject"]["visits"] == []
    [restored] = [e for e in access(spo) if e["what"] == "spo restore"]
    assert (restored["actor"], restored["operation"]) == (SCU, "alteration")
    assert restored["detail"]["from"] == str(copy.resolve())
    spo("audit", "verify")
    # onto a new path (a new machine): the database runs with WAL, as one spo creates
    fresh = tmp_path / "new" / "spo.db"
    spo("--db", str(fresh), "restore", str(copy), "--as", SCU)
    with sqlite3.connect(fresh) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    spo("--db", str(fresh), "show", "S-002", "--as", OM, code=4)  # refused, not "locked"


@pytest.mark.parametrize(
    ("table", "tamper"),
    [
        (
            "access_log",
            "INSERT INTO access_log (at, actor, operation, what, purpose, subjects, recipients, "
            "detail) VALUES ('2026-01-01 00:00:00', 'forged@x', 'consultation', 'spo show', 'x', "
            "'[\"S-003\"]', '[]', '{}')",
        ),
        (
            "audit_log",
            "INSERT INTO audit_log (at, actor, action, entity, subject_ref, ref, after) VALUES "
            "('2026-01-01 00:00:00', 'forged@x', 'visit.add', 'visit', 'S-001', 'S-001', '{}')",
        ),
        (
            "access_log",
            "UPDATE access_log SET actor = 'someone.else@x', seq = NULL, hash = NULL "
            "WHERE id = (SELECT max(id) FROM access_log)",
        ),
    ],
)
def test_a_row_put_in_outside_spo_is_never_sealed_by_the_next_command(
    controlled: Spo, table: str, tamper: str
) -> None:
    spo = controlled  # on SQLite (this module's engine): the test edits the file directly
    spo("show", "S-001")
    spo("visit", "add", "S-001", "--date", "2026-03-09")
    with sqlite3.connect(_db(spo)) as conn:
        conn.execute(tamper)
    assert "not sealed" in spo("audit", "verify", code=1).err
    # reads and writes go on, each sealing its own rows only: the break is still named
    spo("show", "S-001")
    spo("visit", "add", "S-001", "--date", "2026-03-10")
    still = spo("audit", "verify", code=1).err
    assert f"{table} row" in still
    assert "not sealed" in still


def test_cutting_the_oldest_rows_behind_a_forged_anchor_is_named(controlled: Spo) -> None:
    spo = controlled  # on SQLite (this module's engine): the test edits the file directly
    for _ in range(3):
        spo("show", "S-001")
    with sqlite3.connect(_db(spo)) as conn:
        cut = conn.execute(
            "SELECT seq, hash FROM access_log ORDER BY seq LIMIT 1 OFFSET 2"
        ).fetchone()
        conn.execute(
            "INSERT OR REPLACE INTO service_state (name, value, updated_at) "
            "VALUES ('chain-anchor:access_log', ?, '2026-12-01 17:00:00')",
            (f"{cut[0]}:{cut[1]}",),
        )
        conn.execute("DELETE FROM access_log WHERE seq <= ?", (cut[0],))
    broken = spo("audit", "verify", code=1).err
    assert f"access_log the chain: its first {cut[0]} row(s) are gone" in broken


def test_the_compliance_report_is_for_supervisors_of_their_team_and_the_scu(
    controlled: Spo,
) -> None:
    spo = controlled
    spo("order", "add", "S-002", "O-002", "--type", "full", "--made", "2026-03-01",
        "--expires", "2028-03-01", "--as", OTHER_OM)  # fmt: skip
    period = ("report", "compliance", "--from", "2026-01-01", "--to", "2026-12-31", "--json")
    refused = spo(*period, "--as", OM, code=4)
    assert refused.err.startswith(f"error: not permitted: {OM} may not see the compliance report")
    other_team = spo(*period, "--team", "South", "--as", DS, code=4)
    assert "of team South" in other_team.err
    mine: Any = spo(*period, "--as", DS).json()
    assert mine["team"] == "North"  # a supervisor's own team, unasked
    assert OM in {g["name"] for g in mine["rows"] if g["group"] == "officer"}
    assert OTHER_OM not in {g["name"] for g in mine["rows"] if g["group"] == "officer"}
    force: Any = spo(*period, "--as", SCU).json()
    assert {OM, OTHER_OM} <= {g["name"] for g in force["rows"] if g["group"] == "officer"}


def test_the_force_calendar_is_supervision_and_names_its_purpose_when_required(
    controlled: Spo, monkeypatch: pytest.MonkeyPatch
) -> None:
    spo = controlled
    spo("calendar", "export", "--all", "--as", SCU)
    [logged] = [e for e in access(spo) if e["what"] == "spo calendar export"]
    assert logged["purpose"] == "supervision"
    monkeypatch.setenv("SPO_REQUIRE_PURPOSE", "true")
    refused = spo("calendar", "export", "--all", "--as", SCU, code=2)
    assert "--purpose" in refused.err
    spo("calendar", "export", "--all", "--as", SCU, "--purpose", "force review")
    spo("calendar", "export", "--officer", OM, "--as", OM)  # one officer's: no purpose needed


def test_show_with_its_history_is_one_consultation(controlled: Spo) -> None:
    before = len(access(controlled))
    controlled("show", "S-001", "--history", "--as", OM)
    rows = access(controlled)
    # one row for the read (the access log's own read by the SCU comes after it)
    shown = [e for e in rows[before:] if e["actor"] == OM]
    assert [(e["what"], e["subjects"]) for e in shown] == [("spo show --history", ["S-001"])]
