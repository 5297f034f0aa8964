"""Imports read as a stream: many subjects, errors of every kind listed together up to a
limit, a hostile document stopped at the limit, subjects before officers, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spo_tracker.adapters.exchange import MAX_ERRORS, document, dumps
from spo_tracker.app.records import IMPORT_BATCH
from spo_tracker.core import record as d
from tests.conftest import Spo
from tests.support.documents import without_ids

pytestmark = pytest.mark.both_engines

OFFICERS = [
    d.Officer("ds@force.example", "Dee Sergeant", d.Role.SUPERVISOR, "North"),
    d.Officer(
        "om@force.example", "Omar Manager", d.Role.OFFENDER_MANAGER, "North", "ds@force.example"
    ),
]


def subjects(n: int) -> list[d.Subject]:
    return [
        d.Subject(
            f"S-{i:04d}",
            [d.NameEntry(f"Person {i}")],
            allocations=[d.Allocation("om@force.example")],
        )
        for i in range(n)
    ]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("error: import rejected")]


def test_a_streamed_import_of_several_batches_gives_the_record_it_was_exported_from(
    spo: Spo, tmp_path: Path
) -> None:
    text = dumps(document(OFFICERS, subjects(IMPORT_BATCH * 2 + 7)))
    path = tmp_path / "many.json"
    path.write_text(text)
    assert "imported 2 officers and 1007 subjects" in spo("import", str(path)).out
    assert without_ids(spo("export").json()) == without_ids(json.loads(text))


def test_errors_of_several_subjects_and_kinds_are_listed_together_with_their_paths(
    spo: Spo, tmp_path: Path, snapshot: Any
) -> None:
    doc: Any = json.loads(dumps(document(OFFICERS, subjects(4))))
    doc["subjects"][0]["shoe_size"] = 9  # the schema
    doc["subjects"][1]["orders"] = [  # the record's own checks
        {
            "reference": "O-1",
            "type": "full",
            "made": "2026-03-03",
            "expires": "2026-01-01",
            "court": "Leeds MC",
        }
    ]
    doc["subjects"][3]["reference"] = "S-0002"  # a reference used twice
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    before = snapshot()
    err = spo("import", str(path), code=2).err
    lines = error_lines(err)
    assert "error: subjects[0]: unknown field ('shoe_size' was unexpected)" in lines
    assert any(line.startswith("error: subjects[1].orders[0].expires: ") for line in lines), err
    assert "error: subjects[3].reference: subject S-0002 already exists" in lines
    last = f"error: import rejected: {len(lines)} error(s), nothing imported"
    assert err.splitlines()[-1] == last
    assert snapshot() == before  # the valid subjects were not imported either


def test_an_error_after_batches_were_written_rolls_back_the_whole_import(
    spo: Spo, tmp_path: Path, snapshot: Any
) -> None:
    doc: Any = json.loads(dumps(document(OFFICERS, subjects(IMPORT_BATCH + 20))))
    doc["subjects"][-1]["allocations"][0]["officer"] = "nobody@force.example"
    path = tmp_path / "late-error.json"
    path.write_text(json.dumps(doc))
    before = snapshot()
    err = spo("import", str(path), code=2).err
    assert f"error: subjects[{IMPORT_BATCH + 19}].allocations[0].officer: " in err
    assert snapshot() == before  # the first batch of 500, written, went with the rest
    assert spo("import", str(path), "--dry-run", code=2).err == err


def test_errors_stop_at_the_limit_with_their_paths(spo: Spo, tmp_path: Path) -> None:
    doc: Any = json.loads(dumps(document(OFFICERS, subjects(2))))
    doc["subjects"] += [{"reference": f"S-X{i}", "names": "none"} for i in range(500)]
    path = tmp_path / "many-errors.json"
    path.write_text(json.dumps(doc))
    err = spo("import", str(path), code=2).err
    lines = error_lines(err)
    assert len(lines) == MAX_ERRORS
    assert lines[0] == "error: subjects[2].names: 'none' is not of type 'array'"
    assert lines[-1] == f"error: subjects[{MAX_ERRORS + 1}].names: 'none' is not of type 'array'"
    assert err.splitlines()[-1] == (
        f"error: import rejected: stopped after {MAX_ERRORS} errors (the rest of the file was "
        "not checked), nothing imported"
    )
    assert spo("subject", "list", "--json").json()["subjects"] == []  # type: ignore[index]


def test_a_million_empty_subjects_are_refused_at_the_error_limit(spo: Spo, tmp_path: Path) -> None:
    path = tmp_path / "million.json"
    head = '{"format":"spo-tracker","schema_version":1,"officers":[],"subjects":['
    path.write_text(head + ",".join(["{}"] * 1_000_000) + "]}")
    err = spo("import", str(path), code=2).err
    lines = error_lines(err)
    assert len(lines) == MAX_ERRORS
    assert lines[0] == "error: subjects[0]: 'reference' is a required property"
    # each empty subject lacks both required fields: the limit is reached at the 50th
    assert lines[-1] == f"error: subjects[{MAX_ERRORS // 2 - 1}]: 'names' is a required property"
    assert "stopped after 100 errors" in err.splitlines()[-1]


def test_a_document_with_its_subjects_before_its_officers_is_imported_the_same(
    spo: Spo, tmp_path: Path
) -> None:
    text = dumps(document(OFFICERS, subjects(3)))
    doc = json.loads(text)
    reordered = {"subjects": doc["subjects"], "format": doc["format"]}
    reordered |= {"officers": doc["officers"], "schema_version": doc["schema_version"]}
    path = tmp_path / "subjects-first.json"
    path.write_text(json.dumps(reordered))
    assert "imported 2 officers and 3 subjects" in spo("import", str(path)).out
    assert without_ids(spo("export").json()) == without_ids(doc)


def test_a_subject_before_its_officers_is_checked_against_them(spo: Spo, tmp_path: Path) -> None:
    doc: Any = json.loads(dumps(document(OFFICERS, subjects(2))))
    doc["subjects"][1]["allocations"][0]["officer"] = "nobody@force.example"
    path = tmp_path / "subjects-first.json"
    path.write_text(json.dumps({"subjects": doc.pop("subjects"), **doc}))
    err = spo("import", str(path), code=2).err
    [line] = error_lines(err)  # subject 0's officer was found, though read after it
    assert line.startswith("error: subjects[1].allocations[0].officer: ")
    assert "nobody@force.example" in line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"format":"spo-tracker","schema_version":1,"officers":[],'
            '"subjects":[{"reference":"S-1","reference":"S-2"}]}',
            "error: subjects[0]: not valid JSON: duplicate key 'reference'",
        ),
        (
            '{"format":"spo-tracker","schema_version":1,"officers":[],"subjects":[{"names":'
            + "[" * 100
            + "]" * 100
            + "}]}",
            "error: subjects[0]: not valid JSON: nested too deeply",
        ),
        (
            '{"format":"spo-tracker","schema_version":1,"officers":[],"subjects":[{}',
            "error: subjects[0]: not valid JSON: parse error: premature EOF",
        ),
    ],
)
def test_a_broken_subject_is_reported_with_its_path(
    spo: Spo, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    assert message in spo("import", str(path), code=2).err.splitlines()


def test_an_escaped_lone_surrogate_is_refused_not_read_as_a_question_mark(
    spo: Spo, tmp_path: Path
) -> None:
    doc: Any = json.loads(dumps(document(OFFICERS, subjects(2))))
    doc["subjects"][1]["names"][0]["name"] = "Person \ud800"
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(doc, ensure_ascii=True))
    err = spo("import", str(path), code=2).err
    assert "error: subjects[1]: contains a \\u escape that is not a valid character" in err
