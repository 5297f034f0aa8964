"""Import/export: the versioned JSON format, all-or-nothing, and exact round trips."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spo_tracker.adapters.exchange import SCHEMA_PATH, build_schema, document, dumps, to_json
from spo_tracker.core import record as d
from spo_tracker.core.dates import last_day_of_period
from tests.conftest import Spo, invoke
from tests.support.documents import without_ids

pytestmark = pytest.mark.both_engines  # the record behaves the same on SQLite and PostgreSQL

OFFICERS = [
    d.Officer("ds@force.example", "Dee Sergeant", d.Role.SUPERVISOR, "North"),
    d.Officer(
        "om@force.example", "Omar Manager", d.Role.OFFENDER_MANAGER, "North", "ds@force.example"
    ),
]
EMAILS = [o.email for o in OFFICERS]


def test_committed_schema_file_is_the_one_the_code_generates() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == build_schema()


def test_export_validates_against_the_schema_with_an_independent_validator(caseload: Spo) -> None:
    from jsonschema import Draft202012Validator

    doc = caseload("export").json()
    Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))
    assert list(Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).iter_errors(doc)) == []
    assert doc["format"] == "spo-tracker"
    assert doc["schema_version"] == 1


def test_export_to_file_is_owner_only(caseload: Spo, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    caseload("export", "-o", str(out))
    assert out.stat().st_mode & 0o077 == 0
    assert json.loads(out.read_text())["subjects"][0]["reference"] == "S-001"


def test_import_lists_every_error_with_its_path_and_imports_nothing(
    caseload: Spo, tmp_path: Path, snapshot: Any
) -> None:
    doc = without_ids(caseload("export").json())
    assert isinstance(doc, dict)
    doc["officers"] = []
    subject = doc["subjects"][0]
    subject["reference"] = "S-NEW"
    subject["orders"][0]["reference"] = "O-NEW"
    subject["orders"][0]["expires"] = "2026-01-01"  # before made 2026-03-03
    subject["flags"] = []
    subject["visits"] = [
        {"date": "2026-02-30", "kind": "routine", "officer": None, "outcome": None}
    ]
    good = json.loads(json.dumps(subject))
    good["reference"] = "S-OK"
    good["orders"] = []
    good["visits"] = []
    doc["subjects"] = [good, subject]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    before = snapshot()
    result = caseload("import", str(path), code=2)
    lines = result.err.splitlines()
    assert (
        "error: subjects[1].orders[0].expires: 2026-01-01 is before the order was made "
        "(2026-03-03)" in lines
    )
    assert any(
        line.startswith("error: subjects[1].visits[0].date: ") and "not a real date" in line
        for line in lines
    )
    assert lines[-1] == "error: import rejected: 2 error(s), nothing imported"
    assert snapshot() == before  # the valid subject S-OK was not imported either


def test_import_reports_schema_errors_by_path(spo: Spo, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "format": "spo-tracker",
                "schema_version": 1,
                "officers": [],
                "subjects": [
                    {
                        "reference": "S-1",
                        "names": [{"name": "A B"}],
                        "risk_levels": [{"level": "extreme"}],
                        "shoe_size": 9,
                    }
                ],
            }
        )
    )
    err = spo("import", str(path), code=2).err
    assert "error: subjects[0]: unknown field ('shoe_size' was unexpected)" in err
    assert "error: subjects[0].risk_levels[0].level: 'extreme' is not one of" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"format": "spo-tracker", "format": "x"}', "duplicate key 'format'"),
        ("[]", "is not of type 'object'"),
    ],
)
def test_import_refuses_malformed_files(spo: Spo, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert message in spo("import", str(path), code=2).err


def test_dry_run_validates_without_writing(caseload: Spo, tmp_path: Path, snapshot: Any) -> None:
    doc = without_ids(caseload("export").json())
    assert isinstance(doc, dict)
    doc["officers"], doc["subjects"][0]["reference"] = [], "S-002"
    doc["subjects"][0]["orders"][0]["reference"] = "O-002"
    doc["subjects"][0]["flags"][0]["reference"] = "F-002"
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(doc))
    before = snapshot()
    assert "valid" in caseload("import", str(path), "--dry-run").out
    assert snapshot() == before
    caseload("import", str(path))
    assert "S-002" in caseload("subject", "list", "--json").out


@pytest.mark.today("2029-06-01")
def test_export_import_export_is_identical_for_the_caseload(caseload: Spo, tmp_path: Path) -> None:
    caseload("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial")
    caseload("order", "vary", "O-001", "--date", "2026-09-01", "--expires", "2029-01-31")
    caseload(
        "flag",
        "review",
        "F-001",
        "--date",
        "2027-03-01",
        "--outcome",
        "extended",
        "--until",
        "2028-03-31",
    )
    first = caseload("export").out
    path = tmp_path / "first.json"
    path.write_text(first)
    other = tmp_path / "other.db"
    assert invoke("--db", str(other), "init").code == 0
    assert invoke("--db", str(other), "import", str(path)).code == 0
    assert invoke("--db", str(other), "export").out == first


# --------------------------------------------------------------------------- hypothesis

text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() == s and s.strip() != "")
# when things happened: never after today (a fact dated in the future is refused); the ends
# of orders and flags, computed from these, may well be
days = st.dates(min_value=date(2019, 1, 1), max_value=date(2025, 12, 31))
optional_text = st.none() | text


@st.composite
def orders(draw: st.DrawFn, prefix: str) -> list[d.Order]:
    result = []
    for i in range(draw(st.integers(0, 2))):
        made = max(draw(days), d.ACT_IN_FORCE)  # no order under the Act before it
        kind = draw(st.sampled_from(list(d.OrderType)))
        ufo = kind is d.OrderType.FULL and draw(st.booleans())
        extra = timedelta(days=draw(st.integers(0, 2000)))
        expires = (
            None
            if ufo
            else (
                last_day_of_period(made, 2) + extra
                if kind is d.OrderType.FULL
                else made + timedelta(days=1) + extra
            )
        )
        conditions = [
            d.Condition(
                draw(st.sampled_from(list(d.ConditionKind))),
                draw(text),
                draw(st.none() | st.just(min(made + timedelta(days=30), expires or date.max))),
            )
            for _ in range(draw(st.integers(0, 2)))
        ]
        result.append(
            d.Order(
                reference=f"{prefix}-O{i}",
                type=kind,
                made=made,
                served=draw(st.none() | st.just(made + timedelta(days=draw(st.integers(0, 9))))),
                expires=expires,
                until_further_order=ufo,
                court=draw(optional_text),
                conditions=conditions,
            )
        )
    return result


@st.composite
def subjects(draw: st.DrawFn, index: int) -> d.Subject:
    ref = f"S-{index}"
    first_expiry = flag_expiry = draw(days)
    reviews = []
    for _ in range(draw(st.integers(0, 2))):
        flag_expiry = flag_expiry + timedelta(days=draw(st.integers(1, 150)))
        reviews.append(
            d.FlagReview(flag_expiry - timedelta(days=10), d.FlagOutcome.EXTENDED, flag_expiry)
        )
    return d.Subject(
        reference=ref,
        names=[d.NameEntry(draw(text))]
        + [
            d.NameEntry(draw(text), d.NameKind.ALIAS, draw(st.none() | days))
            for _ in range(draw(st.integers(0, 2)))
        ],
        date_of_birth=draw(st.none() | days),
        domestic_abuse=draw(st.booleans()),
        pnc_ref=draw(optional_text),
        addresses=[
            d.AddressEntry(draw(text), draw(st.none() | days))
            for _ in range(draw(st.integers(0, 2)))
        ],
        risk_levels=[
            d.RiskEntry(draw(st.sampled_from(list(d.Risk))), draw(days))
            for _ in range(draw(st.integers(0, 2)))
        ],
        allocations=[
            d.Allocation(draw(st.sampled_from(EMAILS)), draw(days))
            for _ in range(draw(st.integers(0, 1)))
        ],
        orders=draw(orders(ref)),
        visits=[
            d.Visit(
                draw(days),
                draw(st.sampled_from(list(d.VisitKind))),
                draw(st.none() | st.sampled_from(EMAILS)),
                draw(optional_text),
            )
            for _ in range(draw(st.integers(0, 3)))
        ],
        breaches=[
            d.Breach(
                draw(days),
                draw(st.sampled_from(list(d.Offence))),
                draw(optional_text),
                draw(st.booleans()),
            )
            for _ in range(draw(st.integers(0, 2)))
        ],
        notifications=[
            d.Notification(
                draw(days),
                draw(st.lists(text, max_size=2)),
                draw(optional_text),
                draw(optional_text),
            )
            for _ in range(draw(st.integers(0, 1)))
        ],
        flags=[d.Flag(f"{ref}-F", first_expiry, reviews)] if draw(st.booleans()) else [],
        transfers=[
            d.Transfer(d.Direction.OUT, draw(days), draw(text), draw(st.booleans()))
            for _ in range(draw(st.integers(0, 1)))
        ],
        management_plans=[
            d.ManagementPlan(draw(days), draw(optional_text), draw(st.none() | st.integers(1, 366)))
            for _ in range(draw(st.integers(0, 1)))
        ],
        reviews=[
            d.Review(draw(days), "ds@force.example", draw(optional_text))
            for _ in range(draw(st.integers(0, 1)))
        ],
    )


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    return document(OFFICERS, [draw(subjects(i)) for i in range(count)])


def _canonical(doc: Any) -> Any:
    """Lists as multisets: the export may order events differently from the input."""
    if isinstance(doc, dict):
        return {k: _canonical(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return sorted((_canonical(v) for v in doc), key=lambda v: json.dumps(v, sort_keys=True))
    return doc


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    assert invoke("--db", str(path), "init").code == 0
    return path


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc=records())
def test_any_valid_record_survives_export_import_export(
    doc: dict[str, Any], template_db: Path, tmp_path: Path
) -> None:
    for name in ("a.db", "b.db"):
        shutil.copy(template_db, tmp_path / name)
    source = tmp_path / "in.json"
    source.write_text(dumps(doc))
    imported = invoke("--db", str(tmp_path / "a.db"), "import", str(source))
    assert imported.code == 0, imported.err
    first = invoke("--db", str(tmp_path / "a.db"), "export").out
    # nothing lost or altered (spo gave each fact its record id)
    assert _canonical(without_ids(json.loads(first))) == _canonical(without_ids(doc))
    again = tmp_path / "first.json"
    again.write_text(first)
    assert invoke("--db", str(tmp_path / "b.db"), "import", str(again)).code == 0
    assert invoke("--db", str(tmp_path / "b.db"), "export").out == first


def test_to_json_carries_the_record_id() -> None:
    visit = d.Visit(date(2026, 1, 1), id="S-1/visit-7")
    assert to_json(visit)["id"] == "S-1/visit-7"


def test_demo_caseload_imports_and_round_trips_exactly(spo: Spo) -> None:
    demo = Path(__file__).resolve().parents[2] / "data" / "demo" / "caseload.json"
    result = spo("import", str(demo))
    assert "imported 7 officers and 12 subjects" in result.out
    assert spo("export").out == demo.read_text()


def test_large_import_with_mixed_case_emails_is_stored_lower_case(spo: Spo, tmp_path: Path) -> None:
    officers = [d.Officer("OM@Force.Example", "Omar Manager", d.Role.OFFENDER_MANAGER)]
    subjects = [
        d.Subject(
            f"S-{i:04d}",
            [d.NameEntry(f"Person {i}")],
            allocations=[d.Allocation("om@FORCE.example")],
        )
        for i in range(250)
    ]
    path = tmp_path / "big.json"
    path.write_text(dumps(document(officers, subjects)))
    assert "imported 1 officers and 250 subjects" in spo("import", str(path)).out
    listed = spo("subject", "list", "--officer", "om@force.example", "--json").json()
    assert len(listed["subjects"]) == 250  # type: ignore[index]
    assert spo("officer", "list", "--json").json()["officers"][0]["email"] == "om@force.example"  # type: ignore[index]


def test_an_import_of_a_file_that_is_not_there_or_is_a_folder_says_which(
    spo: Spo, tmp_path: Path
) -> None:
    missing = spo("import", str(tmp_path / "nope.json"), code=2)
    assert missing.err == f"error: file: cannot read {tmp_path / 'nope.json'}: no such file\n"
    folder = spo("import", str(tmp_path), code=2)
    assert "not a regular file (a folder, a pipe or a device)" in folder.err


@pytest.mark.today("2026-12-01")
def test_an_import_with_a_date_of_birth_in_the_future_names_it(spo: Spo, tmp_path: Path) -> None:
    document = {
        "format": "spo-tracker",
        "schema_version": 1,
        "officers": [],
        "subjects": [
            {"reference": "S-9", "names": [{"name": "A B"}], "date_of_birth": "2030-05-05"}
        ],
    }
    path = tmp_path / "future.json"
    path.write_text(json.dumps(document))
    refused = spo("import", str(path), code=2)
    assert "error: subjects[0].date_of_birth: 2030-05-05 is in the future" in refused.err
